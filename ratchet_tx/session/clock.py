# -*- test-case-name: tests.session.test_cookiestores -*-
"""
The clock the session stores and the provider read the time from: the
reactor's unless a test gives its own (L{twisted.internet.task.Clock}).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime


def reactorClock(clock: IReactorTime | None) -> IReactorTime:
    """C{clock}, or the global reactor when it is C{None}."""
    if clock is not None:
        return clock
    from twisted.internet import reactor

    return cast("IReactorTime", reactor)
