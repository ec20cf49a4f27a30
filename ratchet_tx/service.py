# -*- test-case-name: tests.test_service -*-
"""
A Twisted service that serves one L{Server} on several endpoints and closes
its clients gracefully when stopped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import MultiService

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IReactorTime, IStreamServerEndpoint

    from ratchet_tx.server import Server


class ServerService(MultiService):
    """
    Listen on every endpoint with C{server}; on C{stopService} stop listening,
    then close every client (WebSocket clients get 1001 "going away") and
    wait up to C{shutdownTimeout} seconds for them to go.

    @ivar server: the L{Server} being served.
    """

    def __init__(
        self,
        server: Server,
        endpoints: Iterable[IStreamServerEndpoint],
        shutdownTimeout: float = 5.0,
        clock: IReactorTime | None = None,
    ) -> None:
        super().__init__()
        self.server = server
        self.shutdownTimeout = shutdownTimeout
        self._clock = clock
        for endpoint in endpoints:
            listener = StreamServerEndpointService(endpoint, server)
            # A port we cannot bind should stop twistd with the error, not
            # leave it running without listening.
            listener._raiseSynchronously = True
            listener.setServiceParent(self)

    def stopService(self) -> Deferred[None]:
        stopped = super().stopService()
        stopped.addCallback(
            lambda _: self.server.closeAll(self.shutdownTimeout, self._clock)
        )
        return stopped
