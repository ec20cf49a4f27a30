"""
The waits between attempts to connect: exponential, capped, jittered.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.redis.backoff import FACTOR, INITIAL_DELAY, JITTER, MAX_DELAY, Backoff


class BackoffTests(SynchronousTestCase):
    def test_growsThenCaps(self) -> None:
        backoff = Backoff(initialDelay=0.5, maxDelay=4.0, factor=2.0, random=lambda: 0.0)
        self.assertEqual(
            [backoff.delay(n) for n in range(1, 8)], [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
        )

    def test_defaults(self) -> None:
        backoff = Backoff(random=lambda: 0.0)
        self.assertEqual(backoff.delay(1), INITIAL_DELAY)
        self.assertEqual(backoff.delay(2), INITIAL_DELAY * FACTOR)
        self.assertEqual(backoff.delay(10**6), MAX_DELAY)
        self.assertEqual((INITIAL_DELAY, MAX_DELAY, FACTOR, JITTER), (0.1, 10.0, 2.0, 0.5))

    def test_jitterTakesUpToItsFraction(self) -> None:
        """With jitter 0.5 a wait is between half the delay and all of it."""
        low = Backoff(initialDelay=2.0, maxDelay=2.0, jitter=0.5, random=lambda: 0.999999)
        high = Backoff(initialDelay=2.0, maxDelay=2.0, jitter=0.5, random=lambda: 0.0)
        self.assertAlmostEqual(low.delay(1), 1.0, places=5)
        self.assertEqual(high.delay(1), 2.0)

    def test_realRandomnessStaysInRange(self) -> None:
        backoff = Backoff(initialDelay=1.0, maxDelay=8.0)
        for n in range(1, 10):
            ceiling = min(8.0, 2.0 ** (n - 1))
            for _ in range(50):
                self.assertTrue(ceiling / 2 <= backoff.delay(n) <= ceiling)

    def test_noOverflow(self) -> None:
        self.assertEqual(Backoff(factor=10.0, random=lambda: 0.0).delay(100000), MAX_DELAY)

    def test_invalid(self) -> None:
        for options in [
            {"initialDelay": 0.0},
            {"initialDelay": 5.0, "maxDelay": 1.0},
            {"factor": 0.5},
            {"jitter": -0.1},
            {"jitter": 1.5},
        ]:
            with self.subTest(options=options):
                self.assertRaises(ValueError, Backoff, **options)
