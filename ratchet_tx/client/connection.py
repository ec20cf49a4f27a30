# -*- test-case-name: tests.client.test_connection -*-
"""
The client's side of a WebSocket connection: the adapter of
L{ratchet_tx.websocket.adapter} that sends the opening handshake, waits for
the server's answer, and reports how it went; and L{ClientWebSocket}, the
protocol layer that gives the client's application such connections.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.internet.error import TimeoutError
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ratchet_tx.interfaces import IApplication, IConnection
from ratchet_tx.websocket.adapter import ProtocolConnection
from ratchet_tx.websocket.codecs.clienthandshake import Accepted, ClientHandshake
from ratchet_tx.websocket.codecs.closecodes import CloseCode
from ratchet_tx.websocket.codecs.errors import HandshakeFailed
from ratchet_tx.websocket.codecs.http import Headers
from ratchet_tx.websocket.framing import Framings, Role
from ratchet_tx.websocket.protocol import CONNECTING, WebSocketProtocol

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime

    from ratchet_tx.websocket.settings import Settings

log = Logger()

#: The frame formats every client connection of the process shares (client
#: frames are masked, so there is nothing to cache; this saves the objects).
_CLIENT_FRAMINGS = Framings(Role.CLIENT)


class ClientConnection(ProtocolConnection):
    """
    A connection to a WebSocket server, as a client's application sees it.

    @ivar handshake: the opening handshake it sent.
    @ivar response: the server's accepting answer (its headers: C{Set-Cookie},
        ...), once it arrived.
    """

    __slots__ = ("_heartbeat", "handshake", "response")

    def __init__(
        self, wrapped: IConnection, layer: ClientWebSocket, handshake: ClientHandshake
    ) -> None:
        settings = layer.settings
        protocol = WebSocketProtocol(
            Role.CLIENT,
            maxHandshakeSize=settings.maxHandshakeSize,
            maxMessageSize=settings.maxMessageSize,
            maxFrameSize=settings.maxFrameSize,
            framings=_CLIENT_FRAMINGS,
        )
        super().__init__(wrapped, protocol, layer)
        self._layer: ClientWebSocket = layer
        self._heartbeat: LoopingCall | None = None
        self.handshake = handshake
        self.response: Any = None

    @property
    def url(self) -> str:
        """The URL connected to."""
        return str(self.handshake.url)

    @property
    def subprotocol(self) -> str | None:
        """The sub-protocol the server chose, or C{None}."""
        return self._protocol.subprotocol

    @property
    def headers(self) -> Headers | None:
        """The headers of the server's accepting answer (C{None} before it)."""
        return None if self.response is None else self.response.headers

    def start(self) -> None:
        """Send the opening handshake."""
        self._out.write(self._protocol.connect(self.handshake))

    def _handshakeEvent(self, event: Any) -> None:
        if type(event) is Accepted:
            self.response = event.response
            period = self._layer.settings.heartbeatPeriod
            if period is not None:
                self._heartbeat = LoopingCall(self._beat)
                self._heartbeat.clock = self._layer.clock
                self._heartbeat.start(period, now=False)
            self._connectionOpened()
            self._layer.opened(self)
        elif isinstance(event, HandshakeFailed):
            if self._layer.connected.called:
                return  # it failed already (timed out): the loss that follows says nothing new
            log.info("WebSocket handshake with {url} failed: {error}", url=self.url, error=event)
            self._layer.failed(self, Failure(event))

    def _beat(self) -> None:
        self.heartbeat(self._layer.clock.seconds())

    def _timedOut(self, what: str) -> None:
        if self._protocol.state is not CONNECTING:
            super()._timedOut(what)
            return
        # The opening handshake: one log line, as for every other way a
        # handshake fails, written before the caller hears of it.
        self._timer = None
        timeout = self._layer.settings.handshakeTimeout
        error = TimeoutError(f"the opening handshake with {self.url} took over {timeout} s")
        log.info("WebSocket handshake with {url} failed: {error}", url=self.url, error=error)
        self._layer.failed(self, Failure(error))
        self.wrapped.abort()

    def _ended(self) -> None:
        heartbeat, self._heartbeat = self._heartbeat, None
        if heartbeat is not None and heartbeat.running:
            heartbeat.stop()
        if not self._opened:
            self._layer.failed(self, None)


@implementer(IApplication)
class ClientWebSocket:
    """
    The protocol layer under a client's application: speaks the client side
    of WebSocket on a transport connection, and hands the application
    L{ClientConnection}s.  One layer serves one connection attempt (its
    C{connected} Deferred is that attempt's outcome).

    @ivar app: the application.
    @ivar settings: the WebSocket settings (limits, timeouts, deflate).
    @ivar connected: fires with the open L{ClientConnection} once the
        application's C{onOpen} ran, or fails with why the connection did
        not open (L{HandshakeRefused}, L{InvalidHandshakeResponse}, a
        L{twisted.internet.error.TimeoutError}, or the connection's own loss).
    """

    def __init__(
        self,
        app: IApplication,
        handshake: ClientHandshake,
        settings: Settings,
        clock: IReactorTime,
    ) -> None:
        if not IApplication.providedBy(app):
            raise TypeError(f"{app!r} does not provide IApplication")
        self.app = app
        self.settings = settings
        self.clock = clock
        self._handshake = handshake
        self._conn: ClientConnection | None = None
        self.connected: Deferred[ClientConnection] = Deferred()

    def opened(self, conn: ClientConnection) -> None:
        """C{conn} completed its handshake and the application knows it."""
        if not self.connected.called:
            self.connected.callback(conn)

    def failed(self, conn: ClientConnection, failure: Failure | None) -> None:
        """
        C{conn} will not open: its handshake failed (C{failure}), or it was
        lost before it opened (C{None}).
        """
        if self.connected.called:
            return
        if failure is None:
            failure = Failure(
                ConnectionError(f"the connection to {conn.url} ended during the handshake")
            )
        self.connected.errback(failure)

    # IApplication, as seen from the transport side (bytes).

    def onOpen(self, conn: IConnection) -> None:
        self._conn = ClientConnection(conn, self, self._handshake)
        self._conn.start()

    def onMessage(self, conn: IConnection, data: bytes) -> None:
        if self._conn is not None:
            self._conn.dataReceived(data)

    def onClose(self, conn: IConnection) -> None:
        ws, self._conn = self._conn, None
        if ws is not None:
            ws.connectionLost()

    def onError(self, conn: IConnection, failure: Failure) -> None:
        # The application's own errors go to its onError through the
        # connection; reaching here means this layer failed.
        log.failure("WebSocket client layer failed on {conn!r}", failure, conn=conn)
        ws = self._conn
        try:
            if ws is not None:
                ws.fail(CloseCode.INTERNAL_ERROR, "internal error")
            else:
                conn.close()
        except Exception:
            conn.abort()
