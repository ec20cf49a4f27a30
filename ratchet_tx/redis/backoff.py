# -*- test-case-name: tests.redis.test_backoff -*-
"""
How long to wait before the next attempt to connect: exponential backoff with
jitter.

After C{n} failed attempts in a row the wait is drawn uniformly from::

    [(1 - jitter) * d, d]   where   d = min(maxDelay, initialDelay * factor ** (n - 1))

so it doubles (with the default factor) from L{INITIAL_DELAY} up to
L{MAX_DELAY}, and the processes that lost one Redis at the same moment do not
all come back to it at the same moment.  A connection that was up and is
lost is retried at once, before any backoff: most losses are a restart or a
replaced connection.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

#: The wait after the first failed attempt, in seconds.
INITIAL_DELAY = 0.1

#: The longest wait between two attempts, in seconds.
MAX_DELAY = 10.0

#: How much longer each wait is than the previous one.
FACTOR = 2.0

#: The fraction of each wait that is random: 0.5 waits between half the
#: delay and all of it.
JITTER = 0.5


@dataclass(frozen=True)
class Backoff:
    """
    The waits between attempts to connect (see the module docstring).

    @ivar initialDelay: the wait after the first failure, in seconds.
    @ivar maxDelay: the longest wait, in seconds.
    @ivar factor: the growth of each wait over the previous one (>= 1).
    @ivar jitter: the random fraction of each wait, from 0 (none) to 1.
    @ivar random: where the randomness comes from: a function returning a
        float in [0, 1) (tests pass a fixed one).
    """

    initialDelay: float = INITIAL_DELAY
    maxDelay: float = MAX_DELAY
    factor: float = FACTOR
    jitter: float = JITTER
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.initialDelay <= self.maxDelay:
            raise ValueError("Backoff needs 0 < initialDelay <= maxDelay")
        if self.factor < 1:
            raise ValueError("Backoff needs factor >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("Backoff needs 0 <= jitter <= 1")

    def delay(self, failures: int) -> float:
        """
        The wait before the next attempt, after C{failures} failed attempts
        in a row (at least 1).
        """
        try:
            grown = self.initialDelay * self.factor ** (max(failures, 1) - 1)
        except OverflowError:
            grown = self.maxDelay
        return min(self.maxDelay, grown) * (1 - self.jitter * self.random())
