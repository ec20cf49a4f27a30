# -*- test-case-name: tests.codecs.test_utf8 -*-
"""
Strict UTF-8 decoding that fails as early as the bytes allow.

Theory of operation
===================

A WebSocket text message must be valid UTF-8, and an endpoint should give up
on the connection as soon as the bytes received so far cannot begin any valid
message, without waiting for the end of the frame or of the message (the
Autobahn TestSuite checks this "fail fast" behaviour in its cases 6.4.x).

A message that arrives whole is decoded with one C{bytes.decode} call: see
L{decodeUtf8}.  A message that arrives in pieces (fragments, or a frame split
across reads) goes through a L{Utf8Decoder}, a thin wrapper around CPython's
incremental UTF-8 decoder.  That decoder already rejects a piece as soon as it
holds a byte that cannot continue the sequence in progress (C{b"\\xf4\\x90"}
is refused before the rest of the code point arrives), with one exception: it
holds back C{b"\\xed"} followed by C{b"\\xa0"}-C{b"\\xbf"}, the start of a
UTF-16 surrogate, until the third byte comes.  L{Utf8Decoder} closes that gap
by looking at what the decoder holds back whenever a piece ends with a byte in
that range.
"""

from __future__ import annotations

import codecs

from ratchet_tx.websocket.codecs.closecodes import CloseCode
from ratchet_tx.websocket.codecs.errors import ProtocolError

#: The lead byte of the three-byte sequences for U+D000-U+DFFF.
_SURROGATE_LEAD = 0xED
#: A second byte from this one up to L{_CONTINUATION_END} (exclusive) after
#: L{_SURROGATE_LEAD} encodes a surrogate, U+D800-U+DFFF.
_SURROGATE_SECOND = 0xA0
#: Continuation bytes are C{0x80} up to, but not including, this one.
_CONTINUATION_END = 0xC0

_IncrementalDecoder = codecs.getincrementaldecoder("utf-8")


def _invalid() -> ProtocolError:
    return ProtocolError(CloseCode.INVALID_PAYLOAD, "invalid UTF-8 in text")


def decodeUtf8(data: bytes) -> str:
    """
    Decode a complete text message, or fail with close code 1007.

    @param data: the whole message.
    @return: the decoded text.
    @raise ProtocolError: C{data} is not valid UTF-8.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid() from None


class Utf8Decoder:
    """
    Decode a text message that arrives in pieces, failing on the first piece
    that makes it invalid.

    Reuse one instance for consecutive messages: L{decode} with C{final=True}
    leaves it ready for the next message, and L{reset} discards a message
    abandoned half way.
    """

    __slots__ = ("_decoder",)

    def __init__(self) -> None:
        self._decoder = _IncrementalDecoder("strict")

    def decode(self, data: bytes | memoryview, final: bool = False) -> str:
        """
        Decode the next piece of a message.

        @param data: the next bytes of the message; a code point may be split
            anywhere across pieces.
        @param final: whether C{data} ends the message.  The bytes of an
            incomplete code point are held back until the next piece, or
            rejected if the message ends with them.
        @return: the text of every code point completed by C{data}.
        @raise ProtocolError: with close code 1007, as soon as the bytes
            received so far cannot begin a valid message, or when the message
            ends in the middle of a code point.
        """
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError:
            raise _invalid() from None
        if data and _SURROGATE_SECOND <= data[-1] < _CONTINUATION_END:
            pending = self._decoder.getstate()[0]
            if (
                len(pending) == 2
                and pending[0] == _SURROGATE_LEAD
                and pending[1] >= _SURROGATE_SECOND
            ):
                raise _invalid()
        return text

    def reset(self) -> None:
        """
        Forget any partial code point, ready for a new message.
        """
        self._decoder.reset()
