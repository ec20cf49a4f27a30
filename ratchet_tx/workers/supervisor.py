# -*- test-case-name: tests.workers.test_workers -*-
"""
The supervisor of C{twistd ratchet --workers N}: N worker processes, each a
C{twistd -n ratchet} of its own on the shared port, restarted when one dies,
and stopped in order with the supervisor.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from ratchet_tx.workers.backoff import RestartBackoff
from ratchet_tx.workers.logs import LogRelay

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall, IProcessTransport

log = Logger()

#: The environment variable that tells a worker its slot number (1 to N).
WORKER_ENVIRONMENT = "RATCHET_TX_WORKER"

#: Seconds a worker gets beyond the shutdown timeout to exit after SIGTERM
#: before it is killed (twistd's own shutdown, the last log lines).
EXIT_GRACE = 5.0


class _WorkerProtocol(ProcessProtocol):
    """One running worker: its output relayed, its end reported."""

    def __init__(self, supervisor: WorkerSupervisor, slot: int, startedAt: float) -> None:
        self.supervisor = supervisor
        self.slot = slot
        self.startedAt = startedAt
        self.relay: LogRelay | None = None
        self.pid: int | None = None

    def connectionMade(self) -> None:
        self.pid = self.transport.pid  # type: ignore[union-attr]
        self.relay = LogRelay(f"worker {self.slot}, pid {self.pid}")

    def outReceived(self, data: bytes) -> None:
        if self.relay is not None:
            self.relay.outReceived(data)

    def errReceived(self, data: bytes) -> None:
        if self.relay is not None:
            self.relay.errReceived(data)

    def processEnded(self, reason: Failure) -> None:
        if self.relay is not None:
            self.relay.flush()
        self.supervisor.workerEnded(self, reason)


def describeEnd(reason: Failure) -> str:
    """How a process ended, in words: C{exited with status 1}, C{killed by SIGKILL}."""
    value = reason.value
    if isinstance(value, ProcessDone):
        return "exited with status 0"
    if isinstance(value, ProcessTerminated):
        if value.signal is not None:
            try:
                name = signal.Signals(value.signal).name
            except ValueError:
                name = f"signal {value.signal}"
            return f"killed by {name}"
        return f"exited with status {value.exitCode}"
    return str(value)


class WorkerSupervisor(Service):
    """
    Run C{count} workers; start another in a dead one's place, after its
    slot's L{RestartBackoff}; on C{stopService}, send every worker SIGTERM
    (each closes its clients, WebSocket ones with 1001) and fire once all
    are gone, killing any still there C{shutdownTimeout + EXIT_GRACE}
    seconds later.

    @ivar count: how many workers run.
    @ivar command: makes a worker's command line (the executable first).
    @ivar workers: the running workers, by slot (1 to C{count}).
    """

    def __init__(
        self,
        count: int,
        command: Callable[[], Sequence[str]],
        reactor: Any,
        shutdownTimeout: float = 5.0,
        environment: Mapping[str, str] | None = None,
        backoff: Callable[[], RestartBackoff] = RestartBackoff,
    ) -> None:
        if count < 1:
            raise ValueError("count must be 1 or more")
        self.count = count
        self.command = command
        self.shutdownTimeout = shutdownTimeout
        self.workers: dict[int, _WorkerProtocol] = {}
        self._reactor = reactor
        self._environment = dict(os.environ if environment is None else environment)
        self._backoffs = {slot: backoff() for slot in range(1, count + 1)}
        self._restarts: dict[int, IDelayedCall] = {}
        self._stopping: Deferred[None] | None = None

    def startService(self) -> None:
        super().startService()
        self._stopping = None
        for slot in range(1, self.count + 1):
            self._start(slot)

    def _start(self, slot: int) -> None:
        self._restarts.pop(slot, None)
        worker = _WorkerProtocol(self, slot, self._reactor.seconds())
        argv = list(self.command())
        environment = {**self._environment, WORKER_ENVIRONMENT: str(slot)}
        self._reactor.spawnProcess(worker, argv[0], argv, env=environment)
        self.workers[slot] = worker
        log.info("Worker {slot} started (pid {pid})", slot=slot, pid=worker.pid)

    def workerEnded(self, worker: _WorkerProtocol, reason: Failure) -> None:
        """A worker process ended: log how, and start another unless stopping."""
        slot = worker.slot
        if self.workers.get(slot) is worker:
            del self.workers[slot]
        how = describeEnd(reason)
        if self._stopping is not None:
            log.info("Worker {slot} (pid {pid}) {how}", slot=slot, pid=worker.pid, how=how)
            if not self.workers:
                self._stopping.callback(None)
            return
        uptime = self._reactor.seconds() - worker.startedAt
        delay = self._backoffs[slot].delayAfter(uptime)
        log.warn(
            "Worker {slot} (pid {pid}) {how} after {uptime:.1f}s; restarting it in {delay:g}s",
            slot=slot,
            pid=worker.pid,
            how=how,
            uptime=uptime,
            delay=delay,
        )
        self._restarts[slot] = self._reactor.callLater(delay, self._start, slot)

    def stopService(self) -> Deferred[None]:
        super().stopService()
        for restart in self._restarts.values():
            restart.cancel()
        self._restarts.clear()
        stopped: Deferred[None] = Deferred()
        self._stopping = stopped
        if not self.workers:
            stopped.callback(None)
            return stopped
        for worker in list(self.workers.values()):
            _signal(worker.transport, "TERM")
        killer = self._reactor.callLater(self.shutdownTimeout + EXIT_GRACE, self._killStragglers)
        stopped.addBoth(_cancelled, killer)
        return stopped

    def _killStragglers(self) -> None:
        for worker in list(self.workers.values()):
            log.warn(
                "Worker {slot} (pid {pid}) did not stop in time: killing it",
                slot=worker.slot,
                pid=worker.pid,
            )
            _signal(worker.transport, "KILL")


def _signal(transport: IProcessTransport | None, name: str) -> None:
    if transport is None:
        return
    try:
        transport.signalProcess(name)
    except ProcessExitedAlready:
        pass


def _cancelled(result: object, call: IDelayedCall) -> object:
    if call.active():
        call.cancel()
    return result
