# -*- test-case-name: tests.test_commands -*-
"""
Commands: what an application returns from its callbacks.

Each command is a small value object naming what to do; the server carries it
out (see L{ratchet_tx.dispatch}).  Returning commands instead of acting
directly keeps applications easy to test: assert on what a callback returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from twisted.python.failure import Failure
from zope.interface import implementer

from ratchet_tx.interfaces import ICommand, IConnection

#: Told about each part of a command that failed: the connection it was
#: for (if any) and the failure.
OnError = Callable[[IConnection | None, Failure], None]
#: Carries out one part of a L{Composite} (and whatever it returns).
CarryOut = Callable[["ICommand"], None]


@implementer(ICommand)
class SendMessage:
    """
    Send C{message} to C{conn}: a C{str} as text, C{bytes} as binary.

    Sending the same C{message} object to many connections (a broadcast) costs
    one encoding per protocol version, not one per connection.
    """

    __slots__ = ("conn", "message")

    def __init__(self, conn: IConnection, message: str | bytes) -> None:
        self.conn = conn
        self.message = message

    def execute(self) -> None:
        self.conn.send(self.message)

    def __repr__(self) -> str:
        return f"SendMessage({self.conn!r}, {self.message!r})"


@implementer(ICommand)
class CloseConnection:
    """
    Close C{conn} gracefully, with a close C{code} and C{reason} where the
    protocol has them (WebSocket); C{None} means a normal closure.
    """

    __slots__ = ("code", "conn", "reason")

    def __init__(
        self, conn: IConnection, code: int | None = None, reason: str = ""
    ) -> None:
        self.conn = conn
        self.code = code
        self.reason = reason

    def execute(self) -> None:
        self.conn.close(self.code, self.reason)

    def __repr__(self) -> str:
        return f"CloseConnection({self.conn!r}, {self.code!r}, {self.reason!r})"


@implementer(ICommand)
class Composite:
    """
    Several commands carried out in order, each on its own: one that fails is
    reported to the application's C{onError} and the rest still run.

    Built from any iterable (a generator too); nested composites are
    flattened and C{None} entries dropped, so an application can write
    C{Composite(SendMessage(c, msg) for c in clients)}.
    """

    __slots__ = ("commands",)

    def __init__(self, *commands: ICommand | Iterable[ICommand | None] | None) -> None:
        flat: list[ICommand] = []
        _flatten(commands, flat)
        self.commands: tuple[ICommand, ...] = tuple(flat)

    def execute(self, carryOut: CarryOut | None = None) -> None:
        """
        Carry out every command, in order, each on its own.

        @param carryOut: how each part is carried out: a server passes its
            own, which reports a failing part to the application's
            C{onError} and follows what the part returns.  Without it each
            part is executed (and so is a command it returns), and the first
            exception is raised once all ran.
        """
        if carryOut is not None:
            for command in self.commands:
                carryOut(command)
            return
        failures = _FirstFailure()
        for command in self.commands:
            try:
                followUp = command.execute()
                while ICommand.providedBy(followUp):
                    followUp = followUp.execute()
            except Exception:
                failures(getattr(command, "conn", None), Failure())
        failures.raiseFirst()

    def __iter__(self):
        return iter(self.commands)

    def __len__(self) -> int:
        return len(self.commands)

    def __repr__(self) -> str:
        return f"Composite{self.commands!r}"


def _flatten(items: Iterable[Any], into: list[ICommand]) -> None:
    for item in items:
        if item is None or item is NULL:
            continue
        if type(item) is Composite:
            into.extend(item.commands)
        elif ICommand.providedBy(item):
            into.append(item)
        elif isinstance(item, Iterable) and not isinstance(item, (str, bytes)):
            _flatten(item, into)
        else:
            raise TypeError(f"Composite takes commands, not {item!r}")


@implementer(ICommand)
class Broadcast:
    """
    Send one C{message} to many connections: C{Broadcast(clients, msg)}.

    Means the same as C{Composite(SendMessage(c, msg) for c in clients)},
    with less work per receiver: the message is framed once per protocol
    version, and a receiver whose send fails is reported to C{onError}
    without stopping the others.  The connections are taken when the command
    is made, so the application may change its own set meanwhile.

    A connection class may offer a bulk path, a class method
    C{sendToMany(conns, message, onError)} that sends C{message} to every
    one of C{conns} (of any class) and reports each failure to C{onError}:
    when the first receiver's class has one, it is given all of them.
    """

    __slots__ = ("conns", "message")

    def __init__(self, conns: Iterable[IConnection], message: str | bytes) -> None:
        self.conns: tuple[IConnection, ...] = tuple(conns)
        self.message = message

    def execute(self, onError: OnError | None = None) -> None:
        """
        Send to every connection; one whose send fails does not stop the
        others.

        @param onError: told about each connection whose send failed (a
            server passes one that reports it to the application's
            C{onError}); without it, the first exception is raised once all
            were tried.
        """
        if onError is None:
            failures = _FirstFailure()
            self.execute(failures)
            failures.raiseFirst()
            return
        conns = self.conns
        if not conns:
            return
        message = self.message
        sendToMany = getattr(type(conns[0]), "sendToMany", None)
        if sendToMany is not None:
            sendToMany(conns, message, onError)
            return
        for conn in conns:
            try:
                conn.send(message)
            except Exception:
                onError(conn, Failure())

    def __repr__(self) -> str:
        return f"Broadcast({len(self.conns)} connections, {self.message!r})"


class _FirstFailure:
    """
    Collects the failures of a command's parts outside a server, where there
    is no C{onError} to report them to: the first is raised once all ran.
    """

    __slots__ = ("first",)

    def __init__(self) -> None:
        self.first: Failure | None = None

    def __call__(self, conn: IConnection | None, failure: Failure) -> None:
        if self.first is None:
            self.first = failure

    def raiseFirst(self) -> None:
        if self.first is not None:
            self.first.raiseException()


@implementer(ICommand)
class Null:
    """The command that does nothing (when a callback must return one)."""

    __slots__ = ()

    def execute(self) -> None:
        return None

    def __repr__(self) -> str:
        return "NULL"


#: The one L{Null} command.
NULL = Null()


@implementer(ICommand)
class Call:
    """
    Call C{function(*args, **kwargs)} when carried out; whatever it returns (a
    command, a Deferred, a coroutine) is carried out in turn.

    Lets an application return an action that is not a message, e.g.
    C{Call(self.audit.record, conn.id)}.
    """

    __slots__ = ("args", "function", "kwargs")

    def __init__(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.function = function
        self.args = args
        self.kwargs = kwargs

    def execute(self) -> Any:
        return self.function(*self.args, **self.kwargs)

    def __repr__(self) -> str:
        return f"Call({self.function!r}, *{self.args!r}, **{self.kwargs!r})"
