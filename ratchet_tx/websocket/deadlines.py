# -*- test-case-name: tests.websocket.test_deadlines -*-
"""
Deadlines of one length, kept in one FIFO and watched by one timer.

Every connection's opening handshake has the same time to complete, so
their deadlines fall in the order they were set: one L{Deadlines} per
(clock, length) keeps them in a deque and has one timed call pending, for
the oldest.  Setting a deadline appends to the deque; cancelling one (the
handshake completed, as nearly all do, and roughly in the order they
started) marks it and drops the marked ones at the head, so the deque holds
little more than the handshakes in progress.  A timed call and its
cancellation per connection (a heap push, and a heap rebuild every so many
cancellations) become a deque append and pop.

A deadline still fires exactly when it is due: the timer is set for the
oldest live deadline and, when it fires, runs every deadline due by then,
oldest first, and is set again for the next.
"""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

log = Logger()

#: L{Deadlines._timer} while its deadlines run: deadlines set meanwhile wait
#: for the timer set once they have run (it may be due before theirs).
_FIRING: Any = object()


class Deadline:
    """
    One deadline of a L{Deadlines}: its callback runs when it is due unless
    it is cancelled first (the C{active}/C{cancel} of a delayed call).

    @ivar due: when it is due, in the clock's seconds.
    """

    __slots__ = ("_callback", "_owner", "due")

    def __init__(self, owner: Deadlines, due: float, callback: Callable[[], object]) -> None:
        self._owner = owner
        self.due = due
        self._callback: Callable[[], object] | None = callback

    def active(self) -> bool:
        """Whether it has neither fired nor been cancelled."""
        return self._callback is not None

    def cancel(self) -> None:
        """Never call its callback (nothing happens if it fired already)."""
        if self._callback is not None:
            self._callback = None
            self._owner.dropCancelled()

    def run(self) -> None:
        """It is due: call its callback (what its L{Deadlines} does, once)."""
        callback, self._callback = self._callback, None
        if callback is not None:
            callback()


class Deadlines:
    """
    Deadlines of C{length} seconds on C{clock}, oldest first, with one timed
    call pending for the oldest that is live.
    """

    __slots__ = ("__weakref__", "_clock", "_queue", "_timer", "_timerDue", "length")

    def __init__(self, clock: IReactorTime, length: float) -> None:
        self._clock = clock
        self.length = length
        self._queue: deque[Deadline] = deque()
        self._timer: Any = None
        self._timerDue = 0.0

    def __len__(self) -> int:
        """How many deadlines are kept (live ones, and cancelled ones not yet dropped)."""
        return len(self._queue)

    def add(self, callback: Callable[[], object]) -> Deadline:
        """Call C{callback()} C{length} seconds from now, unless cancelled first."""
        deadline = Deadline(self, self._clock.seconds() + self.length, callback)
        self._queue.append(deadline)
        if self._timer is None:
            self._schedule(deadline.due)
        return deadline

    def _schedule(self, due: float) -> None:
        self._timerDue = due
        # Due already (the callbacks of the last firing took a while): now.
        self._timer = self._clock.callLater(max(0.0, due - self._clock.seconds()), self._fire)

    def dropCancelled(self) -> None:
        """Forget the cancelled deadlines at the head (each calls this when cancelled)."""
        queue = self._queue
        while queue and not queue[0].active():
            queue.popleft()
        if not queue and self._timer is not None and self._timer is not _FIRING:
            timer, self._timer = self._timer, None
            timer.cancel()

    def _fire(self) -> None:
        """The timer is due: run every deadline due by now, oldest first."""
        self._timer = _FIRING
        queue = self._queue
        # The timer may run a hair early by the clock's float arithmetic:
        # what it was set for is due.
        now = max(self._clock.seconds(), self._timerDue)
        try:
            while queue:
                head = queue[0]
                if not head.active():
                    queue.popleft()
                    continue
                if head.due > now:
                    break
                queue.popleft()
                try:
                    head.run()
                except Exception:
                    # As the reactor does with a timed call that raises: log
                    # it, and carry on with the others.
                    log.failure("Unhandled error in the callback of {deadline!r}", deadline=head)
        finally:
            self._timer = None
            if queue:
                self._schedule(queue[0].due)


_deadlines: weakref.WeakKeyDictionary[Any, dict[float, Deadlines]] = weakref.WeakKeyDictionary()


def deadlinesOf(clock: IReactorTime, length: float) -> Deadlines:
    """The L{Deadlines} of C{length} seconds on C{clock}."""
    byLength = _deadlines.get(clock)
    if byLength is None:
        byLength = _deadlines[clock] = {}
    deadlines = byLength.get(length)
    if deadlines is None:
        deadlines = byLength[length] = Deadlines(clock, length)
    return deadlines
