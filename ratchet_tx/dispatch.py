# -*- test-case-name: tests.test_dispatch -*-
"""
Calling application callbacks and carrying out what they return.

Every layer calls its inner application through L{deliver}, so the rules are
the same everywhere:

  - a callback may return C{None}, a command, a Deferred or a coroutine (the
    latter two resolve to either of the former, and are carried out when they
    do);
  - a failure in the callback, in a Deferred it returned, or in carrying out a
    command goes to the application's C{onError} for that connection;
  - a failure in C{onError} itself (or in what it returned) is logged and the
    connection is closed.  Nothing raises out to the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from inspect import iscoroutine
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure

from ratchet_tx.commands import Broadcast, Composite, SendMessage
from ratchet_tx.interfaces import IApplication, ICommand, IConnection

log = Logger()


def deliver(
    app: IApplication, conn: IConnection, callback: Callable[..., Any], *args: Any
) -> None:
    """
    Call C{callback(conn, *args)} (a method of C{app}) and carry out its result.
    """
    try:
        result = callback(conn, *args)
    except Exception:
        reportError(app, conn, Failure())
        return
    if result is not None:
        carryOut(result, app, conn)


def reportError(app: IApplication, conn: IConnection, failure: Failure) -> None:
    """
    Log C{failure} and give it to C{app.onError}; if that fails too, log
    again and close C{conn}.
    """
    log.failure(
        "Application error on {conn!r}", failure, conn=conn, log_level=LogLevel.error
    )
    try:
        result = app.onError(conn, failure)
    except Exception:
        _abandon(app, conn, Failure())
        return
    if result is not None:
        carryOut(result, app, conn, handlingError=True)


def _abandon(app: IApplication, conn: IConnection, failure: Failure) -> None:
    log.failure("onError failed on {conn!r}; closing it", failure, conn=conn)
    try:
        conn.close()
    except Exception:
        log.failure("Closing {conn!r} failed", conn=conn)


def _fail(app: IApplication, conn: IConnection, handlingError: bool, failure: Failure) -> None:
    (_abandon if handlingError else reportError)(app, conn, failure)


def carryOut(
    result: Any, app: IApplication, conn: IConnection, handlingError: bool = False
) -> None:
    """
    Carry out C{result}, returned by a callback of C{app} about C{conn}.

    Failures go to C{app.onError} for the connection they concern (or, when
    C{handlingError} says the result came from C{onError}, are logged and
    close it).  The commands themselves do the work, this only routes their
    failures: a L{Composite}'s parts are carried out one by one, and a
    L{Broadcast} reports each receiver whose send failed, so one failure
    does not stop the others.
    """
    kind = type(result)
    # The hot path first: one message.
    if kind is SendMessage:
        try:
            result.execute()
        except Exception:
            _fail(app, result.conn, handlingError, Failure())
        return
    if kind is Broadcast:
        result.execute(lambda target, failure: _fail(app, target, handlingError, failure))
        return
    if kind is Composite:
        result.execute(lambda command: carryOut(command, app, conn, handlingError))
        return
    if isinstance(result, Deferred):
        result.addCallback(_carryOutLater, app, conn, handlingError)
        result.addErrback(lambda failure: _fail(app, conn, handlingError, failure))
        return
    if iscoroutine(result):
        carryOut(Deferred.fromCoroutine(result), app, conn, handlingError)
        return
    try:
        if not ICommand.providedBy(result):
            raise TypeError(
                f"a callback returned {result!r}; expected None, a command, "
                "a Deferred or a coroutine"
            )
        if getattr(result, "takesErrorHandler", False):
            execute: Any = result.execute
            followUp = execute(
                lambda target, failure: _fail(app, target, handlingError, failure)
            )
        else:
            followUp = result.execute()
    except Exception:
        target = getattr(result, "conn", None)
        _fail(app, target if IConnection.providedBy(target) else conn, handlingError, Failure())
        return
    if followUp is not None:
        carryOut(followUp, app, conn, handlingError)


def _carryOutLater(
    result: Any, app: IApplication, conn: IConnection, handlingError: bool
) -> None:
    if result is not None:
        carryOut(result, app, conn, handlingError)
