# -*- test-case-name: tests.codecs.test_hybi -*-
"""
Framing for HyBi-07, HyBi-08 to -12 and RFC 6455 (C{Sec-WebSocket-Version} 7,
8 and 13), which share one frame format.

Theory of operation
===================

A frame is a header of 2 to 14 bytes followed by its payload::

    byte 0     FIN | RSV1 RSV2 RSV3 | opcode (4 bits)
    byte 1     MASK | length (7 bits): 0-125, or 126 / 127 for a 2 / 8 byte
               big-endian length after it
    [4 bytes]  masking key, when MASK is set (always from a client, never
               from a server); the payload is XORed with it

A message is one TEXT or BINARY frame, or such a frame with FIN clear followed
by CONTINUATION frames up to one with FIN set.  Control frames (CLOSE, PING,
PONG) carry at most 125 bytes, are never fragmented and may come between the
fragments of a message.

L{FrameDecoder.feed} runs over each read in one loop with an offset into it.
The common case, a frame that is complete in the read and is a whole message,
is handled inline: header checks, one slice, one unmask, one
C{bytes.decode}.  Everything else goes through two small steps that keep
state between reads:

    - L{FrameDecoder._startFrame} checks a data frame's place in the message
      (continuation or start) and the message size, and records the frame
      whose payload is now arriving;
    - L{FrameDecoder._receivePayload} takes whatever part of that payload the
      read holds, unmasks it, validates text at once (so invalid UTF-8 fails
      the connection as soon as it arrives, even mid-frame), and completes the
      message when the final frame ends.

So a payload is never buffered in raw form: what is kept between reads is at
most one incomplete header or control frame (C{bytes} of at most
L{_MAX_BUFFERED} length) plus the already-received parts of the message,
whose declared size was checked against the limits from the header alone.

Large messages.  A whole message in one uncompressed frame of at least
L{PAYLOAD_BUFFER_SIZE} bytes that the read does not hold whole is received
into a L{PayloadBuffer} of its size instead (L{FrameDecoder.readBuffer}):
the compiled one makes the message's final C{bytes} object at once, private
until it is complete, and unmasks into it what each read holds; whoever
reads may also put the next bytes straight into its window (a socket's
C{recv_into}) and have them unmasked in place, then feed C{b""}.  The
message is then handed out as that very object: received once, never
joined.  Text is decoded as it arrives, as above.  The buffer is made from
the header alone, so a peer can make us hold up to the message limit per
connection by announcing a frame: as much as it could make us hold by
sending one (and what the C allocator maps fresh for it costs no memory
until it is received).

Sending a large message (L{frameBinary}, L{frameText}, from L{PIECES_SIZE}
on) gives its header and the payload as L{Pieces}, to be written side by
side rather than copied into one C{bytes}.

With permessage-deflate agreed (a L{PerMessageDeflate} given to the decoder),
RSV1 on the first frame of a data message marks it compressed; RSV1 on a
continuation or control frame fails with 1002.  Such a message never takes
the inline path: L{FrameDecoder._receivePayload} inflates each piece as it
arrives, checks the inflated size against the message limit (the wire size
of a compressed message is only held to the frame limit) and validates text
on the inflated bytes.  Uncompressed messages are decoded exactly as without
the extension.

Bad input raises a L{ProtocolError} with the close code to send, which also
carries the events completed before the bad bytes;
the decoder then stays failed.  After a CLOSE frame it ignores anything else.

A client decodes with C{expectMasked=False} (a masked frame from a server
fails with 1002) and encodes with the C{encodeMasked*} functions: each frame
gets a fresh key from a L{MaskKeys}, and L{maskedFrame} writes header, key
and masked payload into one new C{bytes} (in C when the speedups are built),
so the payload is copied once; L{maskedText} does the same from a C{str},
reading ASCII text in place (no intermediate C{bytes}).
"""

from __future__ import annotations

import os
import struct
import weakref
from collections.abc import Callable, Iterator
from enum import IntEnum
from itertools import chain
from typing import TYPE_CHECKING, Any

from ratchet_tx.websocket.codecs.closecodes import CloseCode, isValidWireCode
from ratchet_tx.websocket.codecs.deflate import deflatedSizeBound
from ratchet_tx.websocket.codecs.errors import ProtocolError
from ratchet_tx.websocket.codecs.events import Close, Event, Ping, Pong
from ratchet_tx.websocket.codecs.pieces import Pieces
from ratchet_tx.websocket.codecs.utf8 import Utf8Decoder

if TYPE_CHECKING:
    from ratchet_tx.websocket.codecs import _speedups
    from ratchet_tx.websocket.codecs.deflate import PerMessageDeflate


class Opcode(IntEnum):
    """Frame opcodes (RFC 6455 section 5.2); the others are reserved."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


# Header byte 0.
FIN = 0x80
#: The RSV bits as a 3-bit number: RSV1 (used by permessage-deflate) is 4.
RSV1 = 0b100
RSV2 = 0b010
RSV3 = 0b001
_RSV_SHIFT = 4
_RSV_BITS = 0b111
#: RSV1 as it is in header byte 0: a compressed message's first frame.
_COMPRESSED = RSV1 << _RSV_SHIFT
_OPCODE_BITS = 0x0F

# Header byte 1.
MASK_BIT = 0x80
_LENGTH_BITS = 0x7F

#: The largest payload length that fits in the 7-bit length field, and the
#: most a control frame may carry.
MAX_PAYLOAD_NORMAL = 125
#: A 7-bit length of this value announces a 16-bit length.
PAYLOAD_LENGTH_16 = 126
#: A 7-bit length of this value announces a 64-bit length.
PAYLOAD_LENGTH_64 = 127
#: The largest payload length that fits in the 16-bit length field.
MAX_PAYLOAD_16 = 2**16 - 1
#: The 64-bit length field must have its most significant bit clear.
MAX_PAYLOAD_64 = 2**63 - 1
_LENGTH_16_SIZE = 2
_LENGTH_64_SIZE = 8
MASK_KEY_SIZE = 4
_MAX_HEADER_SIZE = 2 + _LENGTH_64_SIZE + MASK_KEY_SIZE
#: The most the decoder keeps unparsed between reads: a header with a control
#: frame's payload, the only kind of frame it waits to have whole.
_MAX_BUFFERED = _MAX_HEADER_SIZE + MAX_PAYLOAD_NORMAL

#: A close payload is empty, or a 2-byte code followed by a UTF-8 reason.
CLOSE_CODE_SIZE = 2
MAX_CLOSE_REASON = MAX_PAYLOAD_NORMAL - CLOSE_CODE_SIZE


#: Payloads from this size on are unmasked with C{bytes.translate} on strided
#: slices; smaller ones with one XOR of two big integers (faster up to here).
_TRANSLATE_MASK_THRESHOLD = 512
_XOR_TABLES = [bytes(byte ^ keyByte for byte in range(256)) for keyByte in range(256)]

#: UTF-8 lead bytes start with 0b11; continuation bytes with 0b10.
_UTF8_CONTINUATION_MASK = 0xC0
_UTF8_CONTINUATION = 0x80

# Plain ints for the decoding loop: comparing with an enum member costs an
# attribute lookup each time.
_CONTINUATION = int(Opcode.CONTINUATION)
_TEXT = int(Opcode.TEXT)
_BINARY = int(Opcode.BINARY)
_CLOSE = int(Opcode.CLOSE)
_PING = int(Opcode.PING)
_PONG = int(Opcode.PONG)
_FIN_TEXT = FIN | _TEXT
_FIN_BINARY = FIN | _BINARY

_fromBytes = int.from_bytes


def pythonApplyMask(data: bytes, key: bytes) -> bytes:
    """
    XOR C{data} with the 4-byte masking C{key}, repeated (RFC 6455 section
    5.3).  Masking and unmasking are the same operation.

    The pure-Python L{applyMask}, used when the optional C speedups were not
    built.

    @param data: the payload, or a part of it that starts at an offset
        multiple of 4 (rotate the key otherwise).
    @param key: the 4-byte masking key.
    @return: the masked (or unmasked) bytes.
    """
    size = len(data)
    if size < _TRANSLATE_MASK_THRESHOLD:
        keys = (key * (size // MASK_KEY_SIZE + 1))[:size]
        return (_fromBytes(data, "little") ^ _fromBytes(keys, "little")).to_bytes(size, "little")
    masked = bytearray(data)
    for index in range(MASK_KEY_SIZE):
        masked[index::MASK_KEY_SIZE] = masked[index::MASK_KEY_SIZE].translate(
            _XOR_TABLES[key[index]]
        )
    return bytes(masked)


def pythonMaskedFrame(b0: int, payload: bytes, key: bytes) -> bytes:
    """
    A whole masked frame: header byte C{b0}, the mask bit and the length,
    C{key}, then C{payload} XORed with C{key}.

    The pure-Python L{maskedFrame}, used when the optional C speedups were
    not built.

    @param b0: the first header byte (FIN, RSV bits, opcode).
    @param payload: the payload, unmasked.
    @param key: the 4-byte masking key.
    """
    return _header(b0, MASK_BIT, len(payload)) + key + pythonApplyMask(payload, key)


def pythonMaskedText(text: str, key: bytes) -> bytes:
    """
    The masked frame (FIN, text opcode) of a whole text message, C{text} in
    UTF-8.

    The pure-Python L{maskedText}, used when the optional C speedups were
    not built.

    @raise UnicodeEncodeError: C{text} holds a lone surrogate.
    """
    return pythonMaskedFrame(_FIN_TEXT, text.encode("utf-8"), key)


class PythonPayloadBuffer:
    """
    The payload of one large frame, received in place: filled in order,
    either by L{write} (a copy of received bytes, unmasked as they are
    copied) or by a socket reading straight into L{window}, followed by
    L{advance} (which unmasks what was read); handed out whole by L{take}.

    The pure-Python L{PayloadBuffer}, used when the optional C speedups were
    not built: it fills a C{bytearray} and L{take} copies it into C{bytes}.
    The compiled one fills the C{bytes} object it hands out, made at its
    final size up front and private until then, so that a payload is never
    copied after it is read.

    @ivar size: the payload's size.
    @ivar filled: how many of its bytes were received so far.
    """

    __slots__ = ("_data", "_key", "filled", "size")

    def __init__(self, size: int, key: bytes | None = None) -> None:
        """
        @param size: the payload's size, in bytes.
        @param key: the frame's 4-byte masking key, or C{None} for a frame
            that is not masked.
        """
        if size < 0:
            raise ValueError("a payload's size is not negative")
        if key is not None and len(key) != MASK_KEY_SIZE:
            raise ValueError("the masking key is 4 bytes")
        self.size = size
        self.filled = 0
        self._key = key
        self._data: bytearray | None = bytearray(size)

    def window(self) -> memoryview | None:
        """
        The part of the payload not received yet, writable; C{None} once it
        is complete, taken or closed.
        """
        data = self._data
        if data is None or self.filled == self.size:
            return None
        return memoryview(data)[self.filled :]

    def view(self, start: int, stop: int) -> memoryview:
        """The bytes received from offset C{start} to C{stop}, unmasked."""
        data = self._open()
        if not 0 <= start <= stop <= self.filled:
            raise ValueError("view() of bytes not received")
        return memoryview(data)[start:stop]

    def advance(self, count: int) -> None:
        """C{count} bytes were received into L{window}: unmask them."""
        data = self._open()
        start = self.filled
        if not 0 <= count <= self.size - start:
            raise ValueError("advance() past the end of the payload")
        stop = start + count
        if self._key is not None and count:
            data[start:stop] = pythonApplyMask(bytes(data[start:stop]), self._keyAt(start))
        self.filled = stop

    def write(self, data: bytes, start: int) -> int:
        """
        Copy C{data[start:]}, unmasked, as much of it as the payload still
        lacks.

        @return: how many bytes were taken.
        """
        target = self._open()
        if not 0 <= start <= len(data):
            raise ValueError("write() from outside the data")
        count = min(len(data) - start, self.size - self.filled)
        piece = data[start : start + count]
        if self._key is not None and count:
            piece = pythonApplyMask(piece, self._keyAt(self.filled))
        target[self.filled : self.filled + count] = piece
        self.filled += count
        return count

    def take(self) -> bytes:
        """The complete payload, once: the buffer is spent afterwards."""
        data = self._open()
        if self.filled != self.size:
            raise ValueError("the payload is not complete")
        self._data = None
        return bytes(data)

    def close(self) -> None:
        """Give the payload up unfinished: L{window} is C{None} from now on."""
        self._data = None

    def _open(self) -> bytearray:
        data = self._data
        if data is None:
            raise ValueError("the payload buffer was taken or closed")
        return data

    def _keyAt(self, offset: int) -> bytes:
        """The masking key as it applies from payload offset C{offset} on."""
        key = self._key
        assert key is not None
        turn = offset % MASK_KEY_SIZE
        return key[turn:] + key[:turn]


if TYPE_CHECKING:
    #: Either kind of payload buffer (see L{PythonPayloadBuffer}).
    AnyPayloadBuffer = PythonPayloadBuffer | _speedups.PayloadBuffer

_compiledApplyMask: Callable[[bytes, bytes], bytes] | None
_compiledMaskedFrame: Callable[[int, bytes, bytes], bytes] | None
_compiledMaskedText: Callable[[str, bytes], bytes] | None
try:
    from ratchet_tx.websocket.codecs._speedups import applyMask as _compiledApplyMask
    from ratchet_tx.websocket.codecs._speedups import maskedFrame as _compiledMaskedFrame
except ImportError:  # built without a C compiler: pure Python it is
    _compiledApplyMask = None
    _compiledMaskedFrame = None
try:
    from ratchet_tx.websocket.codecs._speedups import maskedText as _compiledMaskedText
except ImportError:  # no speedups, or built from an older source
    _compiledMaskedText = None
_compiledPayloadBuffer: type[_speedups.PayloadBuffer] | None
try:
    from ratchet_tx.websocket.codecs._speedups import PayloadBuffer as _compiledPayloadBuffer
except ImportError:  # no speedups, or built from an older source
    _compiledPayloadBuffer = None

#: Whether L{applyMask} and L{maskedFrame} are the compiled ones
#: (C{ratchet_tx/websocket/codecs/_speedups.c}).
SPEEDUPS = _compiledApplyMask is not None

#: XOR C{data} with the 4-byte masking C{key}, repeated (RFC 6455 section
#: 5.3): the compiled version if it was built, else L{pythonApplyMask}.
applyMask = _compiledApplyMask if _compiledApplyMask is not None else pythonApplyMask

#: Build a whole masked frame from its first header byte, its payload and
#: its key, copying the payload once: the compiled version if it was built,
#: else L{pythonMaskedFrame}.
maskedFrame: Callable[[int, bytes, bytes], bytes] = (
    _compiledMaskedFrame if _compiledMaskedFrame is not None else pythonMaskedFrame
)

#: Build the masked frame of a whole text message from the C{str} and its
#: key, without an intermediate C{bytes} for ASCII text: the compiled
#: version if it was built, else L{pythonMaskedText}.
maskedText: Callable[[str, bytes], bytes] = (
    _compiledMaskedText if _compiledMaskedText is not None else pythonMaskedText
)


#: The buffer a large frame's payload is received into (see
#: L{PythonPayloadBuffer}): the compiled one if it was built.
PayloadBuffer: type[AnyPayloadBuffer] = (
    _compiledPayloadBuffer if _compiledPayloadBuffer is not None else PythonPayloadBuffer
)

#: A whole-message frame whose payload is at least this large, and is not
#: all in the read its header came in, is received into a L{PayloadBuffer}
#: of its size (see L{FrameDecoder.readBuffer}).
PAYLOAD_BUFFER_SIZE = 64 * 1024


def _fail(reason: str) -> ProtocolError:
    return ProtocolError(CloseCode.PROTOCOL_ERROR, reason)


def _tooBig(length: int) -> ProtocolError:
    return ProtocolError(CloseCode.MESSAGE_TOO_BIG, f"frame of {length} bytes is too big")


def _checkControl(b0: int, length: int) -> None:
    """
    Check the header of a frame whose opcode is neither TEXT, BINARY nor
    CONTINUATION.

    @param b0: the first byte of the header.
    @param length: the 7-bit length field.
    """
    opcode = b0 & _OPCODE_BITS
    if opcode < _CLOSE or opcode > _PONG:
        raise _fail(f"reserved opcode {opcode}")
    if not b0 & FIN:
        raise _fail("fragmented control frame")
    if b0 & _COMPRESSED:
        raise _fail("compressed control frame")
    if length > MAX_PAYLOAD_NORMAL:
        raise _fail("control frame payload over 125 bytes")


def _closeEvent(payload: bytes) -> Close:
    """
    Parse and check the payload of a CLOSE frame.
    """
    if not payload:
        return Close(None, "")
    if len(payload) < CLOSE_CODE_SIZE:
        raise _fail("close frame with a 1-byte payload")
    code = _fromBytes(payload[:CLOSE_CODE_SIZE], "big")
    if not isValidWireCode(code):
        raise _fail(f"invalid close code {code}")
    try:
        reason = payload[CLOSE_CODE_SIZE:].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(CloseCode.INVALID_PAYLOAD, "invalid UTF-8 in close reason") from None
    return Close(code, reason)


class FrameDecoder:
    """
    Turn the bytes a peer sends into messages and control events.

    @ivar maxFrameSize: the largest payload accepted in one frame.
    @ivar maxMessageSize: the largest message accepted, all fragments
        together (inflated, for a compressed message).
    @ivar readBuffer: the L{PayloadBuffer} the payload of the frame now
        arriving is received into, if it is a whole message of at least
        L{PAYLOAD_BUFFER_SIZE} bytes that did not arrive in one read; else
        C{None}.  Whoever reads may put the next bytes straight into its
        C{window()} and call its C{advance()} with their count, then
        L{feed} C{b""} (or more bytes, which go on filling it) to have the
        decoder go on.  (Read-only; the decoder sets it.)
    """

    __slots__ = (
        "maxFrameSize",
        "maxMessageSize",
        "_frameLimit",
        "_maskBit",
        "_forbiddenRsv",
        "_deflate",
        "_buffer",
        "_error",
        "_closed",
        # The data frame whose payload is arriving (see _startFrame).
        "_remaining",
        "_received",
        "_key",
        "_fin",
        # The message being assembled: _messageOpcode is _TEXT or _BINARY,
        # or _CONTINUATION when no message is in progress.
        "_messageOpcode",
        "_messageSize",
        "_compressed",
        "_parts",
        "_utf8",
        "readBuffer",
    )

    def __init__(
        self,
        *,
        maxMessageSize: int,
        maxFrameSize: int | None = None,
        expectMasked: bool = True,
        deflate: PerMessageDeflate | None = None,
    ) -> None:
        """
        @param maxMessageSize: the largest message accepted, all fragments
            together and, for a compressed message, once inflated; a larger
            one fails with 1009.
        @param maxFrameSize: the largest payload accepted in one frame; a
            larger one fails with 1009 as soon as its header arrives.
            C{None}: the same as C{maxMessageSize}.  With C{deflate}, a
            frame's wire size may exceed it by what deflating adds to data
            that does not compress (L{deflatedSizeBound}).
        @param expectMasked: C{True} on a server, where every frame from the
            client must be masked; C{False} on a client, where no frame from
            the server may be.  Either mistake fails with 1002.
        @param deflate: the connection's permessage-deflate, if agreed: it
            inflates the messages whose first frame has RSV1.  Without it,
            any RSV bit fails with 1002; with it, RSV2 and RSV3 still do.
            A compressed message's limit is on its inflated size, checked as
            it inflates.
        """
        if maxFrameSize is None:
            maxFrameSize = maxMessageSize
        self.maxFrameSize = maxFrameSize
        self.maxMessageSize = maxMessageSize
        # A compressed frame may be a little larger than the message it
        # inflates to, whose own limit is checked as it inflates.
        self._frameLimit = (
            min(maxFrameSize, maxMessageSize)
            if deflate is None
            else deflatedSizeBound(maxFrameSize)
        )
        self._maskBit = MASK_BIT if expectMasked else 0
        allowedRsv = 0 if deflate is None else RSV1
        self._forbiddenRsv = (_RSV_BITS & ~allowedRsv) << _RSV_SHIFT
        self._deflate = deflate
        self._buffer = b""
        self._error: ProtocolError | None = None
        self._closed = False
        self._remaining = 0
        self._received = 0
        self._key: bytes | None = None
        self._fin = False
        self._messageOpcode = _CONTINUATION
        self._messageSize = 0
        self._compressed = False
        # Text or bytes pieces, as the message is.
        self._parts: list[Any] = []
        self._utf8 = Utf8Decoder()
        self.readBuffer: AnyPayloadBuffer | None = None

    def feed(self, data: bytes) -> list[Event]:
        """
        Parse the next bytes received.

        @param data: any number of bytes, split anywhere.
        @return: the events completed by C{data}, in order: a C{str} for each
            text message, C{bytes} for each binary message, and L{Ping},
            L{Pong} and L{Close} for control frames.  After a L{Close}, the
            rest of C{data} and every later call are ignored.
        @raise ProtocolError: the peer broke the protocol; deliver the error's
            C{events}, then close the connection with its C{code}.  Every
            later call raises a L{ProtocolError} with the same code and
            reason.
        """
        if self._error is not None:
            raise self._error
        if self._closed:
            return []
        events: list[Event] = []
        try:
            self._parse(data, events)
        except ProtocolError as error:
            self._error = ProtocolError(error.code, error.reason)
        except UnicodeDecodeError:
            self._error = ProtocolError(CloseCode.INVALID_PAYLOAD, "invalid UTF-8 in text")
        else:
            return events
        payload = self.readBuffer
        if payload is not None:
            self.readBuffer = None
            payload.close()
        raise ProtocolError(self._error.code, self._error.reason, events)

    def _parse(self, data: bytes, events: list[Event]) -> None:
        """
        Parse C{data} into C{events}: the body of L{feed}.
        """
        pos = 0
        if self.readBuffer is not None:
            pos = self._fillBuffer(data, events)
            if self.readBuffer is not None:
                return
        elif self._remaining:
            pos = self._receivePayload(data, pos, events)
            if self._remaining:
                return
        if self._buffer:
            data = self._buffer + data[pos:]
            pos = 0
            self._buffer = b""
        end = len(data)
        maskBit = self._maskBit
        forbiddenRsv = self._forbiddenRsv
        frameLimit = self._frameLimit
        idle = self._messageOpcode == _CONTINUATION
        append = events.append
        key = None

        while end - pos > 1:
            b0 = data[pos]
            b1 = data[pos + 1]
            if b0 & forbiddenRsv or (b1 & MASK_BIT) != maskBit:
                raise self._headerError(b0)
            opcode = b0 & _OPCODE_BITS
            length = b1 & _LENGTH_BITS
            if opcode > _BINARY:
                _checkControl(b0, length)
            start = pos + 2
            if length > MAX_PAYLOAD_NORMAL:
                if length == PAYLOAD_LENGTH_16:
                    if end - start < _LENGTH_16_SIZE:
                        break
                    length = _fromBytes(data[start : start + _LENGTH_16_SIZE], "big")
                    start += _LENGTH_16_SIZE
                else:
                    if end - start < _LENGTH_64_SIZE:
                        break
                    length = _fromBytes(data[start : start + _LENGTH_64_SIZE], "big")
                    start += _LENGTH_64_SIZE
                    if length > MAX_PAYLOAD_64:
                        raise _fail("64-bit payload length with the top bit set")
            if length > frameLimit and opcode <= _BINARY:
                raise _tooBig(length)
            if maskBit:
                if end - start < MASK_KEY_SIZE:
                    break
                key = data[start : start + MASK_KEY_SIZE]
                start += MASK_KEY_SIZE
            stop = start + length

            if idle and stop <= end and (b0 == _FIN_TEXT or b0 == _FIN_BINARY):
                # A whole message in one frame, all of it in this read.
                payload = data[start:stop]
                if key is not None:
                    if SPEEDUPS or length >= _TRANSLATE_MASK_THRESHOLD:
                        payload = applyMask(payload, key)
                    else:
                        # pythonApplyMask, inlined for the most common frames.
                        keys = (key * (length // MASK_KEY_SIZE + 1))[:length]
                        payload = (
                            _fromBytes(payload, "little") ^ _fromBytes(keys, "little")
                        ).to_bytes(length, "little")
                append(payload if b0 == _FIN_BINARY else payload.decode("utf-8"))
                pos = stop
            elif opcode > _BINARY:
                # Control frames are small: wait until one is whole.
                if stop > end:
                    break
                payload = data[start:stop]
                if key is not None:
                    payload = applyMask(payload, key)
                pos = stop
                if opcode == _PING:
                    append(Ping(payload))
                elif opcode == _PONG:
                    append(Pong(payload))
                else:
                    append(_closeEvent(payload))
                    self._closed = True
                    return
            else:
                self._startFrame(b0, key, length)
                if (
                    idle
                    and length >= PAYLOAD_BUFFER_SIZE
                    and (b0 == _FIN_TEXT or b0 == _FIN_BINARY)
                ):
                    # A large message in one frame that this read does not
                    # hold whole: into a buffer of its size.
                    self.readBuffer = PayloadBuffer(length, key)
                    self._remaining = 0
                    self._received = 0
                    self.readBuffer.write(data, start)
                    self._bufferFilled(events)
                    return
                pos = self._receivePayload(data, start, events)
                idle = self._messageOpcode == _CONTINUATION

        if pos < end:
            self._buffer = data[pos:]

    def _headerError(self, b0: int) -> ProtocolError:
        """
        Explain why the first two bytes of a header were refused: reserved
        bits or the mask bit.
        """
        if b0 & self._forbiddenRsv:
            return _fail("reserved bits set without an extension to define them")
        return _fail("unmasked frame" if self._maskBit else "masked frame")

    def _startFrame(self, b0: int, key: bytes | None, length: int) -> None:
        """
        Check a data frame's place in the message and its size, and make it
        the frame whose payload L{_receivePayload} takes.

        @param b0: the first byte of its header: its opcode is TEXT, BINARY
            or CONTINUATION, and RSV1 is set only if permessage-deflate is.
        """
        opcode = b0 & _OPCODE_BITS
        if opcode == _CONTINUATION:
            if self._messageOpcode == _CONTINUATION:
                raise _fail("continuation frame without a message to continue")
            if b0 & _COMPRESSED:
                raise _fail("RSV1 set on a continuation frame")
        else:
            if self._messageOpcode != _CONTINUATION:
                raise _fail("new message before the fragmented one ended")
            self._messageOpcode = opcode
            self._messageSize = 0
            self._compressed = bool(b0 & _COMPRESSED)
            self._parts = []
            self._utf8.reset()
        if not self._compressed:
            # A compressed message's size is counted as it inflates.
            self._messageSize += length
            if self._messageSize > self.maxMessageSize:
                raise ProtocolError(
                    CloseCode.MESSAGE_TOO_BIG,
                    f"message of over {self.maxMessageSize} bytes is too big",
                )
        self._fin = bool(b0 & FIN)
        self._key = key
        self._received = 0
        self._remaining = length

    def _receivePayload(self, data: bytes, pos: int, events: list[Event]) -> int:
        """
        Take the part of the current frame's payload that C{data} holds from
        C{pos} on; if that ends the message, append it to C{events}.

        @return: the offset in C{data} after the part taken.
        """
        piece = data[pos : pos + self._remaining]
        size = len(piece)
        key = self._key
        if key is not None and size:
            offset = self._received % MASK_KEY_SIZE
            piece = applyMask(piece, key[offset:] + key[:offset])
        self._received += size
        self._remaining -= size
        done = self._fin and not self._remaining
        if self._compressed:
            piece = self._inflate(piece, done)
        parts = self._parts
        if self._messageOpcode == _TEXT:
            text = self._utf8.decode(piece, done)
            if text:
                parts.append(text)
            if done:
                events.append("".join(parts))
        else:
            if piece:
                parts.append(piece)
            if done:
                events.append(b"".join(parts))
        if done:
            self._messageOpcode = _CONTINUATION
            self._compressed = False
            self._parts = []
        return pos + size

    def _fillBuffer(self, data: bytes, events: list[Event]) -> int:
        """
        Go on receiving the large frame whose payload goes into
        L{readBuffer}: bytes read into it directly, then what C{data}
        holds of the payload.

        @return: the offset in C{data} after the part taken.
        """
        payload = self.readBuffer
        assert payload is not None
        taken = payload.write(data, 0) if data else 0
        self._bufferFilled(events)
        return taken

    def _bufferFilled(self, events: list[Event]) -> None:
        """
        Check the text received into L{readBuffer} so far, and once the
        payload is complete, append the message to C{events}.
        """
        payload = self.readBuffer
        assert payload is not None
        filled = payload.filled
        done = filled == payload.size
        if self._messageOpcode == _TEXT:
            # Decoded as it arrives: invalid UTF-8 fails at once.
            # (self._received counts the bytes decoded so far.)
            if filled > self._received or done:
                view = payload.view(self._received, filled)
                try:
                    text = self._utf8.decode(view, done)
                finally:
                    view.release()
                self._received = filled
                if text:
                    self._parts.append(text)
            if not done:
                return
            events.append("".join(self._parts))
            payload.close()
        elif done:
            events.append(payload.take())
        else:
            return
        self.readBuffer = None
        self._messageOpcode = _CONTINUATION
        self._parts = []

    def _inflate(self, piece: bytes, done: bool) -> bytes:
        """
        Inflate the next piece of a compressed message's payload, within
        the message size limit.
        """
        deflate = self._deflate
        assert deflate is not None
        inflated = deflate.decompress(piece, done, self.maxMessageSize - self._messageSize)
        self._messageSize += len(inflated)
        return inflated


def encodeFrame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = None,
) -> bytes:
    """
    Build one frame.  Nothing is checked, so tests can build invalid frames
    too: prefer the C{encode*} functions below.

    @param opcode: an L{Opcode}, or any 4-bit value.
    @param payload: the payload, unmasked.
    @param fin: whether the frame ends its message.
    @param rsv: the RSV bits, a 3-bit number (L{RSV1} is 4).
    @param mask: a 4-byte masking key (a client must send one per frame,
        chosen at random), or C{None} for an unmasked frame.
    @return: the frame's bytes.
    """
    b0 = (FIN if fin else 0) | rsv << _RSV_SHIFT | opcode
    if mask is None:
        return _header(b0, 0, len(payload)) + payload
    return _header(b0, MASK_BIT, len(payload)) + mask + applyMask(payload, mask)


def _header(b0: int, maskBit: int, length: int) -> bytes:
    if length <= MAX_PAYLOAD_NORMAL:
        return bytes((b0, maskBit | length))
    if length <= MAX_PAYLOAD_16:
        return bytes((b0, maskBit | PAYLOAD_LENGTH_16)) + length.to_bytes(_LENGTH_16_SIZE, "big")
    return bytes((b0, maskBit | PAYLOAD_LENGTH_64)) + length.to_bytes(_LENGTH_64_SIZE, "big")


#: The headers of unmasked final text and binary frames of up to 125 bytes,
#: built once: most messages are small.
_SMALL_TEXT_HEADERS = [bytes((FIN | _TEXT, length)) for length in range(MAX_PAYLOAD_NORMAL + 1)]
_SMALL_BINARY_HEADERS = [bytes((FIN | _BINARY, length)) for length in range(MAX_PAYLOAD_NORMAL + 1)]


def encodeText(text: str) -> bytes:
    """
    Build an unmasked frame holding a whole text message (server to client).
    """
    frame = frameText(text)
    return frame.join() if isinstance(frame, Pieces) else frame


def encodeBinary(data: bytes) -> bytes:
    """
    Build an unmasked frame holding a whole binary message (server to client).
    """
    frame = frameBinary(data)
    return frame.join() if isinstance(frame, Pieces) else frame


#: From this payload size on, L{frameText} and L{frameBinary} give the frame
#: as L{Pieces} rather than copy the payload behind its header.
PIECES_SIZE = 64 * 1024


def frameBinary(data: bytes) -> bytes | Pieces:
    """
    L{encodeBinary}, but a payload of L{PIECES_SIZE} bytes or more is not
    copied: the frame is the L{Pieces} (header, C{data}).
    """
    length = len(data)
    if length <= MAX_PAYLOAD_NORMAL:
        return _SMALL_BINARY_HEADERS[length] + data
    return _largerFrame(_FIN_BINARY, data)


def frameText(text: str) -> bytes | Pieces:
    """
    L{encodeText}, but the UTF-8 of a text of L{PIECES_SIZE} bytes or more
    is not copied behind the header: the frame is the L{Pieces} (header,
    payload).
    """
    payload = text.encode("utf-8")
    if len(payload) <= MAX_PAYLOAD_NORMAL:
        return _SMALL_TEXT_HEADERS[len(payload)] + payload
    return _largerFrame(_FIN_TEXT, payload)


def _largerFrame(b0: int, payload: bytes) -> bytes | Pieces:
    """An unmasked frame of over 125 bytes: L{Pieces} from L{PIECES_SIZE} on."""
    header = _header(b0, 0, len(payload))
    if len(payload) < PIECES_SIZE:
        return header + payload
    return Pieces((header, payload))


def encodeMessage(message: str | bytes, deflate: PerMessageDeflate | None = None) -> bytes:
    """
    Build an unmasked frame holding a whole message (server to client),
    compressed if permessage-deflate is agreed and the message is long
    enough.

    @param message: C{str} for a text message, C{bytes} for a binary one.
    @param deflate: the connection's permessage-deflate, or C{None}.  A
        payload of at least C{deflate.minSize} bytes is compressed with it
        and sent with RSV1 set.  Without context takeover, the frame may be
        sent to every connection whose L{PerMessageDeflate.sharedKey} is the
        same.
    @return: the frame's bytes.
    """
    if isinstance(message, str):
        b0 = FIN | _TEXT
        payload = message.encode("utf-8")
    else:
        b0 = FIN | _BINARY
        payload = message
    if deflate is not None and len(payload) >= deflate.minSize:
        payload = deflate.compress(payload)
        b0 |= _COMPRESSED
    return _header(b0, 0, len(payload)) + payload


def _encodeControl(opcode: int, payload: bytes) -> bytes:
    if len(payload) > MAX_PAYLOAD_NORMAL:
        raise ValueError(
            f"control frame payload of {len(payload)} bytes, over {MAX_PAYLOAD_NORMAL}"
        )
    return bytes((FIN | opcode, len(payload))) + payload


def encodePing(payload: bytes = b"") -> bytes:
    """
    Build an unmasked PING frame.

    @raise ValueError: C{payload} is over 125 bytes.
    """
    return _encodeControl(_PING, payload)


def encodePong(payload: bytes = b"") -> bytes:
    """
    Build an unmasked PONG frame, the answer to a PING with C{payload}.

    @raise ValueError: C{payload} is over 125 bytes.
    """
    return _encodeControl(_PONG, payload)


def encodeClose(code: int | None = None, reason: str = "") -> bytes:
    """
    Build an unmasked CLOSE frame.

    @param code: the close code, or C{None} for an empty payload.
    @param reason: why; cut to fit in the 125-byte payload, at a character
        boundary.  Only sent with a code.
    @raise ValueError: C{code} may not be sent (see
        L{closecodes.isValidWireCode}), or C{reason} is given without a
        C{code}.
    """
    return _encodeControl(_CLOSE, _closePayload(code, reason))


def _closePayload(code: int | None, reason: str) -> bytes:
    """
    The payload of a CLOSE frame; see L{encodeClose}.
    """
    if code is None:
        if reason:
            raise ValueError("a close reason needs a close code")
        return b""
    if not isValidWireCode(code):
        raise ValueError(f"close code {code} may not be sent")
    encoded = reason.encode("utf-8")
    if len(encoded) > MAX_CLOSE_REASON:
        cut = MAX_CLOSE_REASON
        # Back up to the lead byte of the character the limit falls in.
        while encoded[cut] & _UTF8_CONTINUATION_MASK == _UTF8_CONTINUATION:
            cut -= 1
        encoded = encoded[:cut]
    return code.to_bytes(CLOSE_CODE_SIZE, "big") + encoded


# What a client sends: every frame masked with a fresh key (RFC 6455 section
# 5.3), taken from a MaskKeys.

#: How many bytes of C{os.urandom} a L{MaskKeys} draws at once: 256 keys
#: per system call, which makes the call's share of a key about 1 ns.
DEFAULT_MASK_BLOCK_SIZE = 1024

# Every MaskKeys alive, so that a forked child drops the keys its parent
# drew (it would otherwise send the same keys as its parent and siblings).
_everyMaskKeys: weakref.WeakSet[MaskKeys] = weakref.WeakSet()


def _keyBlocks(
    random: Callable[[int], bytes], blockSize: int, split: Callable[[bytes], tuple[bytes, ...]]
) -> Iterator[tuple[bytes, ...]]:
    """
    Blocks of fresh random bytes, each cut into 4-byte keys, forever.
    """
    while True:
        yield split(random(blockSize))


class MaskKeys:
    """
    Unpredictable masking keys for the frames a client sends (RFC 6455
    sections 5.3 and 10.3), without a system call per frame.

    Keys are cut from a block of C{os.urandom} bytes, four at a time (by one
    C{struct} call per block), and a new block is drawn when one is used
    up: the kernel's CSPRNG output is unpredictable however it is cut, and
    no key is used twice.  A forked child process drops the block it
    inherited.  Not thread-safe: one per thread (one per process is plenty:
    nothing is gained by one per connection).

    @ivar blockSize: how many random bytes are drawn at once, a multiple of
        4.
    @ivar next: returns the next key (4 bytes): C{keys.next()}.  An
        attribute holding the C{__next__} of an iterator rather than a
        method, so that a key costs one C call.
    """

    __slots__ = ("blockSize", "next", "_random", "_split", "__weakref__")

    next: Callable[[], bytes]

    def __init__(
        self,
        blockSize: int = DEFAULT_MASK_BLOCK_SIZE,
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        """
        @param blockSize: see L{blockSize}.
        @param random: returns that many unpredictable bytes: C{os.urandom}
            unless a test gives its own.
        @raise ValueError: C{blockSize} is not a positive multiple of 4.
        """
        if blockSize <= 0 or blockSize % MASK_KEY_SIZE:
            raise ValueError(f"blockSize must be a positive multiple of 4, not {blockSize}")
        self.blockSize = blockSize
        self._random = random
        self._split = struct.Struct(f"{MASK_KEY_SIZE}s" * (blockSize // MASK_KEY_SIZE)).unpack
        self._restart()
        _everyMaskKeys.add(self)

    def _restart(self) -> None:
        """
        Drop the keys drawn so far: the next key starts a new block.
        """
        # The iterator holds the source, not self: no reference cycle.
        blocks = _keyBlocks(self._random, self.blockSize, self._split)
        self.next = chain.from_iterable(blocks).__next__


def _forgetKeysAfterFork() -> None:
    for keys in list(_everyMaskKeys):
        keys._restart()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forgetKeysAfterFork)


def encodeMaskedMessage(
    message: str | bytes, deflate: PerMessageDeflate | None = None, *, key: bytes
) -> bytes:
    """
    Build a masked frame holding a whole message (client to server),
    compressed like L{encodeMessage}.

    @param message: C{str} for a text message, C{bytes} (or any bytes-like
        object) for a binary one.
    @param deflate: the connection's permessage-deflate, or C{None}; a
        payload of at least C{deflate.minSize} bytes is compressed.
    @param key: the frame's masking key, from L{MaskKeys.next}.
    @return: the frame's bytes; the payload is copied once, into them.
    """
    if isinstance(message, str):
        b0 = _FIN_TEXT
        payload = message.encode("utf-8")
    else:
        b0 = _FIN_BINARY
        payload = message
    if deflate is not None and len(payload) >= deflate.minSize:
        payload = deflate.compress(payload)
        b0 |= _COMPRESSED
    return maskedFrame(b0, payload, key)


def _encodeMaskedControl(opcode: int, payload: bytes, key: bytes) -> bytes:
    if len(payload) > MAX_PAYLOAD_NORMAL:
        raise ValueError(
            f"control frame payload of {len(payload)} bytes, over {MAX_PAYLOAD_NORMAL}"
        )
    return maskedFrame(FIN | opcode, payload, key)


def encodeMaskedPing(payload: bytes = b"", *, key: bytes) -> bytes:
    """
    Build a masked PING frame.

    @param key: the frame's masking key, from L{MaskKeys.next}.
    @raise ValueError: C{payload} is over 125 bytes.
    """
    return _encodeMaskedControl(_PING, payload, key)


def encodeMaskedPong(payload: bytes = b"", *, key: bytes) -> bytes:
    """
    Build a masked PONG frame, the answer to a PING with C{payload}.

    @param key: the frame's masking key, from L{MaskKeys.next}.
    @raise ValueError: C{payload} is over 125 bytes.
    """
    return _encodeMaskedControl(_PONG, payload, key)


def encodeMaskedClose(code: int | None = None, reason: str = "", *, key: bytes) -> bytes:
    """
    Build a masked CLOSE frame; see L{encodeClose} for C{code} and
    C{reason}.

    @param key: the frame's masking key, from L{MaskKeys.next}.
    @raise ValueError: as L{encodeClose}.
    """
    return maskedFrame(FIN | _CLOSE, _closePayload(code, reason), key)
