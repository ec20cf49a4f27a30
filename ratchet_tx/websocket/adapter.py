# -*- test-case-name: tests.websocket.test_frames_layer,tests.client.test_connection,tests.client.test_roundtrip -*-  # noqa: E501
"""
The Twisted adapter around a L{WebSocketProtocol}, for either role.

The protocol decides everything about bytes and states; the adapter gives it
the bytes read, writes what it returns, runs the clocks (the opening
handshake's timeout, on a FIFO of deadlines shared by the connections with
the same timeout, L{ratchet_tx.websocket.deadlines}; the closing
handshake's; the heartbeat's pings), calls the application, and closes the
transport when the protocol says so.  The
server's connection (L{ratchet_tx.websocket.connection.WebSocketConnection})
adds the opening handshake's policy (origins, admission, the C{onHandshake}
hook); the client's (L{ratchet_tx.client.connection.ClientConnection}) waits
for the server's answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from ratchet_tx.connection import ConnectionDecorator
from ratchet_tx.dispatch import carryOut, deliver, reportError
from ratchet_tx.websocket.codecs.closecodes import CloseCode
from ratchet_tx.websocket.codecs.errors import ProtocolError
from ratchet_tx.websocket.codecs.events import Close, Ping, Pong
from ratchet_tx.websocket.codecs.handshake import WebSocketVersion
from ratchet_tx.websocket.deadlines import Deadline, deadlinesOf
from ratchet_tx.websocket.framing import Frame, Message
from ratchet_tx.websocket.protocol import (
    CLOSED,
    CLOSING,
    OPEN,
    InvalidState,
    State,
    WebSocketProtocol,
)

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall, IReactorTime

    from ratchet_tx.interfaces import IApplication, IConnection
    from ratchet_tx.websocket.settings import Settings

log = Logger()


class AdaptingLayer(Protocol):
    """What a L{ProtocolConnection} needs of the protocol layer it belongs to."""

    @property
    def app(self) -> IApplication: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> IReactorTime: ...


class ProtocolConnection(ConnectionDecorator):
    """
    A WebSocket connection as an application sees it: C{send} frames a
    C{str} as a text message and bytes as a binary one, in the version the
    opening handshake settled on.

    A message in::

        transport -> ... -> dataReceived -> WebSocketProtocol.receiveData
          -> app.onMessage(conn, message)

    and out::

        SendMessage.execute -> send -> WebSocketProtocol.send
          -> TransportConnection.send (held until the read is handled) -> transport
    """

    __slots__ = (
        "_heard",
        "_layer",
        "_lastHeard",
        "_messagesIn",
        "_opened",
        "_out",
        "_pingSentAt",
        "_pongWaiters",
        "_protocol",
        "_timer",
    )

    def __init__(
        self, wrapped: IConnection, protocol: WebSocketProtocol, layer: AdaptingLayer
    ) -> None:
        """
        @param layer: the protocol layer the connection belongs to: its
            application, settings and clock (kept there, not by every
            connection).
        """
        super().__init__(wrapped)
        self._protocol = protocol
        self._layer = layer
        # Frames go straight to the socket's connection: data through send()
        # (subject to the slow-consumer policy), protocol bytes through
        # write() (never dropped).
        self._out = self.transportConnection
        self._opened = False
        self._heard = False
        self._messagesIn = 0
        self._lastHeard = 0.0
        self._pingSentAt: float | None = None
        self._pongWaiters: list[tuple[bytes, Deferred[None]]] | None = None
        # One FIFO of deadlines per timeout length, not a timed call each.
        self._timer: IDelayedCall | Deadline | None = deadlinesOf(
            layer.clock, layer.settings.handshakeTimeout
        ).add(self._openingTimedOut)

    # What the protocol knows.

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
        """The protocol version spoken (C{None} before the handshake settled it)."""
        return self._protocol.version

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
    def messagesIn(self) -> int:
        """Messages received and handed to the application."""
        return self._messagesIn

    @property
    def opened(self) -> bool:
        """
        Whether the connection is open as far as the application knows: from
        just before C{onOpen} until just before C{onClose}.
        """
        return self._opened

    # IConnection.

    def send(self, message: Message) -> None:
        """
        Send C{message}: C{str} as a text message, bytes-like as binary.

        Once the connection is closing (or before it opened) the message
        cannot be sent: it is dropped and counted in C{droppedMessages}.
        Hixie peers cannot receive binary messages: sending them bytes
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
        frame: Frame = b""
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

    def roundTrip(self, payload: bytes) -> Deferred[None] | None:
        """
        Send a ping with C{payload} and wait for its pong: then every
        message the peer sent before it has been handled (a peer answers a
        ping when it reads it, after the frames that came before it).

        @return: a Deferred that fires once the pong arrives, or fails with
            C{ConnectionError} if the connection ends first; C{None} when no
            ping can be sent (a Hixie peer, a connection not open).
        """
        try:
            frame = self._protocol.ping(payload)
        except InvalidState:
            return None
        answered: Deferred[None] = Deferred()
        if self._pongWaiters is None:
            self._pongWaiters = []
        self._pongWaiters.append((payload, answered))
        self._out.write(frame)
        return answered

    def _pongArrived(self, payload: bytes) -> None:
        waiters = self._pongWaiters or []
        for index, (expected, answered) in enumerate(waiters):
            if expected == payload:
                del waiters[index]
                answered.callback(None)
                return

    # Driven by the transport side.

    def dataReceived(self, data: bytes) -> None:
        """Bytes arrived from the peer."""
        self._heard = True
        self._receive(data)

    def connectionLost(self) -> None:
        """The connection is gone; tell the application (once) if it knew it."""
        events = self._protocol.connectionLost()
        if events:
            self._handle(events)
        self._cancelTimer()
        waiters, self._pongWaiters = self._pongWaiters, None
        for _, answered in waiters or ():
            answered.errback(ConnectionError("the connection ended before the pong"))
        self._ended()
        if self._opened:
            self._opened = False
            app = self._layer.app
            deliver(app, self, app.onClose)

    def heartbeat(self, now: float) -> None:
        """
        A periodic check: ping a quiet peer, drop one that does not answer,
        close an idle Hixie peer (which cannot be pinged).
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

    # For the roles.

    def _handshakeEvent(self, event: Any) -> None:
        """
        An event of the opening handshake: the request a server read, the
        answer a client read, or the error that failed either.
        """
        raise NotImplementedError

    def _ended(self) -> None:
        """The connection is gone: forget what the role keeps of it."""

    def _connectionOpened(self) -> None:
        """The connection is open: the application hears of it."""
        self._cancelTimer()
        self._opened = True
        app = self._layer.app
        deliver(app, self, app.onOpen)

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
        buffer = protocol.readBuffer
        if buffer is not None:
            # A large frame: the transport may read the rest of it straight
            # into its buffer (and then hand us b"").
            self._out.readInto(buffer)

    def _handle(self, events: list[Any]) -> None:
        app = self._layer.app
        onMessage = app.onMessage
        protocol = self._protocol
        for event in events:
            kind = type(event)
            if kind is str or kind is bytes:
                if protocol.closeSent:
                    continue  # the application closed the connection meanwhile
                self._messagesIn += 1
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
            elif kind is Pong:
                if self._pongWaiters:
                    self._pongArrived(event.payload)
            elif kind is ProtocolError:
                log.info(
                    "Closing {conn!r} on a protocol error: {code} {reason}",
                    conn=self,
                    code=event.code,
                    reason=event.reason,
                )
            elif kind is not Close:
                self._handshakeEvent(event)
            # Other pongs and closes need nothing here: the protocol answers a
            # close, and any byte from the peer proves it alive.

    def _write(self, data: bytes) -> None:
        if data:
            self._out.write(data)

    def _settle(self) -> None:
        """
        Do what the protocol's state asks of the transport: close it, or
        wait (a bounded time) for the peer to finish the closing handshake
        (or, for a client, to close TCP).
        """
        protocol = self._protocol
        if protocol.closesTransport:
            self._cancelTimer()
            self.wrapped.close()
        elif self._timer is None:
            state = protocol.state
            if state is CLOSING and protocol.closeSent:
                self._startTimer(self._layer.settings.closeTimeout, "closing handshake")
            elif state is CLOSED:
                self._startTimer(self._layer.settings.closeTimeout, "the server's close")

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

    def _openingTimedOut(self) -> None:
        self._timedOut("opening handshake")

    def _timedOut(self, what: str) -> None:
        self._timer = None
        if self._protocol.state is CLOSED:
            # The closing handshake is done; only the server's TCP close is
            # missing (RFC 6455 section 7.1.1 lets the client close it then).
            self.wrapped.close()
            return
        log.info("Dropping {conn!r}: {what} timed out", conn=self, what=what)
        self.wrapped.abort()
