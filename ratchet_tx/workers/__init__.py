"""
Several processes on one port: C{twistd ratchet --workers N}.

A supervisor process holds each C{tcp:} port and runs N workers, each a
C{twistd -n ratchet} with the same options, listening on the port with
C{SO_REUSEPORT} so that the kernel spreads connections over them
(L{ratchet_tx.workers.listen}); a worker that dies is started again after a
backoff (L{ratchet_tx.workers.backoff}); SIGTERM to the supervisor stops
every worker in order (each closes its clients, WebSocket ones with 1001);
a worker whose supervisor is gone stops by itself
(L{ratchet_tx.workers.watch}).  The workers' logs are relayed into the
supervisor's (L{ratchet_tx.workers.logs}).
"""

from ratchet_tx.workers.backoff import RestartBackoff
from ratchet_tx.workers.service import WorkersService
from ratchet_tx.workers.supervisor import WORKER_ENVIRONMENT, WorkerSupervisor

__all__ = ["WORKER_ENVIRONMENT", "RestartBackoff", "WorkerSupervisor", "WorkersService"]
