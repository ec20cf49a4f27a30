"""
Tests for L{ratchet_tx.websocket.codecs.pieces} and the frames that come as
pieces: L{hybi.frameBinary} and L{hybi.frameText}.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.websocket.codecs.hybi import (
    PIECES_SIZE,
    FrameDecoder,
    encodeBinary,
    encodeText,
    frameBinary,
    frameText,
)
from ratchet_tx.websocket.codecs.pieces import Pieces, writtenSize

#: Payload lengths at every edge of the header encodings and of PIECES_SIZE.
LENGTHS = [0, 1, 125, 126, 127, 65535, 65536, PIECES_SIZE - 1, PIECES_SIZE, PIECES_SIZE + 1]


def joined(frame: bytes | Pieces) -> bytes:
    return frame.join() if isinstance(frame, Pieces) else frame


class PiecesTests(SynchronousTestCase):
    def test_sizeAndJoin(self) -> None:
        pieces = Pieces((b"ab", b"", b"cde"))
        self.assertEqual((pieces.size, pieces.join()), (5, b"abcde"))
        self.assertEqual(writtenSize(pieces), 5)
        self.assertEqual(writtenSize(b"abc"), 3)
        self.assertEqual(writtenSize(memoryview(b"abcd")), 4)


class FramePiecesTests(SynchronousTestCase):
    def test_binarySameBytes(self) -> None:
        """frameBinary's frame, joined, is encodeBinary's at every length."""
        for length in LENGTHS:
            data = bytes(range(256)) * (length // 256) + bytes(length % 256)
            frame = frameBinary(data)
            self.assertEqual(type(frame) is Pieces, length >= PIECES_SIZE, length)
            self.assertEqual(joined(frame), encodeBinary(data), length)

    def test_textSameBytes(self) -> None:
        for length in LENGTHS:
            text = "é" * (length // 2) + "x" * (length % 2)
            frame = frameText(text)
            self.assertEqual(type(frame) is Pieces, length >= PIECES_SIZE, length)
            self.assertEqual(joined(frame), encodeText(text), length)

    def test_payloadNotCopied(self) -> None:
        """The payload piece is the very object given."""
        data = b"x" * PIECES_SIZE
        frame = frameBinary(data)
        assert isinstance(frame, Pieces)
        self.assertIs(frame[1], data)

    def test_decodes(self) -> None:
        data = b"y" * (PIECES_SIZE + 7)
        decoder = FrameDecoder(maxMessageSize=1 << 20, expectMasked=False)
        self.assertEqual(decoder.feed(joined(frameBinary(data))), [data])
