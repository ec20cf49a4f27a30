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


class BinaryNotSupported(TypeError):
    """
    A C{bytes} message was sent to a Hixie-76/75 client.

    Those drafts have no binary frames.  Sending bytes to such a client raises
    this error (which reaches the application's C{onError}) rather than
    guessing an encoding; send C{str}, or check C{conn.version.isHixie}.
    """


class HybiFraming:
    """Frames of RFC 6455 and HyBi-07..12."""

    __slots__ = ("_lastFrame", "_lastMessage")

    supportsPing = True

    def __init__(self) -> None:
        self._lastMessage: str | bytes | None = None
        self._lastFrame = b""

    def decoder(self, maxFrameSize: int, maxMessageSize: int) -> hybi.FrameDecoder:
        return hybi.FrameDecoder(maxFrameSize=maxFrameSize, maxMessageSize=maxMessageSize)

    def encode(self, message: str | bytes) -> bytes:
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
        return frame

    def encodeClose(self, code: int | None, reason: str) -> bytes:
        return hybi.encodeClose(code, reason)

    def encodePing(self, payload: bytes) -> bytes:
        return hybi.encodePing(payload)

    def encodePong(self, payload: bytes) -> bytes:
        return hybi.encodePong(payload)


class HixieFraming:
    """Frames of Hixie-76 and Hixie-75: text only, no ping, a bare close."""

    __slots__ = ("_lastFrame", "_lastMessage")

    supportsPing = False

    def __init__(self) -> None:
        self._lastMessage: str | None = None
        self._lastFrame = b""

    def decoder(self, maxFrameSize: int, maxMessageSize: int) -> hixie.HixieDecoder:
        return hixie.HixieDecoder(maxMessageSize=maxMessageSize)

    def encode(self, message: str | bytes) -> bytes:
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
