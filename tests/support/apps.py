"""
Fakes for unit tests: an application that records its callbacks, a connection
that records what is done to it, transports with particular closing habits, a
log capture, and a few module-level objects for C{--app MODULE:NAME} tests.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import count
from types import SimpleNamespace
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransportWithDisconnection
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from ratchet_tx.examples.echo import Echo
from ratchet_tx.interfaces import IApplication, IConnection
from ratchet_tx.server import Server, ServerProtocol


@implementer(IApplication)
class RecordingApplication:
    """
    An application that records every callback in C{events}, as
    C{("onOpen", conn)}, C{("onMessage", conn, message)}, C{("onClose", conn)}
    and C{("onError", conn, failure)}, and answers with what it was given.

    Each keyword (C{onOpen=...}, C{onMessage=...}, ...) is either the value the
    callback returns (C{None}, a command, a Deferred) or a function called with
    the callback's arguments whose result is returned (or which raises).
    """

    def __init__(self, **answers: Any) -> None:
        unknown = set(answers) - {"onOpen", "onMessage", "onClose", "onError"}
        if unknown:
            raise TypeError(f"not callbacks: {sorted(unknown)}")
        self.answers = answers
        self.events: list[tuple[Any, ...]] = []

    def _answer(self, name: str, *args: Any) -> Any:
        self.events.append((name, *args))
        answer = self.answers.get(name)
        if callable(answer):
            return answer(*args)
        return answer

    def onOpen(self, conn: IConnection) -> Any:
        return self._answer("onOpen", conn)

    def onMessage(self, conn: IConnection, message: str | bytes) -> Any:
        return self._answer("onMessage", conn, message)

    def onClose(self, conn: IConnection) -> Any:
        return self._answer("onClose", conn)

    def onError(self, conn: IConnection, failure: Any) -> Any:
        return self._answer("onError", conn, failure)

    def callbacks(self) -> list[str]:
        """The names of the callbacks called so far, in order."""
        return [event[0] for event in self.events]

    def failures(self) -> list[Any]:
        """The failures given to C{onError} so far, in order."""
        return [event[2] for event in self.events if event[0] == "onError"]


def raising(exception: BaseException) -> Callable[..., Any]:
    """A callback answer that raises C{exception}."""

    def raiseIt(*args: Any) -> Any:
        raise exception

    return raiseIt


_fakeIds = count(1)


@implementer(IConnection)
class FakeConnection:
    """
    A connection that records what it is asked to do.

    @ivar sent: every message given to C{send} while open, in order.
    @ivar closes: the C{(code, reason)} of every C{close} call.
    @ivar aborted: C{abort} was called.
    @ivar sendError: if set, C{send} raises it (a broken connection).
    """

    def __init__(self, sendError: BaseException | None = None) -> None:
        self.id = next(_fakeIds)
        self.remoteAddress = IPv4Address("TCP", "192.0.2.1", 40000 + self.id)
        self.localAddress = IPv4Address("TCP", "192.0.2.2", 8080)
        self.state = SimpleNamespace()
        self.closed = False
        self.sendError = sendError
        self.sent: list[str | bytes] = []
        self.closes: list[tuple[int | None, str]] = []
        self.aborted = False
        self.closeCallbacks: list[Callable[[Any], object]] = []

    def send(self, message: str | bytes) -> None:
        if self.sendError is not None:
            raise self.sendError
        if not self.closed:
            self.sent.append(message)

    def close(self, code: int | None = None, reason: str = "") -> None:
        self.closes.append((code, reason))
        self.closed = True

    def abort(self) -> None:
        self.aborted = True
        self.closed = True

    def addCloseCallback(self, callback: Callable[[Any], object]) -> None:
        self.closeCallbacks.append(callback)

    def __repr__(self) -> str:
        return f"<FakeConnection #{self.id}>"


class StubbornTransport(StringTransportWithDisconnection):
    """
    A transport whose peer never finishes a graceful close: C{loseConnection}
    only marks it disconnecting; C{abortConnection} drops it at once.
    """

    aborted = False

    def loseConnection(self) -> None:
        self.disconnecting = True

    def abortConnection(self) -> None:
        self.aborted = True
        StringTransportWithDisconnection.loseConnection(self)


class CountingTransport(StringTransportWithDisconnection):
    """
    A transport that counts graceful closes and aborts (and, once connected
    to a protocol, reports its disconnection at once).
    """

    def __init__(self) -> None:
        super().__init__()
        self.loseConnectionCalls = 0
        self.abortConnectionCalls = 0

    def loseConnection(self) -> None:
        self.loseConnectionCalls += 1
        self._disconnect()

    def abortConnection(self) -> None:
        self.abortConnectionCalls += 1
        self._disconnect()

    def _disconnect(self) -> None:
        self.disconnecting = True
        if getattr(self, "protocol", None) is not None:
            StringTransportWithDisconnection.loseConnection(self)


def connectTo(
    server: Server, transport: StringTransportWithDisconnection | None = None
) -> tuple[ServerProtocol, StringTransportWithDisconnection]:
    """
    Connect a client to C{server} over an in-memory transport (by default one
    that reports its disconnection to the protocol at once).
    """
    if transport is None:
        transport = StringTransportWithDisconnection()
    proto = server.buildProtocol(transport.getPeer())
    transport.protocol = proto
    proto.makeConnection(transport)
    return proto, transport


class LogCapture:
    """
    Collect every L{twisted.logger} event emitted while a test runs.

        log = LogCapture(self)
        ...
        self.assertTrue(log.failuresOf(RuntimeError))
    """

    def __init__(self, testCase: SynchronousTestCase) -> None:
        self.events: list[dict[str, Any]] = []
        observer = self.events.append
        globalLogPublisher.addObserver(observer)
        testCase.addCleanup(globalLogPublisher.removeObserver, observer)

    def failuresOf(self, exceptionType: type[BaseException]) -> list[dict[str, Any]]:
        """The logged events that carry a failure of C{exceptionType}."""
        return [
            event
            for event in self.events
            if "log_failure" in event and event["log_failure"].check(exceptionType)
        ]


# Objects for --app MODULE:NAME tests (tests.support.apps:NAME).

#: An application instance.
echoInstance = Echo()


def makeEcho() -> Echo:
    """A zero-argument factory of applications."""
    return Echo()


#: Neither an application nor something that makes one.
notAnApp = 42


def makesNothing() -> None:
    """A factory that makes something other than an application."""
    return None


def explodingFactory() -> Echo:
    """A factory that fails, with a message of two lines."""
    raise RuntimeError("the database is down\nand so is the cache")


class Namespace:
    """Holds an application class one attribute deep (--app MODULE:Namespace.Echo)."""

    Echo = Echo


class Markup(str):
    """A C{str} subclass, as C{markupsafe.Markup} is."""


@implementer(IApplication)
class PayloadTypes:
    """
    Answers a text message naming a payload type with a 300-byte message of
    that type (C{"str"}, C{"subclass"}, C{"bytes"}, C{"bytearray"},
    C{"memoryview"}); prefixed with C{"broadcast "} it answers through a
    L{Broadcast} instead of a L{SendMessage}.
    """

    @staticmethod
    def payload(kind: str) -> Any:
        return {
            "str": "A" * 300,
            "subclass": Markup("B" * 300),
            "bytes": b"C" * 300,
            "bytearray": bytearray(b"D" * 300),
            "memoryview": memoryview(b"E" * 300),
        }[kind]

    def onOpen(self, conn: IConnection) -> None:
        pass

    def onMessage(self, conn: IConnection, message: str | bytes) -> Any:
        from ratchet_tx.commands import Broadcast, SendMessage

        assert isinstance(message, str)
        how, _, kind = message.rpartition(" ")
        payload = self.payload(kind)
        if how == "broadcast":
            return Broadcast([conn], payload)
        return SendMessage(conn, payload)

    def onClose(self, conn: IConnection) -> None:
        pass

    def onError(self, conn: IConnection, failure: Any) -> None:
        pass


@implementer(IApplication)
class PidReporter:
    """
    For workers tests: answers every message with C{"NAME pid PID"}, the
    message being the client's name and PID this process's, and logs
    C{"onClose NAME"} when a named client goes.
    """

    def __init__(self) -> None:
        self.names: dict[IConnection, str] = {}

    def onOpen(self, conn: IConnection) -> None:
        pass

    def onMessage(self, conn: IConnection, message: str | bytes) -> None:
        import os

        name = message if isinstance(message, str) else message.decode()
        self.names[conn] = name
        conn.send(f"{name} pid {os.getpid()}")

    def onClose(self, conn: IConnection) -> None:
        from twisted.logger import Logger

        Logger().info("onClose {name}", name=self.names.pop(conn, "?"))

    def onError(self, conn: IConnection, failure: Any) -> None:
        pass
