"""
Tests for L{ratchet_tx.transport.queue}: pieces kept as given, consumed by
the byte, never joined.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.transport.queue import MAX_PIECES_PER_SEND, WriteQueue

pieces = st.lists(st.binary(max_size=40), max_size=30)


def contents(queue: WriteQueue) -> bytes:
    return b"".join(bytes(piece) for piece in queue.head(len(queue) + 1))


class WriteQueueTests(SynchronousTestCase):
    def test_empty(self) -> None:
        queue = WriteQueue()
        self.assertFalse(queue)
        self.assertEqual((queue.size, len(queue), queue.head()), (0, 0, []))

    def test_piecesAreKeptAsGiven(self) -> None:
        """Nothing is copied or joined: the queue holds the very objects."""
        first, second = b"first" * 10, b"second" * 10
        queue = WriteQueue([first, second])
        self.assertIs(queue.head()[0], first)
        self.assertIs(queue.head()[1], second)
        self.assertEqual(queue.size, len(first) + len(second))

    def test_emptyPiecesAreDropped(self) -> None:
        queue = WriteQueue([b"", b"a", b""])
        queue.append(b"")
        self.assertEqual((len(queue), queue.size), (1, 1))

    def test_partlySentPieceIsAView(self) -> None:
        """What is left of a piece is a view of it, not a copy."""
        piece = b"0123456789"
        queue = WriteQueue([piece, b"next"])
        self.assertEqual(queue.consume(4), 0)
        rest = queue.head()[0]
        assert isinstance(rest, memoryview)
        self.assertIs(rest.obj, piece)
        self.assertEqual(bytes(rest), b"456789")
        self.assertEqual(queue.size, 10)

    def test_consumeReportsWholePieces(self) -> None:
        queue = WriteQueue([b"ab", b"cd", b"ef"])
        self.assertEqual(queue.consume(5), 2)
        self.assertEqual(contents(queue), b"f")
        self.assertEqual(queue.consume(1), 1)
        self.assertFalse(queue)

    def test_consumeTooMuch(self) -> None:
        queue = WriteQueue([b"ab"])
        self.assertRaises(ValueError, queue.consume, 3)
        self.assertRaises(ValueError, queue.consume, -1)
        self.assertEqual(contents(queue), b"ab")

    def test_headIsBounded(self) -> None:
        queue = WriteQueue(b"%d" % i for i in range(MAX_PIECES_PER_SEND + 5))
        self.assertEqual(len(queue.head()), MAX_PIECES_PER_SEND)
        self.assertEqual(queue.head(3), [b"0", b"1", b"2"])

    def test_sendmsgLimit(self) -> None:
        """At most 1024 pieces, and at least POSIX's 16."""
        self.assertGreaterEqual(MAX_PIECES_PER_SEND, 16)
        self.assertLessEqual(MAX_PIECES_PER_SEND, 1024)

    def test_clear(self) -> None:
        queue = WriteQueue([b"abc"])
        queue.clear()
        self.assertEqual((queue.size, len(queue)), (0, 0))

    @given(pieces, st.lists(st.integers(min_value=0, max_value=50), max_size=40))
    def test_consumingInAnySteps(self, written: list[bytes], steps: list[int]) -> None:
        """
        However the kernel splits what it takes, what is left is always the
        rest of the bytes, in order, and C{size} counts it.
        """
        queue = WriteQueue(written)
        stream = b"".join(written)
        for step in steps:
            step = min(step, queue.size)
            queue.consume(step)
            stream = stream[step:]
            self.assertEqual(contents(queue), stream)
            self.assertEqual(queue.size, len(stream))
            self.assertEqual(bool(queue), bool(stream))
