"""The hub's values: offsets and their text, history policies, HistoryLost."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.hub import HistoryLost, HistoryPolicy, Offset


class OffsetTests(SynchronousTestCase):
    def test_text(self) -> None:
        """An offset reads back from its text."""
        offset = Offset("18c2f0a1b2c3", 42)
        self.assertEqual(str(offset), "18c2f0a1b2c3:42")
        self.assertEqual(Offset.parse("18c2f0a1b2c3:42"), offset)
        self.assertIs(Offset.parse(offset), offset)

    def test_invalid(self) -> None:
        for text in ("", "42", "e:", ":3", "e:-1", "e:x", "e:1.5", "a b:3", "e:" + "9" * 21):
            with self.assertRaises(ValueError, msg=text):
                Offset.parse(text)
        with self.assertRaises(ValueError):
            Offset("e", -1)

    def test_order(self) -> None:
        self.assertLess(Offset("e", 2), Offset("e", 10))


class HistoryPolicyTests(SynchronousTestCase):
    def test_bounds(self) -> None:
        self.assertEqual(HistoryPolicy(), HistoryPolicy(size=100, age=300.0))
        HistoryPolicy(size=0)
        for bad in ({"size": -1}, {"age": 0}, {"age": -1.0}):
            with self.assertRaises(ValueError):
                HistoryPolicy(**bad)  # type: ignore[arg-type]


class HistoryLostTests(SynchronousTestCase):
    def test_message(self) -> None:
        error = HistoryLost("lobby", Offset("e", 3), Offset("e", 9), "too old", 2)
        self.assertEqual(str(error), "cannot replay 'lobby' since e:3: too old")
        self.assertEqual((error.missing, error.current), (2, Offset("e", 9)))
