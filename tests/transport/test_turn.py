"""Tests for L{ratchet_tx.transport.turn}: one timed call sends a turn's writes."""

from __future__ import annotations

import gc
import weakref

from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.transport.turn import Turn, turnOf


class Writer:
    def __init__(self, log: list[object], name: str, fail: bool = False) -> None:
        self.log, self.name, self.fail = log, name, fail

    def endOfTurn(self) -> None:
        self.log.append(self.name)
        if self.fail:
            raise ZeroDivisionError(self.name)

    def connectionLost(self, reason: Failure) -> None:
        self.log.append(("lost", self.name, reason.type))


class TurnTests(SynchronousTestCase):
    def test_oneTimedCallForTheTurn(self) -> None:
        clock, log = Clock(), list[object]()
        turn = Turn(clock)
        turn.add(Writer(log, "a"))
        turn.add(Writer(log, "b"))
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        self.assertEqual(clock.getDelayedCalls()[0].getTime(), 0)
        self.assertEqual(log, [])
        clock.advance(0)
        self.assertEqual(log, ["a", "b"])
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_nextTurn(self) -> None:
        """Once a turn has ended, the next writer makes a new timed call."""
        clock, log = Clock(), list[object]()
        turn = Turn(clock)
        turn.add(Writer(log, "first"))
        clock.advance(0)
        turn.add(Writer(log, "later"))
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        clock.advance(0)
        self.assertEqual(log, ["first", "later"])

    def test_failureLosesThatConnectionOnly(self) -> None:
        clock, log = Clock(), list[object]()
        turn = Turn(clock)
        for writer in (Writer(log, "a"), Writer(log, "bad", fail=True), Writer(log, "c")):
            turn.add(writer)
        clock.advance(0)
        self.assertEqual(log, ["a", "bad", ("lost", "bad", ZeroDivisionError), "c"])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_oneTurnPerReactor(self) -> None:
        first, second = Clock(), Clock()
        self.assertIs(turnOf(first), turnOf(first))
        self.assertIsNot(turnOf(first), turnOf(second))

    def test_reactorNotKeptAlive(self) -> None:
        clock = Clock()
        turnOf(clock)
        ref = weakref.ref(clock)
        del clock
        gc.collect()
        self.assertIsNone(ref())

    def test_writersThatAreNotTransports(self) -> None:
        """
        Writers that merely look like a transport (a pending write, no
        socket) have their endOfTurn called.
        """
        clock, log = Clock(), list[object]()
        turn = Turn(clock)
        lookalike = Writer(log, "lookalike")
        lookalike._pending = b"bytes"  # type: ignore[attr-defined]
        lookalike._queue = None  # type: ignore[attr-defined]
        lookalike.producer = None  # type: ignore[attr-defined]
        lookalike.disconnecting = False  # type: ignore[attr-defined]
        turn.add(Writer(log, "plain"))
        turn.add(lookalike)
        clock.advance(0)
        self.assertEqual(log, ["plain", "lookalike"])
        self.assertEqual(lookalike._pending, b"bytes")  # type: ignore[attr-defined]
