# -*- test-case-name: tests.websocket.test_frames_layer,tests.websocket.test_handshake_layer -*-
"""
One server-side WebSocket connection: the Twisted adapter around a
L{WebSocketProtocol}.

The protocol decides everything about bytes and states; this adapter gives
it the bytes read, writes what it returns, runs the clocks (the opening
handshake's timeout, the closing handshake's, the heartbeat's pings), calls
the application (and the C{onHandshake} hook, which may answer later), and
closes the transport when the protocol says so.  A message in::

    transport -> ServerProtocol.dataReceived -> WebSocket.onMessage
      -> WebSocketConnection.dataReceived -> WebSocketProtocol.receiveData
      -> app.onMessage(conn, message)

and out::

    SendMessage.execute -> WebSocketConnection.send -> WebSocketProtocol.send
      -> TransportConnection.send (held until the read is handled) -> transport
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from inspect import iscoroutine
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import ISSLTransport
from twisted.logger import Logger
from twisted.python.failure import Failure

from ratchet_tx.connection import ConnectionDecorator
from ratchet_tx.dispatch import carryOut, deliver, reportError
from ratchet_tx.websocket.codecs.closecodes import CloseCode
from ratchet_tx.websocket.codecs.errors import HandshakeError, ProtocolError
from ratchet_tx.websocket.codecs.events import Ping
from ratchet_tx.websocket.codecs.handshake import Opening, WebSocketVersion
from ratchet_tx.websocket.codecs.http import Headers, Request
from ratchet_tx.websocket.framing import Framings, Message, Role
from ratchet_tx.websocket.protocol import (
    CLOSING,
    HANDSHAKE,
    OPEN,
    InvalidState,
    State,
    WebSocketProtocol,
)

if TYPE_CHECKING:
    from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime

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


class WebSocketConnection(ConnectionDecorator):
    """
    A connection as a WebSocket application sees it: C{send} frames a C{str}
    as a text message and bytes as a binary one, in the client's version.

    @ivar subprotocol: the sub-protocol chosen: by the layer's settings, and
        the C{onHandshake} hook may change it before the connection opens.
    """

    __slots__ = (
        "_admittedAs",
        "_clientAddress",
        "_heard",
        "_lastHeard",
        "_layer",
        "_opened",
        "_out",
        "_pingSentAt",
        "_protocol",
        "_timer",
        "subprotocol",
    )

    def __init__(self, wrapped: IConnection, layer: ServingLayer) -> None:
        super().__init__(wrapped)
        self._layer = layer
        settings = layer.settings
        self._protocol = WebSocketProtocol(
            Role.SERVER,
            maxHandshakeSize=settings.maxHandshakeSize,
            maxFrameSize=settings.maxFrameSize,
            maxMessageSize=settings.maxMessageSize,
            versions=settings.versions,
            framings=layer.framings,
        )
        # Frames go straight to the socket's connection: data through send()
        # (subject to the slow-consumer policy), protocol bytes through
        # write() (never dropped).
        self._out = self.transportConnection
        self._admittedAs: str | None = None
        self._clientAddress: IAddress | None = None
        self._opened = False
        self._heard = False
        self._lastHeard = 0.0
        self._pingSentAt: float | None = None
        self.subprotocol: str | None = None
        self._timer: IDelayedCall | None = layer.clock.callLater(
            settings.handshakeTimeout, self._timedOut, "opening handshake"
        )

    # What the handshake told us.

    @property
    def protocol(self) -> WebSocketProtocol:
        """The connection's sans-I/O L{WebSocketProtocol}."""
        return self._protocol

    @property
    def phase(self) -> State:
        """Where the connection is in its life (L{State})."""
        return self._protocol.state

    @property
    def version(self) -> WebSocketVersion | None:
        """The protocol version the client speaks (C{None} before the handshake)."""
        return self._protocol.version

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
    def extensions(self) -> str | None:
        """The C{Sec-WebSocket-Extensions} agreed (permessage-deflate), or C{None}."""
        return self._protocol.extensions

    @property
    def closeCode(self) -> int:
        """
        The close code the connection ended with: the peer's or ours,
        L{CloseCode.NO_STATUS} for a close without one, and
        L{CloseCode.ABNORMAL} (1006) if it ended without a closing
        handshake.  Meaningful in C{onClose}.
        """
        return self._protocol.closeCode

    @property
    def closeReason(self) -> str:
        """The close reason that went with C{closeCode}."""
        return self._protocol.closeReason

    @property
    def remoteAddress(self) -> IAddress:
        """
        The client's address: the socket peer's, or (with trusted proxies)
        the one the proxies forwarded, with port 0.
        """
        if self._clientAddress is not None:
            return self._clientAddress
        return self.wrapped.remoteAddress

    # IConnection.

    def send(self, message: Message) -> None:
        """
        Send C{message}: C{str} as a text message, bytes-like as binary.

        Once the connection is closing (or before it opened) the message
        cannot be sent: it is dropped and counted in C{droppedMessages}.
        Hixie clients cannot receive binary messages: sending them bytes
        raises L{ratchet_tx.websocket.framing.BinaryNotSupported}.
        """
        try:
            frame = self._protocol.send(message)
        except InvalidState:
            self._out.droppedMessages += 1
            return
        self._out.send(frame)

    @classmethod
    def sendToMany(
        cls,
        conns: Iterable[IConnection],
        message: Message,
        onError: Callable[[IConnection, Failure], object],
    ) -> None:
        """
        L{Broadcast}'s bulk path: send C{message} to each of C{conns} as
        L{send} would, reporting each that fails to C{onError}.

        Receivers whose protocols frame with the same function (the same
        version's shared framing, without permessage-deflate) get the very
        same frame, made once; any other connection in C{conns} is sent to
        as usual.
        """
        shared: object = None
        frame = b""
        for conn in conns:
            if type(conn) is not cls:
                try:
                    conn.send(message)
                except Exception:
                    onError(conn, Failure())
                continue
            send = conn._protocol.send
            try:
                if send != shared:
                    shared = None
                    frame = send(message)
                    shared = send
            except InvalidState:
                conn._out.droppedMessages += 1
                continue
            except Exception:
                onError(conn, Failure())
                continue
            conn._out.send(frame)

    def close(self, code: int | None = None, reason: str = "") -> None:
        """
        Start the closing handshake with C{code} (default 1000) and C{reason}.

        Before the handshake completed, the connection is simply dropped;
        Hixie-75, which has no closing handshake, closes TCP.

        @raise ValueError: C{code} may not be sent.
        """
        self._write(self._protocol.close(code, reason))
        self._settle()

    def fail(self, code: int, reason: str) -> None:
        """
        Fail the connection from our side: send a close with C{code} if it
        is open, then close TCP without waiting for the answer.
        """
        log.info("Failing {conn!r}: {code} {reason}", conn=self, code=code, reason=reason)
        self._write(self._protocol.fail(code, reason))
        self._settle()

    def abort(self) -> None:
        """Drop the connection at once."""
        self._cancelTimer()
        self.wrapped.abort()

    def ping(self, payload: bytes = b"") -> None:
        """
        Send a ping (RFC 6455 and HyBi only; a Hixie connection, which has no
        ping frames, ignores this).
        """
        try:
            frame = self._protocol.ping(payload)
        except InvalidState:
            return
        self._out.write(frame)

    # Driven by the layer.

    def dataReceived(self, data: bytes) -> None:
        """Bytes arrived from the peer."""
        self._heard = True
        self._receive(data)

    def connectionLost(self) -> None:
        """The connection is gone; tell the application (once) if it knew it."""
        self._protocol.connectionLost()
        self._cancelTimer()
        self._layer.connectionClosed(self)
        host, self._admittedAs = self._admittedAs, None
        if host is not None:
            self._layer.release(host)
        if self._opened:
            self._opened = False
            app = self._layer.app
            deliver(app, self, app.onClose)

    def heartbeat(self, now: float) -> None:
        """
        The layer's periodic check: ping a quiet peer, drop one that does not
        answer, close an idle Hixie peer.
        """
        if self._heard:
            self._heard = False
            self._lastHeard = now
            self._pingSentAt = None
        protocol = self._protocol
        if protocol.state is not OPEN:
            return
        settings = self._layer.settings
        if not protocol.version or not protocol.version.isHixie:
            if settings.pingInterval is None:
                return
            if self._pingSentAt is not None:
                if now - self._pingSentAt >= settings.pingTimeout:
                    log.info(
                        "Dropping {conn!r}: no answer to a ping in {timeout} s",
                        conn=self,
                        timeout=settings.pingTimeout,
                    )
                    self.abort()
            elif now - self._lastHeard >= settings.pingInterval:
                self._pingSentAt = now
                self.ping()
        elif (
            settings.hixieIdleTimeout is not None
            and now - self._lastHeard >= settings.hixieIdleTimeout
        ):
            log.info("Closing idle {conn!r}", conn=self)
            self.close(CloseCode.GOING_AWAY, "idle")

    # Bytes in, events out.

    def _receive(self, data: bytes) -> None:
        protocol = self._protocol
        events = protocol.receiveData(data)
        if events:
            self._handle(events)
        owed = protocol.dataToSend()
        if owed:
            self._out.write(owed)
        if protocol.state is not OPEN:
            self._settle()

    def _handle(self, events: list[Any]) -> None:
        app = self._layer.app
        onMessage = app.onMessage
        protocol = self._protocol
        for event in events:
            kind = type(event)
            if kind is str or kind is bytes:
                if protocol.closeSent:
                    continue  # the application closed the connection meanwhile
                # deliver(app, self, onMessage, event), inlined: this is the
                # hot path of every message.
                try:
                    result = onMessage(self, event)
                except Exception:
                    reportError(app, self, Failure())
                    continue
                if result is not None:
                    carryOut(result, app, self)
            elif kind is Ping:
                if not protocol.closeSent:
                    self._out.write(protocol.pong(event.payload))
            elif kind is Opening:
                self._handshakeReceived(event)
            elif kind is ProtocolError:
                log.info(
                    "Closing {conn!r} on a protocol error: {code} {reason}",
                    conn=self,
                    code=event.code,
                    reason=event.reason,
                )
            elif kind is HandshakeError:
                self._logRefusal(event)
            # Pongs and closes need nothing here: the protocol answers a
            # close, and any byte from the peer proves it alive.

    def _write(self, data: bytes) -> None:
        if data:
            self._out.write(data)

    def _settle(self) -> None:
        """
        Do what the protocol's state asks of the transport: close it, or
        wait (a bounded time) for the peer to finish the closing handshake.
        """
        protocol = self._protocol
        if protocol.closesTransport:
            self._cancelTimer()
            self.wrapped.close()
        elif protocol.state is CLOSING and protocol.closeSent and self._timer is None:
            self._startTimer(self._layer.settings.closeTimeout, "closing handshake")

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
            settings = self._layer.settings
            host = settings.clientHost(peerHost, request.headers.get("X-Forwarded-For"))
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
        layer = self._layer
        settings = layer.settings
        try:
            response = protocol.accept(
                self.subprotocol, deflate=settings.deflate, secure=self._isSecure()
            )
        except ValueError:
            # onHandshake chose a sub-protocol the client did not offer.
            self._hookFailed(Failure())
            return
        self._out.write(response)
        self._cancelTimer()
        self._opened = True
        layer.connectionOpened(self)
        app = layer.app
        deliver(app, self, app.onOpen)
        # Most of an idle connection's memory would be the parsed request;
        # the head's bytes are enough to parse it again if ever asked.
        protocol.compact()
        if protocol.state is OPEN:
            self._receive(b"")  # what the client sent before it was accepted

    def _refuse(self, error: HandshakeError) -> None:
        if self._protocol.state is not HANDSHAKE and self._protocol.state is not State.CONNECTING:
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

    # Timers.

    def _startTimer(self, seconds: float, what: str) -> None:
        self._cancelTimer()
        self._timer = self._layer.clock.callLater(seconds, self._timedOut, what)

    def _cancelTimer(self) -> None:
        timer = self._timer
        if timer is not None:
            self._timer = None
            if timer.active():
                timer.cancel()

    def _timedOut(self, what: str) -> None:
        self._timer = None
        log.info("Dropping {conn!r}: {what} timed out", conn=self, what=what)
        self.wrapped.abort()
