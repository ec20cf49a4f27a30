# -*- test-case-name: tests.websocket.test_handshake_layer,tests.abuse.test_limits -*-
"""
C{WebSocket(app)}: the protocol layer that serves any L{IApplication} to
WebSocket clients of every version at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from zope.interface import implementer

from ratchet_tx.flashpolicy import PolicySniff
from ratchet_tx.interfaces import IApplication, IConnection
from ratchet_tx.websocket.codecs.closecodes import CloseCode
from ratchet_tx.websocket.codecs.errors import HandshakeError
from ratchet_tx.websocket.connection import WebSocketConnection
from ratchet_tx.websocket.framing import Framings, Role
from ratchet_tx.websocket.settings import Settings

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime
    from twisted.python.failure import Failure

    from ratchet_tx.websocket.codecs.flashpolicy import FlashPolicy

log = Logger()

#: Called with the connection once its opening handshake has arrived; may
#: raise (or return a Deferred that fails with)
#: L{ratchet_tx.websocket.HandshakeError} to refuse it with an HTTP status.
HandshakeHook = Callable[[WebSocketConnection], Any]


@implementer(IApplication)
class WebSocket:
    """
    Serve C{app} over WebSocket: RFC 6455, HyBi-10, HyBi-07, Hixie-76 and
    Hixie-75 clients, all on one port::

        Server(WebSocket(Chat()))
        Server(WebSocket(Chat(), maxMessageSize=4 * MiB, origins=["https://example.com"]))

    The application sees L{WebSocketConnection}s: C{send(str)} sends a text
    message, C{send(bytes)} a binary one, framed for each client's version.

    @param app: the application to serve.
    @param onHandshake: optional L{HandshakeHook}; by default the
        application's own C{onHandshake} method, if it has one.
    @param clock: the reactor's clock (for timeouts and pings); the global
        reactor by default.
    @param settings: a L{Settings}; or give its fields as keyword arguments.
        C{subprotocols} defaults to the application's C{subprotocols}
        attribute, if it has one.
    @param flashPolicy: a L{FlashPolicy} to answer Flash Player's
        C{<policy-file-request/>} with on this port (see
        L{ratchet_tx.flashpolicy.PolicySniff}); C{None} (the default): a
        connection that starts so is refused as a bad handshake.
    """

    def __init__(
        self,
        app: IApplication,
        *,
        onHandshake: HandshakeHook | None = None,
        clock: IReactorTime | None = None,
        settings: Settings | None = None,
        flashPolicy: FlashPolicy | None = None,
        **options: Any,
    ) -> None:
        if not IApplication.providedBy(app):
            raise TypeError(f"{app!r} does not provide IApplication")
        if settings is not None and options:
            raise TypeError("give either settings or their fields, not both")
        if settings is None:
            options.setdefault("subprotocols", getattr(app, "subprotocols", ()))
            settings = Settings.build(**options)
        self.app = app
        self.settings = settings
        self.onHandshake = (
            onHandshake if onHandshake is not None else getattr(app, "onHandshake", None)
        )
        self._clock = clock
        #: The frame formats of this layer's connections: a message sent to
        #: many of them is framed once per format.
        self.framings = Framings(Role.SERVER)
        self.flashPolicy = flashPolicy
        self._policyAnswer = None if flashPolicy is None else flashPolicy.render()
        # Every connection of this layer, open or not (one entry each: what
        # is open is asked of the connection, see connections).
        self._connections: dict[IConnection, WebSocketConnection | PolicySniff] = {}
        self._openCount = 0
        self._admitted = 0
        self._perAddress: dict[str, int] = {}
        self._heartbeat: LoopingCall | None = None

    @property
    def clock(self) -> IReactorTime:
        if self._clock is None:
            from twisted.internet import reactor

            self._clock = reactor
        return self._clock

    @property
    def connections(self) -> frozenset[WebSocketConnection]:
        """Every connection whose opening handshake has completed."""
        return frozenset(self._opened())

    def _opened(self) -> list[WebSocketConnection]:
        return [
            ws
            for ws in self._connections.values()
            if isinstance(ws, WebSocketConnection) and ws.opened
        ]

    # IApplication, as seen from the layer below (bytes).

    def onOpen(self, conn: IConnection) -> None:
        host = getattr(conn.remoteAddress, "host", None)
        if host is not None and self.settings.isBlocked(host):
            log.info("Dropping {conn!r}: its address is blocked", conn=conn)
            conn.abort()
            return
        ws = WebSocketConnection(conn, self)
        answer = self._policyAnswer
        self._connections[conn] = ws if answer is None else PolicySniff(ws, answer, self.sniffed)

    def onMessage(self, conn: IConnection, data: bytes) -> None:
        ws = self._connections.get(conn)
        if ws is not None:
            ws.dataReceived(data)

    def onClose(self, conn: IConnection) -> None:
        ws = self._connections.get(conn)
        if ws is not None:
            ws.connectionLost()

    def sniffed(self, ws: WebSocketConnection) -> None:
        """C{ws} is a WebSocket connection, not a policy request."""
        self._connections[ws.wrapped] = ws

    def onError(self, conn: IConnection, failure: Failure) -> None:
        # Errors of the application itself are routed to its own onError by
        # the connection; reaching here means this layer failed.
        log.failure("WebSocket layer failed on {conn!r}", failure, conn=conn)
        ws = self._connections.get(conn)
        try:
            if isinstance(ws, WebSocketConnection):
                ws.fail(CloseCode.INTERNAL_ERROR, "internal error")
            else:
                conn.close()
        except Exception:
            conn.abort()

    # Bookkeeping for the connections.

    def admit(self, host: str) -> None:
        """
        Count a connection from C{host} whose handshake arrived, or refuse it.

        @raise HandshakeError: 403 for a blocked address, 503 when the server
            is at C{maxConnections}, 429 when C{host} is at
            C{maxConnectionsPerAddress}.
        """
        settings = self.settings
        if settings.isBlocked(host):
            raise HandshakeError(403, "your address is blocked")
        if settings.maxConnections is not None and self._admitted >= settings.maxConnections:
            raise HandshakeError(503, "the server is at capacity", [("Retry-After", "5")])
        fromHost = self._perAddress.get(host, 0)
        limit = settings.maxConnectionsPerAddress
        if limit is not None and fromHost >= limit:
            raise HandshakeError(429, "too many connections from your address")
        self._admitted += 1
        self._perAddress[host] = fromHost + 1

    def release(self, host: str) -> None:
        """A connection L{admit}ted from C{host} is gone."""
        self._admitted -= 1
        remaining = self._perAddress[host] - 1
        if remaining:
            self._perAddress[host] = remaining
        else:
            del self._perAddress[host]

    def connectionOpened(self, ws: WebSocketConnection) -> None:
        """C{ws} completed its opening handshake (and is C{opened} next)."""
        self._openCount += 1
        if self._heartbeat is None:
            period = self.settings.heartbeatPeriod
            if period is not None:
                self._heartbeat = LoopingCall(self._beat)
                self._heartbeat.clock = self.clock
                self._heartbeat.start(period, now=False)

    def connectionClosed(self, ws: WebSocketConnection) -> None:
        """C{ws} is gone (and still C{opened} if it was)."""
        self._connections.pop(ws.wrapped, None)
        if ws.opened:
            self._openCount -= 1
        if not self._openCount and self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None

    def _beat(self) -> None:
        now = self.clock.seconds()
        for ws in self._opened():
            ws.heartbeat(now)
