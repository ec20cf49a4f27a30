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
from twisted.internet.defer import gatherResults

from ratchet_tx.server import Server

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import (
        IProtocolFactory,
        IReactorTime,
        IStreamServerEndpoint,
    )


class ServerService(MultiService):
    """
    Listen on every endpoint with C{factory}; on C{stopService} stop
    listening, then close the clients of every L{Server} in C{servers}
    (WebSocket clients get 1001 "going away") and wait up to
    C{shutdownTimeout} seconds for them to go.

    @param factory: what listens: a L{Server}, or a L{twisted.web.server.Site}
        with L{ratchet_tx.web.WebSocketResource}s in it.
    @param servers: the L{Server}s whose clients to close on shutdown;
        by default C{[factory]} when it is a L{Server}.
    """

    def __init__(
        self,
        factory: IProtocolFactory,
        endpoints: Iterable[IStreamServerEndpoint],
        shutdownTimeout: float = 5.0,
        clock: IReactorTime | None = None,
        servers: Iterable[Server] | None = None,
    ) -> None:
        super().__init__()
        if servers is None:
            servers = [factory] if isinstance(factory, Server) else []
        self.factory = factory
        self.servers = list(servers)
        self.shutdownTimeout = shutdownTimeout
        self._clock = clock
        for endpoint in endpoints:
            listener = StreamServerEndpointService(endpoint, factory)
            # A port we cannot bind should stop twistd with the error, not
            # leave it running without listening.
            listener._raiseSynchronously = True
            listener.setServiceParent(self)

    def stopService(self) -> Deferred[object]:
        stopped = super().stopService()
        stopped.addCallback(lambda _: self._closeClients())
        return stopped

    def _closeClients(self) -> Deferred[list[None]]:
        return gatherResults(
            [server.closeAll(self.shutdownTimeout, self._clock) for server in self.servers]
        )
