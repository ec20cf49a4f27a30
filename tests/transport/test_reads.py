"""Tests for L{ratchet_tx.transport.reads}: the size of the next read."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.transport.reads import MAX_READ_SIZE, MIN_READ_SIZE, nextReadSize

KiB = 1024


class NextReadSizeTests(SynchronousTestCase):
    def test_limits(self) -> None:
        """Twisted's 64 KiB at the least, 1 MiB at the most."""
        self.assertEqual((MIN_READ_SIZE, MAX_READ_SIZE), (64 * KiB, 1024 * KiB))

    def test_fullReadDoubles(self) -> None:
        self.assertEqual(nextReadSize(64 * KiB, 64 * KiB), 128 * KiB)

    def test_growthStopsAtTheMaximum(self) -> None:
        size = MIN_READ_SIZE
        for _ in range(10):
            size = nextReadSize(size, size)
        self.assertEqual(size, MAX_READ_SIZE)

    def test_smallReadHalves(self) -> None:
        self.assertEqual(nextReadSize(512 * KiB, 100 * KiB), 256 * KiB)

    def test_shrinkingStopsAtTheMinimum(self) -> None:
        self.assertEqual(nextReadSize(MIN_READ_SIZE, 10), MIN_READ_SIZE)
        self.assertEqual(nextReadSize(100 * KiB, 10), MIN_READ_SIZE)

    def test_readOfAQuarterOrMoreKeepsTheSize(self) -> None:
        self.assertEqual(nextReadSize(256 * KiB, 64 * KiB), 256 * KiB)
        self.assertEqual(nextReadSize(256 * KiB, 255 * KiB), 256 * KiB)

    def test_otherLimits(self) -> None:
        self.assertEqual(nextReadSize(4 * KiB, 4 * KiB, minimum=4 * KiB, maximum=6 * KiB), 6 * KiB)
        self.assertEqual(nextReadSize(6 * KiB, 1, minimum=4 * KiB, maximum=6 * KiB), 4 * KiB)

    @given(st.lists(st.floats(0, 1), max_size=50))
    def test_alwaysWithinTheLimits(self, fills: list[float]) -> None:
        size = MIN_READ_SIZE
        for fill in fills:
            size = nextReadSize(size, int(size * fill))
            self.assertGreaterEqual(size, MIN_READ_SIZE)
            self.assertLessEqual(size, MAX_READ_SIZE)
