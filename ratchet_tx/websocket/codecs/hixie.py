# -*- test-case-name: tests.codecs.test_hixie -*-
"""
The Hixie-75 and Hixie-76 WebSocket drafts: challenge and framing.

Theory of operation
===================

Hixie-76 (draft-hixie-thewebsocketprotocol-76, which is also
draft-ietf-hybi-thewebsocketprotocol-00) proves that the server read the
handshake by answering a challenge: each of the two C{Sec-WebSocket-Key}
fields hides a number (its digits, divided by its count of spaces), and the
answer is the MD5 of both numbers and the eight bytes after the request head.
L{keyNumber} and L{challengeResponse} do that arithmetic; on the client's
side, L{Challenge.generate} hides two random numbers the way draft 76 section
4.1 prescribes (L{makeKey}) and knows the answer to expect.

Both drafts frame data the same way ("Data framing" in either draft).  A
frame starts with a type byte:

    - with the high bit clear, the frame's data runs to the next C{0xFF}; type
      C{0x00} is a UTF-8 text message, every other such type is discarded;
    - with the high bit set, a length follows as big-endian groups of seven
      bits, each group but the last with its high bit set, then that many
      bytes, which are discarded; type C{0xFF} with length 0 is the close
      (new in draft 76; a Hixie-75 client never sends it).

L{HixieDecoder} is a small state machine over those states, driven by
C{bytes.find}: a run of small text frames in one read costs one C{find},
one slice and one C{decode} per message, with no loop per byte.

The drafts frame the same way in both directions (no masking), so a client
uses L{encodeText}, L{CLOSE_FRAME} (Hixie-76 only: a Hixie-75 client just
closes the connection) and L{HixieDecoder} exactly as a server does.
"""

from __future__ import annotations

import hashlib
import random
import re
import struct
from dataclasses import dataclass
from http import HTTPStatus

from .closecodes import CloseCode
from .errors import HandshakeError, ProtocolError
from .events import Close

#: The largest key number a client may send before division: 2**32 - 1.
MAX_KEY_NUMBER = 0xFFFFFFFF

#: How many bytes follow the Hixie-76 request head: the challenge's key3.
KEY3_LENGTH = 8

#: How many bytes follow the Hixie-76 101 response head: the MD5 answer.
ANSWER_LENGTH = 16

#: A client's key hides its number behind this many spaces (draft 76
#: section 4.1)...
MIN_KEY_SPACES = 1
MAX_KEY_SPACES = 12
#: ... and this many random characters from U+0021-U+002F and U+003A-U+007E.
MIN_KEY_NOISE = 1
MAX_KEY_NOISE = 12
_KEY_NOISE = "".join(map(chr, [*range(0x21, 0x30), *range(0x3A, 0x7F)]))

#: Type byte starting a text frame.
TEXT_FRAME_TYPE = 0x00

#: Byte ending a frame whose type has the high bit clear.
FRAME_END = 0xFF

#: Type byte that, with a zero length, closes the connection.
CLOSE_FRAME_TYPE = 0xFF

#: The close frame: type C{0xFF}, length 0.
CLOSE_FRAME = b"\xff\x00"

#: Bit set in a type byte whose frame is length-prefixed, and in every
#: length byte but the last.
HIGH_BIT = 0x80

#: The bits of a length byte that carry the length.
LENGTH_BITS = 0x7F

#: Bits of length each length byte carries.
LENGTH_BITS_PER_BYTE = 7

#: Most length bytes accepted: enough for any length below 2**63, far past
#: any size limit, but bounded so endless zero groups (C{0x80 0x80 ...}) fail.
MAX_LENGTH_BYTES = 9

_FRAME_END_BYTES = bytes([FRAME_END])
_TEXT_START = bytes([TEXT_FRAME_TYPE])
_BAD_REQUEST = HTTPStatus.BAD_REQUEST.value
_NOT_DIGITS = re.compile(r"[^0-9]")
_MAX_KEY_DIGITS = len(str(MAX_KEY_NUMBER))
_SPACE = " "
_KEY_NUMBERS = struct.Struct(">II")

# Decoder states.
_FRAME_START = 0  # expecting a frame type byte
_TEXT = 1  # inside a text frame, collecting until 0xFF
_SKIP_TO_END = 2  # inside another sentinel-ended frame, discarding to 0xFF
_LENGTH = 3  # reading the length of a length-prefixed frame
_SKIP_LENGTH = 4  # discarding the body of a length-prefixed frame
_CLOSED = 5  # the close frame arrived; everything after is ignored


def keyNumber(key: str) -> int:
    """
    The number hidden in a Hixie-76 C{Sec-WebSocket-Key1} or C{-Key2} value.

    Its decimal digits, read as one number, divided by its count of spaces
    (draft 76 section 5.2).

    @param key: the header value.
    @raise HandshakeError: 400 if the key has no digits or no spaces, if its
        digits are more than 4294967295, or if they are not an integral
        multiple of the count of spaces.
    """
    digits = _NOT_DIGITS.sub("", key)
    if not digits:
        raise HandshakeError(_BAD_REQUEST, "WebSocket key has no digits")
    spaces = key.count(_SPACE)
    if spaces == 0:
        raise HandshakeError(_BAD_REQUEST, "WebSocket key has no spaces")
    # Compare lengths first: int() refuses digit strings past a few thousand.
    significant = digits.lstrip("0") or "0"
    if len(significant) > _MAX_KEY_DIGITS or int(significant) > MAX_KEY_NUMBER:
        raise HandshakeError(_BAD_REQUEST, "WebSocket key number is too large")
    number, remainder = divmod(int(significant), spaces)
    if remainder:
        raise HandshakeError(_BAD_REQUEST, "WebSocket key number is not a multiple of its spaces")
    return number


def challengeResponse(key1: str, key2: str, key3: bytes) -> bytes:
    """
    The 16 bytes a Hixie-76 server answers the challenge with.

    The MD5 digest of both key numbers as big-endian 32-bit integers followed
    by C{key3} (draft 76 section 5.2).

    @param key1: the C{Sec-WebSocket-Key1} value.
    @param key2: the C{Sec-WebSocket-Key2} value.
    @param key3: the eight bytes that followed the request head.
    @raise HandshakeError: 400 if a key is invalid (see L{keyNumber}).
    @raise ValueError: if C{key3} is not eight bytes long.
    """
    if len(key3) != KEY3_LENGTH:
        raise ValueError(f"key3 must be {KEY3_LENGTH} bytes, not {len(key3)}")
    numbers = _KEY_NUMBERS.pack(keyNumber(key1), keyNumber(key2))
    return hashlib.md5(numbers + bytes(key3)).digest()


def makeKey(rng: random.Random) -> str:
    """
    A fresh C{Sec-WebSocket-Key1} or C{-Key2} value, made as draft 76
    section 4.1 says.

    Draw 1 to 12 spaces and a number from 0 to (2**32 - 1) // spaces; write
    the number times the spaces in decimal; insert 1 to 12 random characters
    from U+0021-U+002F and U+003A-U+007E anywhere, then the spaces anywhere
    but at the start or the end.  L{keyNumber} recovers the number.

    @param rng: the source of randomness (a C{random.SystemRandom} for real
        connections).
    """
    spaces = rng.randint(MIN_KEY_SPACES, MAX_KEY_SPACES)
    number = rng.randint(0, MAX_KEY_NUMBER // spaces)
    key = list(str(number * spaces))
    for _ in range(rng.randint(MIN_KEY_NOISE, MAX_KEY_NOISE)):
        key.insert(rng.randint(0, len(key)), rng.choice(_KEY_NOISE))
    for _ in range(spaces):
        key.insert(rng.randint(1, len(key) - 1), _SPACE)
    return "".join(key)


@dataclass(frozen=True, slots=True)
class Challenge:
    """
    The challenge a Hixie-76 client sends: two keys in its request head and
    eight bytes after it.

    @ivar key1: the C{Sec-WebSocket-Key1} value.
    @ivar key2: the C{Sec-WebSocket-Key2} value.
    @ivar key3: the eight bytes written after the head.
    """

    key1: str
    key2: str
    key3: bytes

    @classmethod
    def generate(cls, rng: random.Random) -> Challenge:
        """
        A fresh challenge: two keys from L{makeKey} and eight random bytes.

        @param rng: the source of randomness.
        """
        return cls(makeKey(rng), makeKey(rng), rng.randbytes(KEY3_LENGTH))

    @property
    def answer(self) -> bytes:
        """
        The 16 bytes the server must answer with (L{challengeResponse}).

        @raise HandshakeError: if a key is invalid.
        @raise ValueError: if C{key3} is not eight bytes long.
        """
        return challengeResponse(self.key1, self.key2, self.key3)


def encodeText(text: str) -> bytes:
    """
    Frame a text message: C{0x00}, its UTF-8 encoding, C{0xFF}.

    @raise UnicodeEncodeError: if C{text} holds a lone surrogate.
    """
    return _TEXT_START + text.encode("utf-8") + _FRAME_END_BYTES


class HixieDecoder:
    """
    Decode the frames a Hixie-75 or Hixie-76 client sends.

    Feed it bytes in any chunks; it returns text messages as C{str} and the
    close frame as L{Close}.  After the close it ignores everything.  After
    an error it is dead: every later L{feed} raises the same error.

    @ivar maxMessageSize: the longest text message accepted, in bytes of
        UTF-8, and the longest length-prefixed frame accepted.
    """

    #: Hixie frames are never received into a buffer of their own (see
    #: L{ratchet_tx.websocket.codecs.hybi.FrameDecoder.readBuffer}).
    readBuffer = None

    def __init__(self, *, maxMessageSize: int) -> None:
        """
        @param maxMessageSize: the longest text message accepted, in bytes of
            UTF-8, and the longest length-prefixed frame; beyond: 1009.
        """
        self.maxMessageSize = maxMessageSize
        self._state = _FRAME_START
        # A text frame split across reads: its pieces so far and their size.
        self._pieces: list[bytes] = []
        self._pending = 0
        # A length-prefixed frame: its type, and its length (being read, or
        # left to discard), and how many length bytes were read.
        self._frameType = 0
        self._length = 0
        self._lengthBytes = 0
        self._error: ProtocolError | None = None

    def feed(self, data: bytes) -> list[str | Close]:
        """
        Decode the next bytes from the peer.

        @param data: bytes in any chunking.
        @return: the messages and close completed by these bytes, in order.
        @raise ProtocolError: 1007 for a text message that is not UTF-8, 1009
            for a frame over L{maxMessageSize}, 1002 for an endless length.
            Messages decoded earlier in the same call are in its C{events}.
            Every later call raises the same error again, without events.
        """
        if self._error is not None:
            raise self._error
        if self._state == _CLOSED:
            return []
        if type(data) is not bytes:
            data = bytes(data)
        events: list[str | Close] = []
        try:
            self._decode(data, events)
        except ProtocolError as error:
            self._error = ProtocolError(error.code, error.reason)
            self._pieces = []
            raise ProtocolError(error.code, error.reason, events) from None
        return events

    def _decode(self, data: bytes, events: list[str | Close]) -> None:
        pos = 0
        end = len(data)
        limit = self.maxMessageSize
        while pos < end:
            state = self._state
            if state == _FRAME_START:
                # The hot path: a run of complete text frames.
                while data[pos] == TEXT_FRAME_TYPE:
                    stop = data.find(_FRAME_END_BYTES, pos + 1)
                    if stop == -1:
                        break
                    if stop - pos - 1 > limit:
                        raise self._tooBig()
                    events.append(_decodeText(data[pos + 1 : stop]))
                    pos = stop + 1
                    if pos == end:
                        return
                frameType = data[pos]
                pos += 1
                if frameType == TEXT_FRAME_TYPE:
                    self._state = _TEXT
                elif frameType & HIGH_BIT:
                    self._frameType = frameType
                    self._length = 0
                    self._lengthBytes = 0
                    self._state = _LENGTH
                else:
                    self._state = _SKIP_TO_END
            elif state == _TEXT:
                pos = self._collectText(data, pos, events)
            elif state == _SKIP_TO_END:
                stop = data.find(_FRAME_END_BYTES, pos)
                if stop == -1:
                    return
                pos = stop + 1
                self._state = _FRAME_START
            elif state == _LENGTH:
                pos = self._readLength(data, pos, events)
                if self._state == _CLOSED:
                    return
            elif state == _SKIP_LENGTH:
                skipped = min(self._length, end - pos)
                pos += skipped
                self._length -= skipped
                if not self._length:
                    self._state = _FRAME_START
            else:
                return

    def _collectText(self, data: bytes, pos: int, events: list[str | Close]) -> int:
        """
        Continue a text frame begun in an earlier read.

        @return: the offset after what was consumed.
        """
        stop = data.find(_FRAME_END_BYTES, pos)
        size = (len(data) if stop == -1 else stop) - pos
        if self._pending + size > self.maxMessageSize:
            raise self._tooBig()
        if stop == -1:
            self._pieces.append(data[pos:])
            self._pending += size
            return len(data)
        self._pieces.append(data[pos:stop])
        payload = b"".join(self._pieces)
        self._pieces = []
        self._pending = 0
        self._state = _FRAME_START
        events.append(_decodeText(payload))
        return stop + 1

    def _readLength(self, data: bytes, pos: int, events: list[str | Close]) -> int:
        """
        Read length bytes of a length-prefixed frame.

        @return: the offset after what was consumed.
        """
        end = len(data)
        length = self._length
        while pos < end:
            byte = data[pos]
            pos += 1
            self._lengthBytes += 1
            length = (length << LENGTH_BITS_PER_BYTE) | (byte & LENGTH_BITS)
            if not byte & HIGH_BIT:
                if length > self.maxMessageSize:
                    raise self._tooBig()
                break
            # More length bytes follow, so the length is at least this.
            if length << LENGTH_BITS_PER_BYTE > self.maxMessageSize:
                raise self._tooBig()
            if self._lengthBytes >= MAX_LENGTH_BYTES:
                raise ProtocolError(CloseCode.PROTOCOL_ERROR, "frame length field is too long")
        else:
            self._length = length
            return pos
        self._length = length
        if length:
            self._state = _SKIP_LENGTH
        elif self._frameType == CLOSE_FRAME_TYPE:
            self._state = _CLOSED
            events.append(Close())
        else:
            self._state = _FRAME_START
        return pos

    def _tooBig(self) -> ProtocolError:
        return ProtocolError(
            CloseCode.MESSAGE_TOO_BIG,
            f"frame larger than {self.maxMessageSize} bytes",
        )


def _decodeText(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(CloseCode.INVALID_PAYLOAD, "text frame is not valid UTF-8") from None
