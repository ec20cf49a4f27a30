# -*- test-case-name: tests.websocket.test_connection -*-
"""
One WebSocket connection: the opening handshake, then frames, then the
closing handshake, for whichever version the client speaks.

Theory of operation
===================

The connection is a small state machine driven by three inputs: bytes from
the peer (L{WebSocketConnection.dataReceived}), requests from the application
(C{send}, C{close}) and the clock (timeouts, heartbeat)::

  state      | bytes from the peer               | app close()        | clock
  -----------+-----------------------------------+--------------------+-----------------
  HANDSHAKE  | request head -> check it -> KEY3 | drop               | drop (timeout)
  KEY3       | wait for Hixie-76's 8 key bytes   | drop               | drop (timeout)
  ACCEPTING  | buffered while onHandshake runs   | drop               | drop (timeout)
  OPEN       | frames -> messages to the app     | send close: CLOSING| ping / idle close
  CLOSING    | wait for the peer's close         | -                  | drop (close timeout)
  CLOSED     | ignored                           | -                  | -

A bad request is answered with its HTTP status and the connection closed; a
bad frame with its close code (or Hixie's close frame) and the connection
closed.  The peer's close is answered in kind, and then the server closes the
TCP connection, as RFC 6455 section 7.1.1 asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from inspect import iscoroutine
from typing import TYPE_CHECKING, Any

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import ISSLTransport
from twisted.logger import Logger
from twisted.python.failure import Failure

from ratchet_tx.connection import ConnectionDecorator
from ratchet_tx.dispatch import carryOut, deliver, reportError
from ratchet_tx.websocket.codecs.closecodes import CloseCode, isValidWireCode
from ratchet_tx.websocket.codecs.deflate import (
    PerMessageDeflate,
    deflatedSizeBound,
    negotiate,
    parseExtensions,
)
from ratchet_tx.websocket.codecs.errors import HandshakeError, ProtocolError
from ratchet_tx.websocket.codecs.events import Close, Ping
from ratchet_tx.websocket.codecs.handshake import (
    Opening,
    WebSocketVersion,
    readOpening,
    renderAccept,
)
from ratchet_tx.websocket.codecs.http import Headers, Request, RequestReader, renderRejection

if TYPE_CHECKING:
    from twisted.internet.interfaces import IAddress, IDelayedCall

    from ratchet_tx.interfaces import IConnection
    from ratchet_tx.websocket.layer import WebSocket

log = Logger()


class State(Enum):
    """Where a L{WebSocketConnection} is in its life (see the module doc)."""

    HANDSHAKE = "handshake"
    KEY3 = "awaiting Hixie-76 key"
    ACCEPTING = "accepting"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


HANDSHAKE = State.HANDSHAKE
KEY3 = State.KEY3
ACCEPTING = State.ACCEPTING
OPEN = State.OPEN
CLOSING = State.CLOSING
CLOSED = State.CLOSED


class WebSocketConnection(ConnectionDecorator):
    """
    A connection as a WebSocket application sees it: C{send} frames a C{str}
    as a text message and C{bytes} as a binary one, in the client's version.

    @ivar opening: what the opening handshake said (C{None} until it arrived).
        An open connection keeps only the bytes of the request head and
        parses them again (once) if asked after C{onOpen}: an idle
        connection then costs a fraction of the memory.
    @ivar subprotocol: the negotiated sub-protocol, or C{None}.
    @ivar extensions: the C{Sec-WebSocket-Extensions} we agreed to (such as
        permessage-deflate), or C{None}.
    @ivar closeCode: the close code the connection ended with: the peer's or
        ours, L{CloseCode.NO_STATUS} for a close without one, and
        L{CloseCode.ABNORMAL} (1006) if it dropped without a closing
        handshake.  Meaningful in C{onClose}.
    @ivar closeReason: the close reason that went with C{closeCode}.
    """

    __slots__ = (
        "_admittedAs",
        "_batch",
        "_clientAddress",
        "_decoder",
        "_deflate",
        "_framing",
        "_head",
        "_heard",
        "_key3",
        "_lastHeard",
        "_layer",
        "_opened",
        "_opening",
        "_out",
        "_pending",
        "_pingSentAt",
        "_reader",
        "_state",
        "_timer",
        "_version",
        "closeCode",
        "closeReason",
        "extensions",
        "subprotocol",
    )

    def __init__(self, wrapped: IConnection, layer: WebSocket) -> None:
        super().__init__(wrapped)
        self._layer = layer
        # Frames go straight to the socket's connection: data through send()
        # (subject to the slow-consumer policy), protocol bytes through
        # write() (never dropped).
        self._out = self.transportConnection
        self._admittedAs: str | None = None
        self._batch: list[bytes] | None = None
        self._clientAddress: IAddress | None = None
        self._state = HANDSHAKE
        self._reader: RequestReader | None = RequestReader(layer.settings.maxHandshakeSize)
        self._pending = b""
        self._key3 = b""
        self._decoder: Any = None
        self._deflate: PerMessageDeflate | None = None
        self.extensions: str | None = None
        self._framing: Any = None
        self._opened = False
        self._heard = False
        self._lastHeard = 0.0
        self._pingSentAt: float | None = None
        self._opening: Opening | None = None
        self._head = b""
        self._version: WebSocketVersion | None = None
        self.subprotocol: str | None = None
        self.closeCode: int = CloseCode.ABNORMAL
        self.closeReason = ""
        self._timer: IDelayedCall | None = layer.clock.callLater(
            layer.settings.handshakeTimeout, self._timedOut, "opening handshake"
        )

    # What the handshake told us.

    @property
    def opening(self) -> Opening | None:
        """What the opening handshake said (C{None} until it arrived)."""
        opening = self._opening
        if opening is None and self._head:
            # Released after onOpen (see _accept); it parsed once, so it does again.
            reader = RequestReader(len(self._head))
            request = reader.feed(self._head)
            assert request is not None
            opening = self._opening = readOpening(request, self._layer.settings.versions)
        return opening

    @property
    def remoteAddress(self) -> IAddress:  # type: ignore[override]
        """
        The client's address: the socket peer's, or (with trusted proxies)
        the one the proxies forwarded, with port 0.
        """
        if self._clientAddress is not None:
            return self._clientAddress
        return self.wrapped.remoteAddress

    @property
    def phase(self) -> State:
        """Where the connection is in its life (L{State})."""
        return self._state

    @property
    def version(self) -> WebSocketVersion | None:
        """The protocol version the client speaks (C{None} before the handshake)."""
        return self._version

    @property
    def request(self) -> Request | None:
        """The opening handshake's HTTP request."""
        return None if self.opening is None else self.opening.request

    @property
    def path(self) -> str:
        """The request path, e.g. C{"/chat"}."""
        return "" if self.opening is None else self.opening.request.path

    @property
    def query(self) -> str:
        """The query string of the request, without the C{?}."""
        return "" if self.opening is None else self.opening.request.query

    @property
    def headers(self) -> Headers | None:
        """The request headers (case-insensitive)."""
        return None if self.opening is None else self.opening.request.headers

    @property
    def cookies(self) -> dict[str, str]:
        """The cookies the client sent with the handshake."""
        return {} if self.opening is None else self.opening.request.cookies

    @property
    def origin(self) -> str | None:
        """The origin the browser declared (C{Origin} or C{Sec-WebSocket-Origin})."""
        return None if self.opening is None else self.opening.origin

    # IConnection.

    def send(self, message: str | bytes) -> None:
        """
        Send C{message}: C{str} as a text message, C{bytes} as binary.

        Dropped unless the connection is open.  Hixie clients cannot receive
        binary messages: sending them C{bytes} raises
        L{ratchet_tx.websocket.framing.BinaryNotSupported}.
        """
        if self._state is OPEN:
            frame = self._framing.encode(message, self._deflate)
            batch = self._batch
            if batch is not None:
                batch.append(frame)
                return
            pending = self._layer._pendingWrites
            if pending is None:
                self._out.send(frame)
            else:
                # Sent while the layer handles a read: held until it is done,
                # so that all a read causes goes to each peer in one write.
                self._batch = [frame]
                pending.append(self)

    def close(self, code: int | None = None, reason: str = "") -> None:
        """
        Start the closing handshake with C{code} (default 1000) and C{reason}.

        Before the handshake completed, the connection is simply dropped.
        """
        state = self._state
        if state is OPEN and self._version is WebSocketVersion.HIXIE_75:
            # Draft 75 has no closing handshake: closing is closing TCP.
            self.closeCode = CloseCode.NORMAL if code is None else code
            self.closeReason = reason
            self._state = CLOSED
            self._flush()
            self.wrapped.close()
        elif state is OPEN:
            if code is None:
                code = CloseCode.NORMAL
            elif not isValidWireCode(code):
                raise ValueError(f"{code} is not a close code that may be sent")
            self.closeCode = code
            self.closeReason = reason
            self._state = CLOSING
            self._writeControl(self._framing.encodeClose(code, reason))
            self._startTimer(self._layer.settings.closeTimeout, "closing handshake")
        elif state is not CLOSING and state is not CLOSED:
            self._state = CLOSED
            self._cancelTimer()
            self.wrapped.close()

    def abort(self) -> None:
        self._state = CLOSED
        self._cancelTimer()
        self.wrapped.abort()

    def ping(self, payload: bytes = b"") -> None:
        """
        Send a ping (RFC 6455 and HyBi only; a Hixie connection ignores this).
        """
        if self._state is OPEN and self._framing.supportsPing:
            self._writeControl(self._framing.encodePing(payload))

    # Driven by the layer.

    def dataReceived(self, data: bytes) -> None:
        """Bytes arrived from the peer."""
        self._heard = True
        layer = self._layer
        if layer._pendingWrites is None:
            layer._pendingWrites = []
            try:
                self._dataReceived(data)
            finally:
                layer._flushPendingWrites()
        else:
            self._dataReceived(data)

    def _dataReceived(self, data: bytes) -> None:
        state = self._state
        if state is OPEN or state is CLOSING:
            self._receiveFrames(data)
        elif state is HANDSHAKE:
            self._receiveHandshake(data)
        elif state is KEY3 or state is ACCEPTING:
            self._pending += data
            if len(self._pending) > self._layer.settings.maxHandshakeSize:
                self._refuse(HandshakeError(400, "data sent before the handshake completed"))
            elif state is KEY3:
                self._continueHandshake()

    def connectionLost(self) -> None:
        """The connection is gone; tell the application (once) if it knew it."""
        self._state = CLOSED
        self._cancelTimer()
        self._layer._forget(self)
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
        if self._state is not OPEN:
            return
        settings = self._layer.settings
        if self._framing.supportsPing:
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
                self._writeControl(self._framing.encodePing(b""))
        elif (
            settings.hixieIdleTimeout is not None
            and now - self._lastHeard >= settings.hixieIdleTimeout
        ):
            log.info("Closing idle {conn!r}", conn=self)
            self.close(CloseCode.GOING_AWAY, "idle")

    # The opening handshake.

    def _receiveHandshake(self, data: bytes) -> None:
        reader = self._reader
        assert reader is not None
        settings = self._layer.settings
        try:
            request = reader.feed(data)
            if request is None:
                return
            opening = readOpening(request, settings.versions)
            self._opening = opening
            self._version = opening.version
            if not settings.originAllowed(opening.origin):
                raise HandshakeError(403, "origin not allowed")
            self._admit(request)
            self.subprotocol = settings.chooseSubprotocol(opening.subprotocols)
        except HandshakeError as error:
            self._refuse(error)
            return
        self._reader = None
        self._head = reader.head
        self._pending = reader.remainder
        self._state = KEY3
        self._continueHandshake()

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

    def _continueHandshake(self) -> None:
        opening = self.opening
        assert opening is not None
        needed = opening.key3Length
        if len(self._pending) < needed:
            return
        self._key3 = self._pending[:needed]
        self._pending = self._pending[needed:]
        self._state = ACCEPTING
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

    def _hookFailed(self, failure: Failure) -> None:
        if failure.check(HandshakeError):
            self._refuse(failure.value)
            return
        log.failure("onHandshake failed for {conn!r}", failure, conn=self)
        self._refuse(HandshakeError(500, "internal server error"))

    def _accept(self) -> None:
        if self._state is not ACCEPTING:
            return  # the connection went away while onHandshake ran
        opening = self.opening
        assert opening is not None
        layer = self._layer
        settings = layer.settings
        if opening.extensions and not opening.version.isHixie:
            agreed = negotiate(parseExtensions(opening.extensions), settings.deflate)
            if agreed is not None:
                self.extensions, self._deflate = agreed
        try:
            response = renderAccept(
                opening,
                subprotocol=self.subprotocol,
                key3=self._key3,
                secure=self._isSecure(),
                extensions=self.extensions,
            )
        except ValueError:
            # onHandshake chose a sub-protocol the client did not offer.
            self._hookFailed(Failure())
            return
        self._out.write(response)
        self._cancelTimer()
        self._framing = layer.framingFor(opening.version)
        self._state = OPEN
        self._opened = True
        layer._opened(self)
        app = layer.app
        deliver(app, self, app.onOpen)
        # Most of an idle connection's memory would be the parsed request;
        # the head's bytes are enough to parse it again if ever asked.
        self._opening = None
        rest, self._pending = self._pending, b""
        if rest and self._state is OPEN:
            self._receiveFrames(rest)

    def _refuse(self, error: HandshakeError) -> None:
        log.info(
            "Refused WebSocket handshake from {conn!r}: {status} {reason}",
            conn=self,
            status=error.status,
            reason=error.reason,
        )
        self._state = CLOSED
        self._cancelTimer()
        self._out.write(renderRejection(error))
        self.wrapped.close()

    def _isSecure(self) -> bool:
        secure = self._layer.settings.secure
        if secure is not None:
            return secure
        transport = getattr(self.transportConnection, "transport", None)
        return ISSLTransport.providedBy(transport)

    # Frames.

    def _newDecoder(self) -> Any:
        # Made on the first frame bytes: an idle connection does without.
        settings = self._layer.settings
        maxFrameSize = settings.maxFrameSize
        if self._deflate is not None:
            # An incompressible message grows a little when deflated; the
            # message limit still holds on the inflated size.
            maxFrameSize = deflatedSizeBound(maxFrameSize)
        decoder = self._framing.decoder(maxFrameSize, settings.maxMessageSize, self._deflate)
        self._decoder = decoder
        return decoder

    def _receiveFrames(self, data: bytes) -> None:
        decoder = self._decoder
        if decoder is None:
            decoder = self._newDecoder()
        try:
            events = decoder.feed(data)
        except ProtocolError as error:
            # What arrived whole before the bad bytes is still delivered.
            self._dispatch(error.events)
            self._fail(error.code, error.reason)
            return
        self._dispatch(events)

    def _flush(self) -> None:
        """Send what was held back for this peer while a read was handled."""
        batch = self._batch
        if batch is not None:
            self._batch = None
            self._out.sendMany(batch)

    def _writeControl(self, frame: bytes) -> None:
        """Write a control frame after whatever data is batched before it."""
        self._flush()
        self._out.write(frame)

    def _dispatch(self, events: Sequence[object]) -> None:
        app = self._layer.app
        onMessage = app.onMessage
        for event in events:
            kind = type(event)
            if kind is str or kind is bytes:
                if self._state is OPEN:
                    # deliver(app, self, onMessage, event), inlined: this is
                    # the hot path of every message.
                    try:
                        result = onMessage(self, event)
                    except Exception:
                        reportError(app, self, Failure())
                        continue
                    if result is not None:
                        carryOut(result, app, self)
            elif kind is Ping:
                if self._state is OPEN:
                    self._writeControl(self._framing.encodePong(event.payload))
            elif kind is Close:
                self._closeReceived(event)  # type: ignore[arg-type]
                return
            # A Pong needs nothing: any data from the peer proves it alive.

    def _closeReceived(self, event: Close) -> None:
        if self._state is OPEN:
            self.closeCode = CloseCode.NO_STATUS if event.code is None else event.code
            self.closeReason = event.reason
            self._writeControl(self._framing.encodeClose(event.code, event.reason))
        self._state = CLOSED
        self._cancelTimer()
        self.wrapped.close()

    def _fail(self, code: int, reason: str) -> None:
        log.info(
            "Closing {conn!r} on a protocol error: {code} {reason}",
            conn=self,
            code=code,
            reason=reason,
        )
        if self._state is OPEN:
            self.closeCode = code
            self.closeReason = reason
            self._writeControl(self._framing.encodeClose(code, reason))
        self._state = CLOSED
        self._cancelTimer()
        self.wrapped.close()

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
        self._state = CLOSED
        self.wrapped.abort()
