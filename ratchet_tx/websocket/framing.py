# -*- test-case-name: tests.websocket.test_broadcast,tests.websocket.test_framing -*-
"""
The two frame formats behind one small interface, for either role.

RFC 6455, HyBi-10 and HyBi-07 share one frame format (L{HybiFraming});
Hixie-76 and Hixie-75 share the other (L{HixieFraming}).  A L{Framings} holds
one of each for one role, and is shared by every connection of a layer.

Encoding once for many
======================

A server sends the same message object to many clients (a broadcast).  Each
server-side framing remembers the last message it framed and that message's
frames: the plain one, and with permessage-deflate without context takeover
one per set of compression parameters (L{PerMessageDeflate.sharedKey}).  The
rule that keeps this correct is in one place, L{_Remembering._remember}: a
message is remembered only if it is exactly C{str} or C{bytes} (immutable,
so one object always has the same frames), remembering another message drops
everything that belonged to the previous one, and frames are looked up only
for the remembered object itself.  Anything else -- a C{str} subclass, a
C{bytearray}, a C{memoryview} -- is converted to C{str} or C{bytes} and framed
anew on every send: its content may change between sends, and a subclass
need not behave like its value.

Client frames are masked with a fresh key each (RFC 6455 section 5.3), so they
are never cached.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from ratchet_tx.websocket.codecs import hixie, hybi
from ratchet_tx.websocket.codecs.deflate import PerMessageDeflate
from ratchet_tx.websocket.codecs.handshake import WebSocketVersion
from ratchet_tx.websocket.codecs.pieces import Pieces

#: A frame as a framing makes it: C{bytes}, or for a large server-side
#: message its header and payload as L{Pieces} (written without joining).
Frame = bytes | Pieces


class Role(Enum):
    """
    Which end of a WebSocket connection a protocol plays.

    The server answers the opening handshake, sends unmasked frames and
    closes TCP first; the client sends the opening handshake and masked
    frames, and waits for the server to close TCP.
    """

    SERVER = "server"
    CLIENT = "client"


class BinaryNotSupported(TypeError):
    """
    A C{bytes} message was sent to a Hixie-76/75 peer.

    Those drafts have no binary frames.  Sending bytes to such a peer raises
    this error (which reaches the application's C{onError}) rather than
    guessing an encoding; send C{str}, or check C{conn.version.isHixie}.
    """


Message = str | bytes | bytearray | memoryview


def plainMessage(message: object) -> str | bytes:
    """
    C{message} as exactly C{str} or C{bytes}: a copy for anything else that
    a WebSocket message may be (a C{str} subclass, C{bytearray},
    C{memoryview}).

    @raise TypeError: if C{message} is neither text nor bytes-like.
    """
    if isinstance(message, str):
        return message if type(message) is str else str.__str__(message)
    if isinstance(message, (bytes, bytearray, memoryview)):
        return message if type(message) is bytes else bytes(message)
    raise TypeError(f"a WebSocket message is str or bytes, not {type(message).__name__}")


class _Remembering:
    """
    A server-side framing's memory of the last message it framed.

    @ivar _message: that message: exactly C{str} or C{bytes}, or C{None}.
    @ivar _plain: its uncompressed frame, if built.
    @ivar _compressed: its compressed frames by
        L{PerMessageDeflate.sharedKey}, if any were built.
    @ivar encodeMessage: C{self.encode}, bound once: what the connections
        framed by this framing call to send (one bound method shared by
        all, not one each).
    """

    __slots__ = ("_compressed", "_message", "_plain", "encodeMessage")

    def __init__(self) -> None:
        self.encodeMessage: Callable[[Message], Frame] = self.encode
        self._message: str | bytes | None = None
        self._plain: Frame | None = None
        self._compressed: dict[object, bytes] | None = None

    def _remember(self, message: object) -> bool:
        """
        Make C{message} the remembered one, forgetting the frames of any
        other.

        @return: whether C{message} may be cached at all (exactly C{str} or
            C{bytes}); if not, nothing is remembered.
        """
        if message is self._message:
            return True
        kind = type(message)
        if kind is not str and kind is not bytes:
            return False
        self._message = message  # type: ignore[assignment]
        self._plain = None
        self._compressed = None
        return True

    def encode(self, message: Message, deflate: PerMessageDeflate | None = None) -> Frame:
        raise NotImplementedError


class HybiFraming(_Remembering):
    """
    Frames of RFC 6455 and HyBi-07..12, as a server sends them: unmasked,
    and cached for the message last sent (see the module docstring).

    With permessage-deflate, a connection that keeps its compression context
    between messages has frames of its own, encoded per connection; without
    context takeover a frame depends only on the parameters, and is cached
    per set of parameters like a plain one.
    """

    __slots__ = ()

    role = Role.SERVER
    supportsBinary = True
    supportsPing = True

    def decoder(
        self,
        *,
        maxMessageSize: int,
        maxFrameSize: int | None = None,
        deflate: PerMessageDeflate | None = None,
    ) -> hybi.FrameDecoder:
        """A decoder for the frames the peer sends (masked, from a client)."""
        return hybi.FrameDecoder(
            maxFrameSize=maxFrameSize,
            maxMessageSize=maxMessageSize,
            expectMasked=self.role is Role.SERVER,
            deflate=deflate,
        )

    def encode(self, message: Message, deflate: PerMessageDeflate | None = None) -> Frame:
        """
        The frame of a whole message: C{str} as text, bytes-like as binary;
        for a payload of L{hybi.PIECES_SIZE} bytes or more (uncompressed),
        its header and the payload as L{Pieces}.

        @param deflate: the connection's permessage-deflate, if agreed.
        """
        if deflate is not None:
            return self._encodeCompressed(message, deflate)
        if message is self._message:
            frame = self._plain
            if frame is not None:
                return frame
        kind = type(message)
        if kind is str:
            frame = hybi.frameText(message)  # type: ignore[arg-type]
        elif kind is bytes:
            frame = hybi.frameBinary(message)  # type: ignore[arg-type]
        else:
            return hybi.encodeMessage(plainMessage(message))
        # self._remember(message), inlined: message is exactly str or bytes.
        if message is not self._message:
            self._message = message  # type: ignore[assignment]
            self._compressed = None
        self._plain = frame
        return frame

    def _encodeCompressed(self, message: Message, deflate: PerMessageDeflate) -> bytes:
        key = deflate.sharedKey
        if key is None or not self._remember(message):
            return hybi.encodeMessage(plainMessage(message), deflate)
        frames = self._compressed
        if frames is None:
            frames = self._compressed = {}
        frame = frames.get(key)
        if frame is None:
            frame = frames[key] = hybi.encodeMessage(message, deflate)  # type: ignore[arg-type]
        return frame

    def encodeClose(self, code: int | None, reason: str) -> bytes:
        return hybi.encodeClose(code, reason)

    def encodePing(self, payload: bytes) -> bytes:
        return hybi.encodePing(payload)

    def encodePong(self, payload: bytes) -> bytes:
        return hybi.encodePong(payload)


class ClientHybiFraming(HybiFraming):
    """
    Frames of RFC 6455 and HyBi-07..12 as a client sends them: each masked
    with a fresh, unpredictable key, so never cached.
    """

    __slots__ = ("_nextKey",)

    role = Role.CLIENT

    def __init__(self, keys: hybi.MaskKeys | None = None) -> None:
        """
        @param keys: where the masking keys come from: the process's own
            L{hybi.MaskKeys} by default.
        """
        super().__init__()
        self._nextKey = (keys or _processKeys()).next

    def encode(self, message: Message, deflate: PerMessageDeflate | None = None) -> bytes:
        if deflate is None:
            # The hot path of a client: one C call builds the frame.
            kind = type(message)
            if kind is str:
                return _maskedText(message, self._nextKey())  # type: ignore[arg-type]
            if kind is bytes:
                return _maskedFrame(_FIN_BINARY, message, self._nextKey())  # type: ignore[arg-type]
        return hybi.encodeMaskedMessage(plainMessage(message), deflate, key=self._nextKey())

    def encodeClose(self, code: int | None, reason: str) -> bytes:
        return hybi.encodeMaskedClose(code, reason, key=self._nextKey())

    def encodePing(self, payload: bytes) -> bytes:
        return hybi.encodeMaskedPing(payload, key=self._nextKey())

    def encodePong(self, payload: bytes) -> bytes:
        return hybi.encodeMaskedPong(payload, key=self._nextKey())


_maskedText = hybi.maskedText
_maskedFrame = hybi.maskedFrame
_FIN_BINARY = hybi.FIN | int(hybi.Opcode.BINARY)

_keys: list[hybi.MaskKeys] = []


def _processKeys() -> hybi.MaskKeys:
    """The masking keys every client connection of this process draws from."""
    if not _keys:
        _keys.append(hybi.MaskKeys())
    return _keys[0]


class HixieFraming(_Remembering):
    """
    Frames of Hixie-76 and Hixie-75, the same from either end: text only, no
    ping, a bare close (Hixie-76 only).
    """

    __slots__ = ("role",)

    supportsBinary = False
    supportsPing = False

    def __init__(self, role: Role) -> None:
        super().__init__()
        self.role = role

    def decoder(
        self,
        *,
        maxMessageSize: int,
        maxFrameSize: int | None = None,
        deflate: PerMessageDeflate | None = None,
    ) -> hixie.HixieDecoder:
        """
        A decoder for the peer's frames.  Hixie frames are messages, held to
        C{maxMessageSize}; the drafts have no extensions (no C{deflate}).
        """
        return hixie.HixieDecoder(maxMessageSize=maxMessageSize)

    def encode(self, message: Message, deflate: PerMessageDeflate | None = None) -> Frame:
        """
        The frame of a text message (the drafts have no extensions: no
        C{deflate}).

        @raise BinaryNotSupported: for bytes-like messages.
        """
        if message is self._message:
            frame = self._plain
            if frame is not None:
                return frame
        if type(message) is not str:
            if isinstance(message, str):
                return hixie.encodeText(str.__str__(message))
            if isinstance(message, (bytes, bytearray, memoryview)):
                raise BinaryNotSupported(
                    "Hixie-76/75 peers cannot receive binary messages; send str"
                )
            raise TypeError(f"a WebSocket message is str or bytes, not {type(message).__name__}")
        frame = hixie.encodeText(message)
        if self.role is Role.SERVER:
            self._remember(message)
            self._plain = frame
        return frame

    def encodeClose(self, code: int | None, reason: str) -> bytes:
        return hixie.CLOSE_FRAME


Framing = HybiFraming | HixieFraming


class Framings:
    """
    The two frame formats for one role, shared by many connections so that
    a message sent to all of them is framed once per format.
    """

    __slots__ = ("hixie", "hybi", "shared")

    def __init__(self, role: Role) -> None:
        self.hybi = HybiFraming() if role is Role.SERVER else ClientHybiFraming()
        self.hixie = HixieFraming(role)
        #: What the connections framed by these share besides (their
        #: protocol's limits: see L{ratchet_tx.websocket.protocol}), by key.
        self.shared: dict[object, object] = {}

    def forVersion(self, version: WebSocketVersion) -> Framing:
        """The frame format C{version} speaks."""
        return self.hixie if version.isHixie else self.hybi
