# -*- test-case-name: tests.workers.test_workers -*-
"""
The service C{twistd ratchet --workers N} runs: hold the ports, run the
workers on them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError

from ratchet_tx.workers.listen import PortReservation
from ratchet_tx.workers.supervisor import WorkerSupervisor


class WorkersService(Service):
    """
    Reserve the port of every listener (as root, if twistd was started so:
    C{privilegedStartService}), then run a L{WorkerSupervisor} whose workers
    listen there too; on stop, stop the workers, then let go of the ports.

    @ivar reservations: one L{PortReservation} per listener.
    @ivar supervisor: the supervisor, once started.
    """

    def __init__(
        self,
        descriptions: Sequence[str],
        count: int,
        command: Callable[[list[str]], Sequence[str]],
        reactor: Any,
        shutdownTimeout: float = 5.0,
        listenFailed: Callable[[str, CannotListenError], Exception] | None = None,
    ) -> None:
        """
        @param command: makes a worker's command line from the listeners it
            is to share (L{PortReservation.workerDescription}).
        @param listenFailed: makes the exception that reports a port the
            supervisor cannot reserve (C{CannotListenError} by default).
        """
        self.reservations = [PortReservation(description) for description in descriptions]
        self.count = count
        self.supervisor: WorkerSupervisor | None = None
        self._command = command
        self._reactor = reactor
        self._shutdownTimeout = shutdownTimeout
        self._listenFailed = listenFailed
        self._reserved = False

    def privilegedStartService(self) -> None:
        if self._reserved:
            return
        for reservation in self.reservations:
            try:
                reservation.reserve()
            except CannotListenError as e:
                self._release()
                if self._listenFailed is None:
                    raise
                raise self._listenFailed(reservation.description, e) from None
        self._reserved = True

    def startService(self) -> None:
        self.privilegedStartService()
        super().startService()
        shared = [reservation.workerDescription() for reservation in self.reservations]
        self.supervisor = WorkerSupervisor(
            self.count,
            lambda: self._command(shared),
            self._reactor,
            shutdownTimeout=self._shutdownTimeout,
        )
        self.supervisor.startService()

    def stopService(self) -> Deferred[None]:
        super().stopService()
        assert self.supervisor is not None
        stopped = self.supervisor.stopService()
        stopped.addBoth(self._releasing)
        return stopped

    def _releasing(self, result: Any) -> Any:
        self._release()
        return result

    def _release(self) -> None:
        for reservation in self.reservations:
            reservation.release()
        self._reserved = False
