# -*- test-case-name: tests.websocket.test_protocol -*-
"""
The WebSocket protocol without I/O: one state machine for both roles and
every version.

Theory of operation
===================

A L{WebSocketProtocol} is fed what its peer sends (L{receiveData}, which
returns the events those bytes completed) and is asked to act (L{accept},
L{refuse}, L{send}, L{ping}, L{close}, L{fail}, which return the bytes to
write).  Answers it owes the peer on its own -- the reply to a close, the
close frame of a failure, a refusal -- wait in L{dataToSend}.  It never
touches a socket or a clock: an adapter writes what it is given, runs the
timers, and closes the transport when L{closesTransport} says so.

What an adapter does with the events, in order, is the application's
business but for one: a L{Ping} is answered with L{pong}C{(ping.payload)}
when it is handled, so that bytes go out in the order the events came (a
pong never overtakes the answer to a message that arrived before its ping).

Its life is this table; every change of L{state} goes through it::

    state       input               next      when
    ----------  ------------------  --------  ----------------------------------
    CONNECTING  REQUEST_RECEIVED    HANDSHAKE server: a valid opening request
    CONNECTING  RESPONSE_ACCEPTED   OPEN      client: a valid answer
    HANDSHAKE   ACCEPT              OPEN      server: accept()
    OPEN        CLOSE_SENT          CLOSING   we started the closing handshake
    OPEN        CLOSE_RECEIVED      CLOSING   the peer started it
    CLOSING     CLOSE_SENT          CLOSED    we answered the peer's close
    CLOSING     CLOSE_RECEIVED      CLOSED    the peer answered ours
    OPEN        HANG_UP             CLOSED    Hixie-75: no closing handshake
    not ended   ERROR               FAILED    a bad handshake or frame, refuse(),
                                              fail(), close() before OPEN
    any         CONNECTION_LOST     CLOSED    (FAILED stays FAILED)

Ordering.  A read may hold messages followed by the peer's close (or by a bad
frame).  L{receiveData} returns the messages and moves the state on, but our
answering close frame is made only by the next L{dataToSend} call: so an
adapter first hands the messages to its application, sends whatever the
application answers, and then writes L{dataToSend}.  Data may be sent until
our close frame has been made (RFC 6455 section 5.5.1 lets an endpoint finish
what it sends before it answers a close).  Messages that arrive after we sent
our close are read and not returned: the application asked to close.

Roles.  The server reads the opening request (L{Opening}) and answers it
(L{accept} or L{refuse}); the client sends it (L{connect}) and reads the
answer (L{Accepted}, or a L{HandshakeFailed} value).  Server frames are
unmasked, client frames masked (see L{ratchet_tx.websocket.framing}).  When
the closing handshake is done the server closes TCP at once, while the
client waits for the server to do it (RFC 6455 section 7.1.1):
L{closesTransport}.

Errors are values.  Bad bytes from the peer never raise: L{receiveData}
returns a L{HandshakeError} (server: the HTTP status the refusal carries), a
L{HandshakeFailed} (client: the server refused, or answered wrongly) or a
L{ProtocolError} (the close code sent) as its last event, and the protocol
is FAILED.  Asking for something the state does not allow (sending
before the handshake or after the close, accepting twice) raises
L{InvalidState}.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import Enum
from functools import partial
from typing import Any, NamedTuple

from ratchet_tx.websocket.codecs.clienthandshake import ClientHandshake
from ratchet_tx.websocket.codecs.closecodes import CloseCode, isValidWireCode
from ratchet_tx.websocket.codecs.deflate import (
    DeflatePolicy,
    PerMessageDeflate,
    negotiate,
    parseExtensions,
)
from ratchet_tx.websocket.codecs.errors import (
    HandshakeError,
    HandshakeFailed,
    InvalidHandshakeResponse,
    ProtocolError,
)
from ratchet_tx.websocket.codecs.events import Close
from ratchet_tx.websocket.codecs.handshake import (
    ALL_VERSIONS,
    Opening,
    WebSocketVersion,
    readOpening,
    renderAccept,
)
from ratchet_tx.websocket.codecs.http import (
    RequestReader,
    Response,
    ResponseReader,
    renderRejection,
)
from ratchet_tx.websocket.framing import Frame, Framing, Framings, HybiFraming, Message, Role

__all__ = ["InvalidState", "Role", "State", "WebSocketProtocol"]


class State(str, Enum):
    """
    Where a L{WebSocketProtocol} is in its life (see the module's table).

    (A C{str} enum: its members hash in C, and the table is looked up on
    every change of state.)
    """

    CONNECTING = "connecting"
    HANDSHAKE = "handshake"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"
    FAILED = "failed"


class _Input(str, Enum):
    REQUEST_RECEIVED = "request received"
    RESPONSE_ACCEPTED = "response accepted"
    ACCEPT = "accept"
    CLOSE_SENT = "close sent"
    CLOSE_RECEIVED = "close received"
    HANG_UP = "hang up"
    ERROR = "error"
    CONNECTION_LOST = "connection lost"


CONNECTING = State.CONNECTING
HANDSHAKE = State.HANDSHAKE
OPEN = State.OPEN
CLOSING = State.CLOSING
CLOSED = State.CLOSED
FAILED = State.FAILED

_ENDED = {CLOSED: CLOSED, FAILED: FAILED}
_TRANSITIONS: dict[State, dict[_Input, State]] = {
    CONNECTING: {
        _Input.REQUEST_RECEIVED: HANDSHAKE,
        _Input.RESPONSE_ACCEPTED: OPEN,
        _Input.ERROR: FAILED,
        _Input.CONNECTION_LOST: CLOSED,
    },
    HANDSHAKE: {
        _Input.ACCEPT: OPEN,
        _Input.ERROR: FAILED,
        _Input.CONNECTION_LOST: CLOSED,
    },
    OPEN: {
        _Input.CLOSE_SENT: CLOSING,
        _Input.CLOSE_RECEIVED: CLOSING,
        _Input.HANG_UP: CLOSED,
        _Input.ERROR: FAILED,
        _Input.CONNECTION_LOST: CLOSED,
    },
    CLOSING: {
        _Input.CLOSE_SENT: CLOSED,
        _Input.CLOSE_RECEIVED: CLOSED,
        _Input.ERROR: FAILED,
        _Input.CONNECTION_LOST: CLOSED,
    },
    CLOSED: {_Input.CONNECTION_LOST: CLOSED},
    FAILED: {_Input.CONNECTION_LOST: FAILED},
}

#: What bytes received in HANDSHAKE (before accept) are refused with.
_EARLY_DATA = "data sent before the handshake completed"


class InvalidState(RuntimeError):
    """
    The protocol was asked to do something its state does not allow: send
    before the opening handshake or after our close, accept or refuse twice,
    ping a peer that cannot be pinged.
    """


class WebSocketProtocol:
    """
    One WebSocket connection's protocol, for one role and whichever version
    the handshake settles on.

    @ivar role: L{Role.SERVER} or L{Role.CLIENT}.
    @ivar state: the L{State}.
    @ivar version: the L{WebSocketVersion} spoken, once known.
    @ivar subprotocol: the sub-protocol agreed, or C{None}.
    @ivar extensions: the C{Sec-WebSocket-Extensions} value agreed, or
        C{None}.
    @ivar closeSent: whether our close frame has been made (for Hixie-75,
        which has none: whether we hung up).
    @ivar closeReceived: whether the peer's close has arrived.
    @ivar closeCode: the close code the connection ended with: the peer's
        or ours, L{CloseCode.NO_STATUS} for a close without one, and
        L{CloseCode.ABNORMAL} (1006) while no closing handshake happened.
    @ivar closeReason: the reason that came with C{closeCode}.
    @ivar error: the L{HandshakeError} (server), L{HandshakeFailed} (client:
        L{HandshakeRefused} or L{InvalidHandshakeResponse}) or
        L{ProtocolError} that failed the connection, if one did.
    @ivar send: C{send(message) -> Frame}: the frame of a message, C{str} as
        text and bytes-like as binary: C{bytes}, or for a large message on
        the server L{ratchet_tx.websocket.codecs.pieces.Pieces} (its header
        and payload, to be written without joining them).  It raises L{InvalidState} while data
        may not be sent (see L{canSend}), and
        L{ratchet_tx.websocket.framing.BinaryNotSupported} for bytes to a
        Hixie peer.  (An attribute the state machine sets, not a method: so
        that sending, the hot path, is one call into the framing.)
    """

    __slots__ = (
        "_decoder",
        "_deflate",
        "_clientHandshake",
        "_due",
        "_framing",
        "_head",
        "_key3",
        "_limits",
        "_opening",
        "_outbox",
        "_pending",
        "_reader",
        "send",
        "closeCode",
        "closeReason",
        "closeReceived",
        "closeSent",
        "error",
        "extensions",
        "state",
        "subprotocol",
        "version",
    )

    def __init__(
        self,
        role: Role,
        *,
        maxHandshakeSize: int,
        maxMessageSize: int,
        maxFrameSize: int | None = None,
        versions: Iterable[WebSocketVersion] = ALL_VERSIONS,
        framings: Framings | None = None,
    ) -> None:
        """
        @param maxHandshakeSize: the largest opening handshake head read;
            also bounds what a client may send before it is accepted.
        @param maxMessageSize: the largest message accepted (inflated).
        @param maxFrameSize: the largest frame payload accepted; C{None}: the
            same as C{maxMessageSize}.
        @param versions: server: the versions accepted.
        @param framings: the frame formats, shared with other connections
            of the same role so that a broadcast is framed once; by default
            this connection's own.
        """
        if framings is None:
            framings = Framings(role)
        elif framings.hybi.role is not role:
            raise ValueError(f"framings for the {framings.hybi.role.value}, not the {role.value}")
        self._limits = _shared(
            role, maxHandshakeSize, maxFrameSize, maxMessageSize, frozenset(versions), framings
        )
        self.state = CONNECTING
        self.version: WebSocketVersion | None = None
        self.subprotocol: str | None = None
        self.extensions: str | None = None
        self.closeSent = False
        self.closeReceived = False
        self.closeCode: int = CloseCode.ABNORMAL
        self.closeReason = ""
        self.error: HandshakeError | HandshakeFailed | ProtocolError | None = None
        self._framing: Framing | None = None
        self._deflate: PerMessageDeflate | None = None
        self._decoder: Any = None
        # Reading the opening handshake: the server its request, the client
        # (once it connects) the server's response.
        self._reader: RequestReader | ResponseReader | None = (
            RequestReader(maxHandshakeSize=maxHandshakeSize) if role is Role.SERVER else None
        )
        self._opening: Opening | None = None
        self._clientHandshake: ClientHandshake | None = None
        self._head = b""
        self._key3 = b""
        self._pending = b""
        # What dataToSend owes, oldest first (None: nothing, the usual case).
        self._outbox: list[bytes] | None = None
        # The close frame we owe the peer: (code, reason), made by dataToSend.
        self._due: tuple[int | None, str] | None = None
        # Data may be sent (open, our close not made, the transport not gone)
        # while this is not _cannotSend.
        self.send: Callable[[Message], Frame] = _cannotSend

    @property
    def role(self) -> Role:
        """L{Role.SERVER} or L{Role.CLIENT}."""
        return self._limits.role

    def __repr__(self) -> str:
        version = "" if self.version is None else f" {self.version.value}"
        return f"<WebSocketProtocol {self.role.value}{version} {self.state.value}>"

    # The state machine.

    def _move(self, event: _Input) -> None:
        try:
            self.state = _TRANSITIONS[self.state][event]
        except KeyError:
            raise InvalidState(
                f"cannot {event.value} in state {self.state.value}"
            ) from None

    def _expect(self, state: State, action: str) -> None:
        if self.state is not state:
            raise InvalidState(f"cannot {action} in state {self.state.value}")

    @property
    def canSend(self) -> bool:
        """
        Whether data may be sent: the connection is open and our close frame
        not yet made (though the peer's close or a failure may have come).
        """
        return self.send is not _cannotSend

    @property
    def closesTransport(self) -> bool:
        """
        Whether this end should close the TCP connection once it has written
        L{dataToSend}: after a failure, or once the closing handshake is done
        on the server (the client waits for the server to close it).
        """
        state = self.state
        if state is FAILED:
            return self._due is None and not self._outbox
        if state is CLOSED:
            return self.role is Role.SERVER or self.version is WebSocketVersion.HIXIE_75
        return False

    # What the opening handshake said.

    @property
    def opening(self) -> Opening | None:
        """
        Server: the opening handshake the client sent, once read.  After
        L{compact} it is parsed again from the bytes of its head when asked.
        """
        opening = self._opening
        if opening is None and self._head:
            reader = RequestReader(maxHandshakeSize=len(self._head))
            request = reader.feed(self._head)
            assert request is not None
            opening = self._opening = readOpening(request, self._limits.versions)
        return opening

    def compact(self) -> None:
        """
        Drop what can be rebuilt: the parsed opening request (its bytes are
        kept).  An idle open connection then costs a fraction of the memory.
        """
        if self.state is not CONNECTING and self.state is not HANDSHAKE:
            self._opening = None

    # Bytes in.

    def receiveData(self, data: bytes) -> list[Any]:
        """
        Read the next bytes from the peer.

        @return: the events they completed, in order: C{str} for a text
            message, C{bytes} for a binary one, L{Ping}, L{Pong} and L{Close}
            for control frames; server: the L{Opening} once the request is
            read; client: the L{Accepted} once the server's answer is read
            and checked; and last, if the bytes broke the protocol, the
            L{HandshakeError}, L{HandshakeFailed} or L{ProtocolError} that
            failed it.  Bytes after a close or a failure are ignored.
        """
        state = self.state
        if state is OPEN or state is CLOSING:
            pending = self._pending
            if pending:
                self._pending = b""
                data = pending + data
            if self.closeReceived or not data and self.readBuffer is None:
                return []
            return self._receiveFrames(data)
        if state is CONNECTING:
            return self._receiveOpening(data)
        if state is HANDSHAKE:
            self._pending += data
            if len(self._pending) > self._limits.maxHandshakeSize:
                return [self._failHandshake(HandshakeError(400, _EARLY_DATA))]
        return []

    @property
    def readBuffer(self) -> Any:
        """
        Where the payload of the large frame now arriving is received, if
        it is one (see L{ratchet_tx.websocket.codecs.hybi.FrameDecoder.readBuffer}):
        an adapter may have its transport read straight into it and then
        call L{receiveData} with C{b""}.  C{None} otherwise.
        """
        decoder = self._decoder
        return None if decoder is None else decoder.readBuffer

    def _receiveOpening(self, data: bytes) -> list[Any]:
        if self.role is Role.CLIENT:
            return self._receiveResponse(data)
        reader = self._reader
        if reader is not None:
            assert isinstance(reader, RequestReader)
            try:
                request = reader.feed(data)
                if request is None:
                    return []
                self._opening = readOpening(request, self._limits.versions)
            except HandshakeError as error:
                return [self._failHandshake(error)]
            self._reader = None
            self._head = reader.head
            data = reader.remainder
        opening = self._opening
        assert opening is not None
        self.version = opening.version
        data = self._pending + data
        if len(data) < opening.key3Length:
            self._pending = data
            return []
        self._key3 = data[: opening.key3Length]
        self._pending = data[opening.key3Length :]
        if len(self._pending) > self._limits.maxHandshakeSize:
            return [self._failHandshake(HandshakeError(400, _EARLY_DATA))]
        self._move(_Input.REQUEST_RECEIVED)
        return [opening]

    def _receiveFrames(self, data: bytes) -> list[Any]:
        decoder = self._decoder
        if decoder is None:
            decoder = self._newDecoder()
        try:
            events = decoder.feed(data)
        except ProtocolError as error:
            events = list(error.events)
            if self.closeSent:
                events = _controlOnly(events)
            # Kept as a value: its traceback would hold this protocol in a cycle.
            error.__traceback__ = None
            error.events = ()
            self.error = error
            self._failWith(error.code, error.reason)
            events.append(error)
            return events
        if events:
            if type(events[-1]) is Close:
                self._noteClose(events[-1])
            if self.closeSent:
                return _controlOnly(events)
        return events

    def _newDecoder(self) -> Any:
        # Made on the first frame bytes: an idle connection does without.
        framing = self._framing
        assert framing is not None
        limits = self._limits
        decoder = self._decoder = framing.decoder(
            maxFrameSize=limits.maxFrameSize,
            maxMessageSize=limits.maxMessageSize,
            deflate=self._deflate,
        )
        return decoder

    def _noteClose(self, close: Close) -> None:
        """The peer's close arrived."""
        self.closeReceived = True
        if self.closeSent:
            self._move(_Input.CLOSE_RECEIVED)
            return
        self.closeCode = CloseCode.NO_STATUS if close.code is None else close.code
        self.closeReason = close.reason
        self._move(_Input.CLOSE_RECEIVED)
        self._due = (close.code, close.reason)

    # Client: the opening handshake.

    def connect(self, handshake: ClientHandshake) -> bytes:
        """
        Client: start the opening handshake.

        @param handshake: what to ask for (the URL, version, sub-protocols,
            extensions): see L{ClientHandshake.new}, which draws its random
            key.
        @return: the request to write.
        """
        if self.role is not Role.CLIENT or self._clientHandshake is not None:
            raise InvalidState("only a client connects, and once")
        self._clientHandshake = handshake
        self.version = handshake.version
        self._reader = ResponseReader(
            maxHandshakeSize=self._limits.maxHandshakeSize,
            switchBodySize=handshake.switchBodySize,
        )
        return handshake.render()

    def _receiveResponse(self, data: bytes) -> list[Any]:
        reader = self._reader
        if reader is None:
            raise InvalidState("connect() first")
        assert isinstance(reader, ResponseReader)
        try:
            response = reader.feed(data)
        except InvalidHandshakeResponse as error:
            return [self._failResponse(error)]
        if response is None:
            return []
        return self._responseRead(response, reader.remainder)

    def _responseRead(self, response: Response, rest: bytes) -> list[Any]:
        handshake = self._clientHandshake
        assert handshake is not None
        try:
            accepted = handshake.validate(response)
        except HandshakeFailed as error:
            return [self._failResponse(error)]
        self._reader = None
        self._move(_Input.RESPONSE_ACCEPTED)
        self.subprotocol = accepted.subprotocol
        self.extensions = accepted.extensions
        self._deflate = accepted.deflate
        self._framing = self._limits.framings.forVersion(accepted.version)
        self._startSending()
        events: list[Any] = [accepted]
        if rest:
            events += self._receiveFrames(rest)
        return events

    def _failResponse(self, error: HandshakeFailed) -> HandshakeFailed:
        # Kept as a value: its traceback would hold this protocol in a cycle.
        error.__traceback__ = None
        self.error = error
        self._reader = None
        self._move(_Input.ERROR)
        return error

    # Bytes out, owed to the peer.

    def dataToSend(self) -> bytes:
        """
        The bytes the protocol owes the peer by itself -- the answer to its
        close, the close frame of a failure, a refusal -- to be written
        after whatever was sent for the events the last L{receiveData}
        returned.
        """
        due = self._due
        if due is not None:
            self._due = None
            self._owe(self._makeClose(*due))
        outbox = self._outbox
        if not outbox:
            return b""
        self._outbox = None
        return outbox[0] if len(outbox) == 1 else b"".join(outbox)

    def _owe(self, data: bytes) -> None:
        """Add C{data} to what L{dataToSend} returns next."""
        if self._outbox is None:
            self._outbox = [data]
        else:
            self._outbox.append(data)

    def _makeClose(self, code: int | None, reason: str) -> bytes:
        """Our close frame (C{b""} for Hixie-75, which has none)."""
        framing = self._framing
        assert framing is not None
        self.closeSent = True
        self._stopSending()
        if self.state is CLOSING:
            self._move(_Input.CLOSE_SENT)
        if self.version is WebSocketVersion.HIXIE_75:
            return b""
        return framing.encodeClose(code, reason)

    # Server: the opening handshake.

    def accept(
        self,
        subprotocol: str | None = None,
        *,
        deflate: DeflatePolicy | None = None,
        secure: bool = False,
        extraHeaders: Iterable[tuple[str, str]] = (),
    ) -> bytes:
        """
        Server: accept the opening handshake.

        Bytes the client sent meanwhile are parsed by the next
        L{receiveData}; call it with C{b""} to have them at once.

        @param subprotocol: the sub-protocol chosen, one the client offered.
        @param deflate: what permessage-deflate to agree to, if the client
            offers it.
        @param secure: Hixie: whether the location is C{wss:}.
        @param extraHeaders: more headers for the 101 response.
        @return: the response to write.
        @raise ValueError: C{subprotocol} was not offered.
        """
        self._expect(HANDSHAKE, "accept")
        opening = self.opening
        assert opening is not None
        extensions = None
        agreed = None
        if deflate is not None and opening.extensions and not opening.version.isHixie:
            agreed = negotiate(parseExtensions(opening.extensions), deflate)
            if agreed is not None:
                extensions = agreed[0]
        response = renderAccept(
            opening,
            subprotocol=subprotocol,
            key3=self._key3,
            secure=secure,
            extensions=extensions,
            extraHeaders=extraHeaders,
        )
        self._move(_Input.ACCEPT)
        self.subprotocol = subprotocol
        self.extensions = extensions
        self._deflate = None if agreed is None else agreed[1]
        self._framing = self._limits.framings.forVersion(opening.version)
        self._key3 = b""
        self._startSending()
        return response

    def refuse(self, error: HandshakeError) -> bytes:
        """
        Server: refuse the opening handshake with C{error}'s status.

        @return: the response to write; then close the transport.
        """
        if self.state is not CONNECTING and self.state is not HANDSHAKE:
            raise InvalidState(f"cannot refuse in state {self.state.value}")
        self._failHandshake(error)
        return self.dataToSend()

    def _failHandshake(self, error: HandshakeError) -> HandshakeError:
        # Kept as a value: its traceback would hold this protocol in a cycle.
        error.__traceback__ = None
        self.error = error
        self._reader = None
        self._pending = b""
        self._move(_Input.ERROR)
        self._owe(renderRejection(error))
        return error

    # Data and control frames.

    def _startSending(self) -> None:
        framing, deflate = self._framing, self._deflate
        assert framing is not None
        self.send = (
            framing.encodeMessage if deflate is None else partial(framing.encode, deflate=deflate)
        )

    def _stopSending(self) -> None:
        self.send = _cannotSend

    def ping(self, payload: bytes = b"") -> bytes:
        """
        A ping frame.

        @raise InvalidState: not open, or a Hixie peer (no ping frames).
        """
        framing = self._framing
        if self.state is not OPEN or not isinstance(framing, HybiFraming):
            raise InvalidState(f"cannot ping a {self.version} peer in state {self.state.value}")
        return framing.encodePing(payload)

    def pong(self, payload: bytes = b"") -> bytes:
        """
        A pong frame: the answer to a L{Ping} event (with its payload), or
        unsolicited, as a heartbeat.

        @raise InvalidState: our close was sent, or a Hixie peer.
        """
        framing = self._framing
        if self.send is _cannotSend or not isinstance(framing, HybiFraming):
            raise InvalidState(f"cannot pong a {self.version} peer in state {self.state.value}")
        return framing.encodePong(payload)

    def close(self, code: int | None = None, reason: str = "") -> bytes:
        """
        Start the closing handshake, or answer the peer's close.

        Before the connection is open this abandons it (nothing is sent;
        close the transport).  After our close, it does nothing.

        @param code: the close code (RFC 6455 / HyBi), by default 1000.
        @param reason: a short reason.
        @return: the bytes to write (with anything owed before them).
        @raise ValueError: C{code} may not be sent.
        """
        state = self.state
        if self.closeSent or state is CLOSED or state is FAILED:
            return b""
        if state is CONNECTING or state is HANDSHAKE:
            self._move(_Input.ERROR)
            return b""
        if code is None:
            code = CloseCode.NORMAL
        elif not isValidWireCode(code):
            raise ValueError(f"{code} is not a close code that may be sent")
        if state is OPEN:
            self.closeCode = code
            self.closeReason = reason
            if self.version is WebSocketVersion.HIXIE_75:
                self.closeSent = True
                self._stopSending()
                self._move(_Input.HANG_UP)
                return self.dataToSend()
            self._move(_Input.CLOSE_SENT)
        self._due = None
        framing = self._framing
        assert framing is not None
        frame = framing.encodeClose(code, reason)
        if state is CLOSING:
            self._move(_Input.CLOSE_SENT)
        self.closeSent = True
        self._stopSending()
        return self.dataToSend() + frame

    def fail(self, code: int, reason: str) -> bytes:
        """
        Fail the connection from our side (an internal error, say): a close
        frame with C{code} if the connection is open, then close the
        transport.
        """
        state = self.state
        if state is CLOSED or state is FAILED:
            return b""
        if state is CONNECTING or state is HANDSHAKE:
            self._move(_Input.ERROR)
            return b""
        self._failWith(code, reason)
        return self.dataToSend()

    def _failWith(self, code: int, reason: str) -> None:
        if not self.closeSent:
            self.closeCode = code
            self.closeReason = reason
            self._due = (code, reason)
        self._move(_Input.ERROR)

    def connectionLost(self) -> list[Any]:
        """
        The transport is gone (whatever the reason).

        @return: what that completed: for a client still reading the
            server's answer, the L{HandshakeRefused} whose body ended with
            the connection, or the L{InvalidHandshakeResponse} of an answer
            cut short; else nothing.
        """
        events: list[Any] = []
        reader = self._reader
        if self.state is CONNECTING and isinstance(reader, ResponseReader):
            try:
                response = reader.end()
            except InvalidHandshakeResponse as error:
                events.append(self._failResponse(error))
            else:
                events += self._responseRead(response, b"")
        self._reader = None
        self._move(_Input.CONNECTION_LOST)
        self._stopSending()
        self._due = None
        self._outbox = None
        self._decoder = None
        self._pending = b""
        return events


class _Limits(NamedTuple):
    """
    What every connection of one role and one set of settings shares: its
    role, size limits, versions and frame formats (one object, not a slot
    each per connection; see L{_shared}).
    """

    role: Role
    maxHandshakeSize: int
    maxFrameSize: int | None
    maxMessageSize: int
    versions: frozenset[WebSocketVersion]
    framings: Framings  # compared by identity


#: The most L{_Limits} one L{Framings} keeps: one per layer, in practice (the
#: clients of a process share one Framings, and seldom differ in limits).
MAX_SHARED_LIMITS = 64


def _shared(
    role: Role,
    maxHandshakeSize: int,
    maxFrameSize: int | None,
    maxMessageSize: int,
    versions: frozenset[WebSocketVersion],
    framings: Framings,
) -> _Limits:
    """
    The L{_Limits} of these values: the one the connections of C{framings}
    (one layer's, in practice) with these limits use already, if any.  Kept
    by the framings, so it goes with them.
    """
    # The role as a bool: an Enum member hashes in Python, slowly.
    key = (role is Role.SERVER, maxHandshakeSize, maxFrameSize, maxMessageSize, versions)
    shared = framings.shared.get(key)
    if shared is not None:
        return shared  # type: ignore[return-value]
    limits = _Limits(role, *key[1:], framings)
    if len(framings.shared) < MAX_SHARED_LIMITS:
        framings.shared[key] = limits
    return limits


def _cannotSend(message: Message) -> bytes:
    """L{WebSocketProtocol.send} while data may not be sent."""
    raise InvalidState("cannot send: the connection is not open, or our close was sent")


def _controlOnly(events: list[Any]) -> list[Any]:
    """C{events} without data messages (which arrived after our close)."""
    return [event for event in events if type(event) is not str and type(event) is not bytes]
