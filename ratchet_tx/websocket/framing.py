# -*- test-case-name: tests.websocket.test_framing -*-
"""
The two frame formats, behind one small interface the connection uses.

RFC 6455, HyBi-10 and HyBi-07 share one frame format (L{HybiFraming});
Hixie-76 and Hixie-75 share the other (L{HixieFraming}).  One instance of each
serves every connection of a layer, and remembers the last message it
encoded: a broadcast of one message object to many clients is encoded once
per frame format, not once per client.
"""

from __future__ import annotations

from ratchet_tx.websocket.codecs import hixie, hybi
from ratchet_tx.websocket.codecs.deflate import PerMessageDeflate


class BinaryNotSupported(TypeError):
    """
    A C{bytes} message was sent to a Hixie-76/75 client.

    Those drafts have no binary frames.  Sending bytes to such a client raises
    this error (which reaches the application's C{onError}) rather than
    guessing an encoding; send C{str}, or check C{conn.version.isHixie}.
    """


class HybiFraming:
    """
    Frames of RFC 6455 and HyBi-07..12.

    With permessage-deflate, a connection's frames depend on its own
    compression history when it keeps context between messages; those are
    encoded per connection.  Without context takeover they depend only on
    the parameters (L{PerMessageDeflate.sharedKey}), and are cached per set
    of parameters like plain frames.
    """

    __slots__ = ("_compressed", "_lastFrame", "_lastMessage")

    supportsPing = True

    def __init__(self) -> None:
        self._lastMessage: str | bytes | None = None
        self._lastFrame = b""
        self._compressed: dict[object, bytes] = {}

    def decoder(
        self, maxFrameSize: int, maxMessageSize: int, deflate: PerMessageDeflate | None = None
    ) -> hybi.FrameDecoder:
        return hybi.FrameDecoder(
            maxFrameSize=maxFrameSize, maxMessageSize=maxMessageSize, deflate=deflate
        )

    def encode(self, message: str | bytes, deflate: PerMessageDeflate | None = None) -> bytes:
        if deflate is not None:
            return self._encodeCompressed(message, deflate)
        if message is self._lastMessage:
            return self._lastFrame
        kind = type(message)
        if kind is str:
            frame = hybi.encodeText(message)  # type: ignore[arg-type]
        elif kind is bytes:
            frame = hybi.encodeBinary(message)  # type: ignore[arg-type]
        elif isinstance(message, str):
            return hybi.encodeText(str(message))
        elif isinstance(message, (bytes, bytearray, memoryview)):
            # Mutable or a subclass: never cached, its content may change
            # between sends.
            return hybi.encodeBinary(bytes(message))
        else:
            raise TypeError(f"a WebSocket message is str or bytes, not {kind.__name__}")
        self._lastMessage = message
        self._lastFrame = frame
        if self._compressed:
            self._compressed.clear()
        return frame

    def _encodeCompressed(self, message: str | bytes, deflate: PerMessageDeflate) -> bytes:
        key = deflate.sharedKey
        if key is None:
            return hybi.encodeMessage(_plain(message), deflate)
        if message is not self._lastMessage or type(message) not in (str, bytes):
            self.encode(message)  # makes it the cached message
        frame = self._compressed.get(key)
        if frame is None:
            frame = self._compressed[key] = hybi.encodeMessage(_plain(message), deflate)
        return frame

    def encodeClose(self, code: int | None, reason: str) -> bytes:
        return hybi.encodeClose(code, reason)

    def encodePing(self, payload: bytes) -> bytes:
        return hybi.encodePing(payload)

    def encodePong(self, payload: bytes) -> bytes:
        return hybi.encodePong(payload)


def _plain(message: str | bytes) -> str | bytes:
    """C{message} as exactly C{str} or C{bytes}."""
    if isinstance(message, str):
        return str(message)
    if isinstance(message, (bytes, bytearray, memoryview)):
        return bytes(message)
    raise TypeError(f"a WebSocket message is str or bytes, not {type(message).__name__}")


class HixieFraming:
    """Frames of Hixie-76 and Hixie-75: text only, no ping, a bare close."""

    __slots__ = ("_lastFrame", "_lastMessage")

    supportsPing = False

    def __init__(self) -> None:
        self._lastMessage: str | None = None
        self._lastFrame = b""

    def decoder(
        self, maxFrameSize: int, maxMessageSize: int, deflate: None = None
    ) -> hixie.HixieDecoder:
        return hixie.HixieDecoder(maxMessageSize=maxMessageSize)

    def encode(self, message: str | bytes, deflate: None = None) -> bytes:
        if message is self._lastMessage:
            return self._lastFrame
        if type(message) is not str:
            if isinstance(message, str):
                return hixie.encodeText(str(message))
            if isinstance(message, (bytes, bytearray, memoryview)):
                raise BinaryNotSupported(
                    "Hixie-76/75 clients cannot receive binary messages; send str"
                )
            raise TypeError(f"a WebSocket message is str or bytes, not {type(message).__name__}")
        frame = hixie.encodeText(message)
        self._lastMessage = message
        self._lastFrame = frame
        return frame

    def encodeClose(self, code: int | None, reason: str) -> bytes:
        return hixie.CLOSE_FRAME
