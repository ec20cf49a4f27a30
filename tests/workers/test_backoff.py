"""Tests for L{ratchet_tx.workers.backoff}."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.workers.backoff import RestartBackoff


class RestartBackoffTests(SynchronousTestCase):
    def test_quickDeathsDoubleTheWaitUpToTheMaximum(self) -> None:
        backoff = RestartBackoff(initialDelay=0.5, factor=2, maxDelay=3, stableAfter=10)
        delays = [backoff.delayAfter(uptime=0.1) for _ in range(5)]
        self.assertEqual(delays, [0.5, 1.0, 2.0, 3, 3])

    def test_aWorkerThatRanAWhileStartsTheCountAgain(self) -> None:
        backoff = RestartBackoff(initialDelay=0.5, stableAfter=10)
        backoff.delayAfter(0.1)
        backoff.delayAfter(0.1)
        self.assertEqual(backoff.delayAfter(uptime=10), 0.5)
        self.assertEqual(backoff.delayAfter(uptime=0.1), 1.0)

    def test_aLongCrashLoopDoesNotOverflow(self) -> None:
        backoff = RestartBackoff(initialDelay=0.5, maxDelay=30)
        for _ in range(5000):
            delay = backoff.delayAfter(0)
        self.assertEqual(delay, 30)

    def test_nonsenseIsRefused(self) -> None:
        self.assertRaises(ValueError, RestartBackoff, initialDelay=0)
        self.assertRaises(ValueError, RestartBackoff, initialDelay=5, maxDelay=1)
        self.assertRaises(ValueError, RestartBackoff, factor=0.5)
