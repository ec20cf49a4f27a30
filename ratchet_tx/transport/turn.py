# -*- test-case-name: tests.transport.test_turn -*-
"""
The end of a reactor turn: where small writes of the turn are sent, together.

A reactor turn handles every event one poll returned (a read on each of many
connections, say), then runs the timed calls that are due.  A transport that
is written a little during the turn joins the turn's L{Turn}; one timed call
(0 s), made by the first of them, then sends the bytes of all of them, right
after the turn's events.  No transport waits for writability: that costs
Twisted's transport two C{epoll_ctl} calls and an event per write.  And the
sends of a turn go out back to back, so a peer process that reads many of
the connections (a load generator, a proxy) is woken once for all of them
rather than once per connection, which costs the sender several microseconds
each on a virtual machine.  Measured in one run on the 2-CPU VM of
C{bench/}, against sending every write within C{write}: 30 % more small-echo
messages per second and 23 % more handshakes per second, broadcast the same.

A transport whose C{loseConnection} was called during the turn closes at
its end too, right after its send (see L{ratchet_tx.transport.tcp}).
"""

from __future__ import annotations

import weakref
from typing import Any, Protocol

from twisted.logger import Logger
from twisted.python.failure import Failure

log = Logger()



class TurnWriter(Protocol):
    """What a L{Turn} calls at its end: a transport with bytes to send."""

    def endOfTurn(self) -> None:
        """Send what was written during the turn."""

    def connectionLost(self, reason: Failure) -> None:
        """Called with the failure if C{endOfTurn} raised."""


class Turn:
    """
    The transports of one reactor that have bytes to send at the end of its
    current turn.
    """

    __slots__ = ("__weakref__", "_call", "_reactor", "_writers")

    def __init__(self, reactor: Any) -> None:
        # Weakly: the reactor's Turn in L{_turns} must not keep it alive.
        self._reactor = weakref.ref(reactor)
        self._writers: list[TurnWriter] = []
        self._call: Any = None

    def add(self, writer: TurnWriter) -> None:
        """Call C{writer.endOfTurn()} at the end of this turn (once per call)."""
        self._writers.append(writer)
        if self._call is None:
            reactor = self._reactor()
            assert reactor is not None, "a transport outlived its reactor"
            self._call = reactor.callLater(0, self._end)

    def _end(self) -> None:
        self._call = None
        writers, self._writers = self._writers, []
        for writer in writers:
            try:
                writer.endOfTurn()
            except BaseException:
                # What the reactor does with an exception from doWrite (a
                # producer's resumeProducing, say): log it, lose that
                # connection, carry on with the others.
                failure = Failure()
                log.failure("Unhandled error sending for {writer!r}", failure, writer=writer)
                writer.connectionLost(failure)


_turns: weakref.WeakKeyDictionary[Any, Turn] = weakref.WeakKeyDictionary()


def turnOf(reactor: Any) -> Turn:
    """The L{Turn} of C{reactor}."""
    turn = _turns.get(reactor)
    if turn is None:
        turn = _turns[reactor] = Turn(reactor)
    return turn
