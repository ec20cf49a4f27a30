"""
Small helpers of the session tests: a fake clock at the real time, the
result of a store's fired Deferred, and every one-character tampering of a
cookie.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from twisted.internet.task import Clock


def nowClock(offset: float = 0.0) -> Clock:
    """A fake clock showing the real time, plus C{offset} seconds."""
    clock = Clock()
    clock.advance(time.time() + offset)
    return clock


def read(store: Any, cookie: str) -> Any:
    """What the store's (fired) Deferred holds: the data, or the failure."""
    results: list[Any] = []
    store.load(cookie).addBoth(results.append)
    [result] = results
    return result


def tamperings(cookie: str, replacements: Iterable[str]) -> Iterator[str]:
    """C{cookie} with each of its characters replaced by each replacement."""
    for index, original in enumerate(cookie):
        for replacement in replacements:
            if replacement != original:
                yield cookie[:index] + replacement + cookie[index + 1 :]
