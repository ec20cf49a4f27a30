# -*- test-case-name: tests.workers.test_workers -*-
"""
A worker stops when its supervisor is gone.

The supervisor holds the write end of each worker's stdin; it closes when
the supervisor exits, however it exits (even by SIGKILL), and the worker
reads end-of-file: it then stops as on SIGTERM (its clients get 1001), so
that no orphaned worker keeps serving the port.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.application.service import Service
from twisted.internet import main
from twisted.internet.abstract import FileDescriptor
from twisted.logger import Logger
from twisted.python.failure import Failure

log = Logger()


class _StandardInput(FileDescriptor):
    """File descriptor 0, read only to see it end."""

    def __init__(self, reactor: Any, ended: Any) -> None:
        super().__init__(reactor)
        self._ended = ended

    def fileno(self) -> int:
        return 0

    def doRead(self) -> Any:
        try:
            data = os.read(0, 4096)
        except BlockingIOError:
            return None
        except OSError:
            return main.CONNECTION_LOST
        return None if data else main.CONNECTION_DONE

    def connectionLost(self, reason: Failure) -> None:
        self.stopReading()
        self.disconnected = True
        self._ended()

    def logPrefix(self) -> str:
        return "supervisor"


class SupervisorWatch(Service):
    """While running, stop the reactor once standard input ends."""

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor
        self._input: _StandardInput | None = None

    def startService(self) -> None:
        super().startService()
        os.set_blocking(0, False)
        self._input = _StandardInput(self._reactor, self._supervisorGone)
        self._input.startReading()

    def _supervisorGone(self) -> None:
        if self.running:
            log.warn("The supervisor is gone: stopping")
            self._reactor.stop()

    def stopService(self) -> None:
        super().stopService()
        if self._input is not None and not self._input.disconnected:
            self._input.stopReading()
        self._input = None
