"""
The shared FIFO of opening-handshake deadlines (L{ratchet_tx.websocket.deadlines}),
on a fake clock: alone, and as the WebSocket layer uses it (many connections,
some completing, some timing out, servers with different timeouts).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.websocket.deadlines import Deadlines, deadlinesOf
from tests.support.apps import LogCapture
from tests.websocket.helpers import Harness, hybiRequest


class DeadlinesTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.fired: list[str] = []

    def deadline(self, deadlines: Deadlines, name: str):
        return deadlines.add(lambda: self.fired.append(name))

    def test_firesWhenDue(self) -> None:
        deadlines = Deadlines(self.clock, 5)
        entry = self.deadline(deadlines, "a")
        self.clock.advance(4.999)
        self.assertEqual(self.fired, [])
        self.assertTrue(entry.active())
        self.clock.advance(0.001)
        self.assertEqual(self.fired, ["a"])
        self.assertFalse(entry.active())
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(len(deadlines), 0)

    def test_oneTimerForMany(self) -> None:
        deadlines = Deadlines(self.clock, 5)
        for i in range(100):
            self.deadline(deadlines, str(i))
            self.clock.advance(0.01)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)

    def test_eachFiresAtItsOwnTime(self) -> None:
        deadlines = Deadlines(self.clock, 2)
        self.deadline(deadlines, "a")
        self.clock.advance(0.5)
        self.deadline(deadlines, "b")
        self.clock.advance(1.5)
        self.assertEqual(self.fired, ["a"])
        self.clock.advance(0.49)
        self.assertEqual(self.fired, ["a"])
        self.clock.advance(0.01)
        self.assertEqual(self.fired, ["a", "b"])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_cancelledNeverFires(self) -> None:
        deadlines = Deadlines(self.clock, 1)
        first = self.deadline(deadlines, "a")
        self.deadline(deadlines, "b")
        first.cancel()
        first.cancel()
        self.assertFalse(first.active())
        self.clock.advance(1)
        self.assertEqual(self.fired, ["b"])

    def test_cancellingTheOldestDropsIt(self) -> None:
        """Cancelled deadlines at the head go at once; the timer too once none is left."""
        deadlines = Deadlines(self.clock, 1)
        entries = [self.deadline(deadlines, str(i)) for i in range(3)]
        entries[1].cancel()
        self.assertEqual(len(deadlines), 3)
        entries[0].cancel()
        self.assertEqual(len(deadlines), 1)
        entries[2].cancel()
        self.assertEqual(len(deadlines), 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_cancelAfterFiring(self) -> None:
        deadlines = Deadlines(self.clock, 1)
        entry = self.deadline(deadlines, "a")
        self.clock.advance(1)
        entry.cancel()
        self.assertEqual(self.fired, ["a"])

    def test_deadlineSetWhileFiring(self) -> None:
        """
        A callback that sets a deadline (or cancels one) does not delay the
        deadlines already waiting.
        """
        deadlines = Deadlines(self.clock, 1)
        later: list = []

        def first() -> None:
            self.fired.append("a")
            later.append(self.deadline(deadlines, "c"))

        deadlines.add(first)
        self.clock.advance(0.5)
        self.deadline(deadlines, "b")
        self.clock.advance(0.5)
        self.assertEqual(self.fired, ["a"])
        self.clock.advance(0.5)
        self.assertEqual(self.fired, ["a", "b"])
        self.clock.advance(0.5)
        self.assertEqual(self.fired, ["a", "b", "c"])

    def test_nextDueWhileTheCallbacksRan(self) -> None:
        """
        Callbacks that take longer than the gap to the next deadline: the
        next one fires at once after them (not a timed call in the past).
        """
        deadlines = Deadlines(self.clock, 1)

        def slow() -> None:
            self.fired.append("slow")
            self.clock.rightNow += 0.5  # the callback took half a second

        deadlines.add(slow)
        self.clock.advance(0.2)
        self.deadline(deadlines, "next")
        self.clock.advance(0.8)
        self.assertEqual(self.fired, ["slow", "next"])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_aCallbackThatRaises(self) -> None:
        """It is logged; the other deadlines still fire."""
        log = LogCapture(self)
        deadlines = Deadlines(self.clock, 1)
        deadlines.add(lambda: 1 / 0)
        self.deadline(deadlines, "b")
        self.clock.advance(1)
        self.assertEqual(self.fired, ["b"])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        del log

    def test_onePerClockAndLength(self) -> None:
        other = Clock()
        self.assertIs(deadlinesOf(self.clock, 5), deadlinesOf(self.clock, 5.0))
        self.assertIsNot(deadlinesOf(self.clock, 5), deadlinesOf(self.clock, 6))
        self.assertIsNot(deadlinesOf(self.clock, 5), deadlinesOf(other, 5))

    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(
            st.tuples(st.integers(0, 30), st.booleans(), st.integers(0, 40)),
            max_size=40,
        )
    )
    def test_exactlyWhenDue(self, plan: list[tuple[int, bool, int]]) -> None:
        """
        However deadlines are set, cancelled and waited for, each fires
        exactly when due (in steps of 0.1 s), never when cancelled first.
        """
        clock = Clock()
        deadlines = Deadlines(clock, 1.5)
        fired: list[tuple[int, float]] = []
        expected: dict[int, float] = {}
        entries = []
        for index, (wait, cancel, cancelAfter) in enumerate(plan):  # noqa: B007
            for _ in range(wait):
                clock.advance(0.1)
            due = clock.seconds() + 1.5
            entries.append(deadlines.add(lambda i=index: fired.append((i, clock.seconds()))))
            expected[index] = due
            if cancel and cancelAfter < len(entries) and entries[cancelAfter].active():
                # Cancel one set earlier (this one, or older) that has not fired.
                entries[cancelAfter].cancel()
                del expected[cancelAfter]
        for _ in range(40):
            clock.advance(0.1)
        self.assertEqual(sorted(i for i, _ in fired), sorted(expected))
        for index, when in fired:
            self.assertTrue(expected[index] - 1e-9 <= when < expected[index] + 0.1, index)
        self.assertEqual(clock.getDelayedCalls(), [])


class SharedHandshakeTimeoutTests(SynchronousTestCase):
    """The WebSocket layer's opening-handshake timeouts through the FIFO."""

    def setUp(self) -> None:
        self.log = LogCapture(self)

    def test_manyConnectionsSomeCompleting(self) -> None:
        """
        Of many connections started a little apart, those that complete
        their handshake stay; each of the others is dropped exactly at its
        own timeout.
        """
        harness = Harness(handshakeTimeout=3, pingInterval=None, hixieIdleTimeout=None)
        peers = []
        for index in range(30):
            peer = harness.connect()
            if index % 3 == 0:
                peer.receive(hybiRequest()[:20])
            peers.append(peer)
            harness.clock.advance(0.05)
            if index % 3 == 1:
                self.assertEqual(peer.handshake(hybiRequest()).status, 101)
        self.assertEqual(len(harness.clock.getDelayedCalls()), 1)
        # The first connection started 1.5 s ago; connection i 0.05 s after
        # the one before it.
        harness.clock.advance(3 - 1.5 - 0.01)
        self.assertFalse(any(peer.closed for peer in peers))
        for index, peer in enumerate(peers):
            harness.clock.advance(0.02)
            for later in peers[index + 1 :]:
                self.assertFalse(later.closed)
            self.assertEqual(peer.aborted, index % 3 != 1, index)
            harness.clock.advance(0.03)
        self.assertFalse(any(peers[i].closed for i in range(1, 30, 3)))
        self.assertEqual(harness.clock.getDelayedCalls(), [])

    def test_timeoutsPerServer(self) -> None:
        """Two servers on one clock, each with its own timeout."""
        first = Harness(handshakeTimeout=2)
        second = Harness(clock=first.clock, handshakeTimeout=5)
        slow, patient = first.connect(), second.connect()
        first.clock.advance(1)
        quick = first.connect()
        first.clock.advance(1)
        self.assertTrue(slow.aborted)
        self.assertFalse(patient.closed or quick.closed)
        first.clock.advance(1)
        self.assertTrue(quick.aborted)
        self.assertFalse(patient.closed)
        first.clock.advance(2)
        self.assertTrue(patient.aborted)
        self.assertEqual(first.clock.getDelayedCalls(), [])

    def test_timeoutChangedBetweenConnections(self) -> None:
        """A server whose handshake timeout shrinks: the newer deadline still fires first."""
        clock = Clock()
        long = Harness(clock=clock, handshakeTimeout=10)
        early = long.connect()
        short = Harness(clock=clock, handshakeTimeout=1)
        late = short.connect()
        clock.advance(1)
        self.assertTrue(late.aborted)
        self.assertFalse(early.closed)
        clock.advance(9)
        self.assertTrue(early.aborted)
