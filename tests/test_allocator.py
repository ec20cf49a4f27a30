"""
Tests for L{ratchet_tx.allocator}.
"""

from __future__ import annotations

import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx import allocator
from ratchet_tx.allocator import keepLargeBlocks


class KeepLargeBlocksTests(SynchronousTestCase):
    def test_glibcTakesIt(self) -> None:
        """
        On glibc (this machine's C library) both settings are taken; in a
        process of its own, so that the tests' allocator stays as it was.
        """
        code = "from ratchet_tx.allocator import keepLargeBlocks; print(keepLargeBlocks())"
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        self.assertEqual(result.stdout.strip(), "True")

    def test_refusedValues(self) -> None:
        """A threshold glibc refuses (over its 32 MiB cap) is reported."""
        calls: list[tuple[int, int]] = []

        def mallopt(parameter: int, value: int) -> int:
            calls.append((parameter, value))
            return int(value <= allocator.DEFAULT_MMAP_THRESHOLD or parameter != -3)

        self.patch(allocator, "_mallopt", lambda: mallopt)
        self.assertFalse(keepLargeBlocks(mmapThreshold=64 * allocator.MiB))
        self.assertTrue(keepLargeBlocks())
        self.assertEqual(calls[-2:], [(-3, 32 * allocator.MiB), (-1, 128 * allocator.MiB)])

    def test_elsewhereNothing(self) -> None:
        """Without glibc's mallopt nothing is done."""
        self.patch(allocator, "_mallopt", lambda: None)
        self.assertFalse(keepLargeBlocks())

    def test_notLinux(self) -> None:
        self.patch(allocator.sys, "platform", "darwin")
        self.assertIsNone(allocator._mallopt())
