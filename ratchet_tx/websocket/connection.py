# -*- test-case-name: tests.websocket.test_handshake_layer,tests.websocket.test_frames_layer -*-
"""
One server-side WebSocket connection: the adapter of L{adapter} with the
opening handshake's policy -- origins, admission (connection limits), the
sub-protocol, the application's C{onHandshake} hook (which may answer later)
-- and what the handshake told us (path, headers, cookies, origin).
"""

from __future__ import annotations

from inspect import iscoroutine
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import ISSLTransport
from twisted.logger import Logger
from twisted.python.failure import Failure

from ratchet_tx.websocket.adapter import ProtocolConnection
from ratchet_tx.websocket.codecs.errors import HandshakeError
from ratchet_tx.websocket.codecs.handshake import Opening
from ratchet_tx.websocket.codecs.http import Headers, Request
from ratchet_tx.websocket.framing import Framings, Role
from ratchet_tx.websocket.protocol import CONNECTING, HANDSHAKE, OPEN, WebSocketProtocol

if TYPE_CHECKING:
    from twisted.internet.interfaces import IAddress, IReactorTime

    from ratchet_tx.interfaces import IApplication, IConnection
    from ratchet_tx.websocket.settings import Settings

log = Logger()


class ServingLayer(Protocol):
    """What a L{WebSocketConnection} needs of the layer that serves it."""

    app: IApplication
    settings: Settings
    framings: Framings

    @property
    def clock(self) -> IReactorTime: ...

    @property
    def onHandshake(self) -> Any: ...

    def admit(self, host: str) -> None: ...

    def release(self, host: str) -> None: ...

    def connectionOpened(self, conn: WebSocketConnection) -> None: ...

    def connectionClosed(self, conn: WebSocketConnection) -> None: ...


class WebSocketConnection(ProtocolConnection):
    """
    A connection to a WebSocket client, as a server's application sees it.

    @ivar subprotocol: the sub-protocol chosen: by the layer's settings, and
        the C{onHandshake} hook may change it before the connection opens.
    """

    __slots__ = ("_admittedAs", "_clientAddress", "subprotocol")

    def __init__(self, wrapped: IConnection, layer: ServingLayer) -> None:
        settings = layer.settings
        protocol = WebSocketProtocol(
            Role.SERVER,
            maxHandshakeSize=settings.maxHandshakeSize,
            maxFrameSize=settings.maxFrameSize,
            maxMessageSize=settings.maxMessageSize,
            versions=settings.versions,
            framings=layer.framings,
        )
        super().__init__(wrapped, protocol, layer)
        self._layer: ServingLayer = layer
        self._admittedAs: str | None = None
        self._clientAddress: IAddress | None = None
        self.subprotocol: str | None = None

    # What the handshake told us.

    @property
    def opening(self) -> Opening | None:
        """
        What the opening handshake said (C{None} until it arrived).  An open
        connection keeps only the bytes of the request head and parses them
        again if asked after C{onOpen}: an idle connection costs less.
        """
        return self._protocol.opening

    @property
    def request(self) -> Request | None:
        """The opening handshake's HTTP request."""
        opening = self.opening
        return None if opening is None else opening.request

    @property
    def path(self) -> str:
        """The request path, e.g. C{"/chat"}."""
        request = self.request
        return "" if request is None else request.path

    @property
    def query(self) -> str:
        """The query string of the request, without the C{?}."""
        request = self.request
        return "" if request is None else request.query

    @property
    def headers(self) -> Headers | None:
        """The request headers (case-insensitive)."""
        request = self.request
        return None if request is None else request.headers

    @property
    def cookies(self) -> dict[str, str]:
        """The cookies the client sent with the handshake."""
        request = self.request
        return {} if request is None else request.cookies

    @property
    def origin(self) -> str | None:
        """The origin the browser declared (C{Origin} or C{Sec-WebSocket-Origin})."""
        opening = self.opening
        return None if opening is None else opening.origin

    @property
    def remoteAddress(self) -> IAddress:
        """
        The client's address: the socket peer's, or (with trusted proxies)
        the one the proxies forwarded, with port 0.
        """
        if self._clientAddress is not None:
            return self._clientAddress
        return self.wrapped.remoteAddress

    def _ended(self) -> None:
        self._layer.connectionClosed(self)
        host, self._admittedAs = self._admittedAs, None
        if host is not None:
            self._layer.release(host)

    def _handshakeEvent(self, event: Any) -> None:
        if type(event) is Opening:
            self._handshakeReceived(event)
        elif type(event) is HandshakeError:
            self._logRefusal(event)

    # The opening handshake.

    def _handshakeReceived(self, opening: Opening) -> None:
        settings = self._layer.settings
        try:
            if not settings.originAllowed(opening.origin):
                raise HandshakeError(403, "origin not allowed")
            self._admit(opening.request)
            self.subprotocol = settings.chooseSubprotocol(opening.subprotocols)
        except HandshakeError as error:
            self._refuse(error)
            return
        hook = self._layer.onHandshake
        if hook is None:
            self._accept()
            return
        try:
            verdict = hook(self)
        except HandshakeError as error:
            self._refuse(error)
            return
        except Exception:
            self._hookFailed(Failure())
            return
        if iscoroutine(verdict):
            verdict = Deferred.fromCoroutine(verdict)
        if isinstance(verdict, Deferred):
            verdict.addCallbacks(lambda _: self._accept(), self._hookFailed)
        else:
            self._accept()

    def _admit(self, request: Request) -> None:
        peer = self.wrapped.remoteAddress
        peerHost = getattr(peer, "host", None)
        if peerHost is None:
            host = "unknown"  # a UNIX socket: every client shares one bucket
        else:
            host = self._layer.settings.clientHost(peerHost, request.headers.get("X-Forwarded-For"))
            if host != peerHost:
                kind = IPv6Address if ":" in host else IPv4Address
                self._clientAddress = kind("TCP", host, 0)
        self._layer.admit(host)
        self._admittedAs = host

    def _hookFailed(self, failure: Failure) -> None:
        if failure.check(HandshakeError):
            self._refuse(failure.value)
            return
        log.failure("onHandshake failed for {conn!r}", failure, conn=self)
        self._refuse(HandshakeError(500, "internal server error"))

    def _accept(self) -> None:
        protocol = self._protocol
        if protocol.state is not HANDSHAKE:
            return  # the connection went away while onHandshake ran
        try:
            response = protocol.accept(
                self.subprotocol, deflate=self._layer.settings.deflate, secure=self._isSecure()
            )
        except ValueError:
            # onHandshake chose a sub-protocol the client did not offer.
            self._hookFailed(Failure())
            return
        self._out.write(response)
        self._layer.connectionOpened(self)
        self._connectionOpened()
        # Most of an idle connection's memory would be the parsed request;
        # the head's bytes are enough to parse it again if ever asked.
        protocol.compact()
        if protocol.state is OPEN:
            self._receive(b"")  # what the client sent before it was accepted

    def _refuse(self, error: HandshakeError) -> None:
        if self._protocol.state is not HANDSHAKE and self._protocol.state is not CONNECTING:
            return
        self._logRefusal(error)
        self._write(self._protocol.refuse(error))
        self._settle()

    def _logRefusal(self, error: HandshakeError) -> None:
        log.info(
            "Refused WebSocket handshake from {conn!r}: {status} {reason}",
            conn=self,
            status=error.status,
            reason=error.reason,
        )

    def _isSecure(self) -> bool:
        secure = self._layer.settings.secure
        if secure is not None:
            return secure
        return ISSLTransport.providedBy(self.transportConnection.transport)
