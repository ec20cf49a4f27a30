# -*- test-case-name: tests.workers.test_backoff -*-
"""
When to restart a worker that died: at once is a spin if it dies as it
starts, so each quick death doubles the wait, and a worker that ran for a
while starts the count again.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RestartBackoff:
    """
    The restart delays of one worker slot (sans-I/O: it is told how long the
    worker ran, and says how long to wait).

    @ivar initialDelay: seconds to wait after the first death in a row.
    @ivar factor: how much longer each next wait is after a quick death.
    @ivar maxDelay: the longest wait, in seconds.
    @ivar stableAfter: a worker that ran at least this many seconds died of
        something other than its start: the next wait is C{initialDelay}.
    """

    initialDelay: float = 0.5
    factor: float = 2.0
    maxDelay: float = 30.0
    stableAfter: float = 10.0
    _quickDeaths: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.initialDelay <= self.maxDelay:
            raise ValueError("initialDelay must be more than 0 and at most maxDelay")
        if self.factor < 1:
            raise ValueError("factor must be 1 or more")

    def delayAfter(self, uptime: float) -> float:
        """
        A worker died after running C{uptime} seconds: how many seconds to
        wait before starting the next one.
        """
        if uptime >= self.stableAfter:
            self._quickDeaths = 0
        delay = min(self.maxDelay, self.initialDelay * self.factor**self._quickDeaths)
        if delay < self.maxDelay:
            self._quickDeaths += 1
        return delay
