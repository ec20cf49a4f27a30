# -*- test-case-name: tests.test_web,tests.test_demo -*-
"""
Serve a WebSocket application at a path of an ordinary L{twisted.web} site,
so the web site and the WebSockets share one port::

    root = File("public/")
    root.putChild(b"chat", WebSocketResource(Chat()))
    serverFromString(reactor, "tcp:8080").listen(Site(root))

When a request to the resource asks for a WebSocket upgrade, the resource
takes the connection over from the web server: from then on every byte goes
to the WebSocket layer, which answers the handshake for whichever version the
client speaks (Hixie-76 included: its 8 key bytes follow the headers with no
C{Content-Length}, and are handed over, never parsed as HTTP).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from twisted.logger import Logger
from twisted.web.http import HTTPChannel
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from twisted.web.static import File

from ratchet_tx.connection import StreamTransport
from ratchet_tx.flow import FlowControl
from ratchet_tx.interfaces import IApplication
from ratchet_tx.server import Server
from ratchet_tx.websocket.layer import WebSocket

if TYPE_CHECKING:
    from twisted.web.server import Request

log = Logger()

UPGRADE_REQUIRED = 426


class WebSocketResource(Resource):
    """
    A L{Resource} that serves an application to WebSocket clients of every
    version.

    @param app: an L{IApplication}: a L{WebSocket} layer, or an application
        to wrap in one (built with C{settings}).
    @ivar serverFactory: the L{Server} that owns the upgraded connections (its
        C{closeAll} closes them, e.g. on shutdown).
    """

    isLeaf = True

    def __init__(
        self, app: IApplication, flow: FlowControl | None = None, **settings: Any
    ) -> None:
        """
        @param flow: how slow consumers are treated (L{FlowControl}).
        @param settings: for the L{WebSocket} layer, when C{app} is not one.
        """
        super().__init__()
        layer = app if isinstance(app, WebSocket) and not settings else WebSocket(app, **settings)
        self.layer = layer
        self.serverFactory = Server(layer, flow=flow)

    def render(self, request: Request) -> bytes | int:
        upgrade = (request.getHeader(b"upgrade") or b"").lower()
        channel = getattr(request, "channel", None)
        if b"websocket" not in upgrade or not isinstance(channel, HTTPChannel):
            request.setResponseCode(UPGRADE_REQUIRED, b"Upgrade Required")
            request.setHeader(b"upgrade", b"websocket")
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"This is a WebSocket endpoint; connect with a WebSocket client.\n"
        self._takeOver(request, channel)
        return NOT_DONE_YET

    def _takeOver(self, request: Request, channel: HTTPChannel) -> None:
        transport: StreamTransport = channel.transport  # type: ignore[assignment]
        protocol = self.serverFactory.buildProtocol(transport.getPeer())
        # twisted.web has no public API for handing a connection over to
        # another protocol, so this reaches inside HTTPChannel (tested with
        # the oldest and newest Twisted we support):
        #  - bytes that followed the request head in the same read reach
        #    channel.rawDataReceived right after this render returns, later
        #    reads reach channel.dataReceived, and bytes of earlier reads
        #    wait in channel._dataBuffer; all of them go to our protocol;
        #  - the channel is the transport's producer, and may have paused
        #    reading while it buffered: unregister it and resume reading.
        buffered = b"".join(channel._dataBuffer)
        channel._dataBuffer = []
        channel.setTimeout(None)
        channel.dataReceived = protocol.dataReceived  # type: ignore[method-assign]
        channel.rawDataReceived = protocol.dataReceived  # type: ignore[method-assign]
        channel.connectionLost = protocol.connectionLost  # type: ignore[method-assign]
        transport.unregisterProducer()
        transport.resumeProducing()
        protocol.makeConnection(transport)
        protocol.dataReceived(_requestHead(request) + buffered)


def _requestHead(request: Request) -> bytes:
    """The request line and headers of C{request}, as they came on the wire."""
    lines = [b"%s %s %s" % (request.method, request.uri, request.clientproto)]
    for name, values in request.requestHeaders.getAllRawHeaders():
        lines.extend(b"%s: %s" % (name, value) for value in values)
    lines.append(b"\r\n")
    return b"\r\n".join(lines)


class StaticFiles(File):
    """
    The files of a folder, for a web site beside WebSocket applications: no
    directory listings (a folder without an index is a 404), C{.html},
    C{.js} and C{.css} served as UTF-8, C{X-Content-Type-Options: nosniff},
    and any other headers given (such as a C{Content-Security-Policy}).

    @ivar headers: the extra headers of every response, the same for every
        file below.
    """

    contentTypes = {
        **File.contentTypes,
        ".html": "text/html; charset=utf-8",
        ".js": "text/javascript; charset=utf-8",
        ".css": "text/css; charset=utf-8",
    }

    def __init__(self, path: str, headers: Mapping[bytes, bytes] | None = None) -> None:
        """
        @param path: the folder.
        @param headers: extra response headers, name to value.
        """
        super().__init__(path)
        self.headers: dict[bytes, bytes] = {b"x-content-type-options": b"nosniff"}
        self.headers.update(headers or {})

    def createSimilarFile(self, path: str) -> StaticFiles:
        similar = StaticFiles(path, self.headers)
        similar.indexNames = self.indexNames[:]
        similar.processors = self.processors
        similar.childNotFound = self.childNotFound
        return similar

    def directoryListing(self) -> Resource:
        return self.childNotFound

    def render(self, request: Request) -> Any:
        for name, value in self.headers.items():
            request.setHeader(name, value)
        return super().render(request)
