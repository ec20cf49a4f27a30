"""
Tests for L{ratchet_tx.dispatch}: calling an application's callbacks and
carrying out what they answer, whatever it is and however it fails.

Every test calls a callback the way every layer does, through
C{deliver(app, conn, app.onMessage, message)}, and asserts what the
connection saw and what C{onError} was told.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import LogLevel, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.commands import NULL, Call, CloseConnection, Composite, SendMessage
from ratchet_tx.dispatch import deliver
from tests.support.apps import FakeConnection, LogCapture, RecordingApplication, raising


class AppError(Exception):
    """An application callback failed."""


class OnErrorError(Exception):
    """The application's onError failed too."""


def onMessage(app: RecordingApplication, conn: FakeConnection, message: object = "hi") -> None:
    deliver(app, conn, app.onMessage, message)


class ResultTests(SynchronousTestCase):
    """A callback may answer nothing, a command, a Deferred or a coroutine."""

    def setUp(self) -> None:
        self.conn = FakeConnection()

    def test_noneDoesNothing(self) -> None:
        app = RecordingApplication(onMessage=None)
        onMessage(app, self.conn)
        self.assertEqual(self.conn.sent, [])
        self.assertEqual(self.conn.closes, [])
        self.assertEqual(app.callbacks(), ["onMessage"])

    def test_callbackGetsTheConnectionAndMessage(self) -> None:
        app = RecordingApplication()
        onMessage(app, self.conn, b"\x01\x02")
        self.assertEqual(app.events, [("onMessage", self.conn, b"\x01\x02")])

    def test_commandIsCarriedOut(self) -> None:
        app = RecordingApplication(onMessage=lambda conn, msg: SendMessage(conn, msg.upper()))
        onMessage(app, self.conn, "hi")
        self.assertEqual(self.conn.sent, ["HI"])

    def test_closeConnectionIsCarriedOut(self) -> None:
        app = RecordingApplication(onMessage=lambda conn, msg: CloseConnection(conn, 4000, "no"))
        onMessage(app, self.conn)
        self.assertEqual(self.conn.closes, [(4000, "no")])

    def test_nullDoesNothing(self) -> None:
        app = RecordingApplication(onMessage=NULL)
        onMessage(app, self.conn)
        self.assertEqual(self.conn.sent, [])
        self.assertEqual(app.callbacks(), ["onMessage"])

    def test_commandToAnotherConnection(self) -> None:
        """A callback about one connection may send to another (a chat does)."""
        other = FakeConnection()
        app = RecordingApplication(onMessage=lambda conn, msg: SendMessage(other, msg))
        onMessage(app, self.conn, "relay")
        self.assertEqual((self.conn.sent, other.sent), ([], ["relay"]))

    def test_compositeIsCarriedOutInOrder(self) -> None:
        app = RecordingApplication(
            onMessage=lambda conn, msg: Composite(SendMessage(conn, "1"), SendMessage(conn, "2"))
        )
        onMessage(app, self.conn)
        self.assertEqual(self.conn.sent, ["1", "2"])

    def test_deferredFiredLaterIsCarriedOutWhenItFires(self) -> None:
        answer: Deferred[SendMessage] = Deferred()
        app = RecordingApplication(onMessage=answer)
        onMessage(app, self.conn)
        self.assertEqual(self.conn.sent, [])
        answer.callback(SendMessage(self.conn, "later"))
        self.assertEqual(self.conn.sent, ["later"])

    def test_deferredAlreadyFiredIsCarriedOutAtOnce(self) -> None:
        app = RecordingApplication(onMessage=succeed(SendMessage(self.conn, "now")))
        onMessage(app, self.conn)
        self.assertEqual(self.conn.sent, ["now"])

    def test_deferredOfNoneDoesNothing(self) -> None:
        answer: Deferred[None] = Deferred()
        app = RecordingApplication(onMessage=answer)
        onMessage(app, self.conn)
        answer.callback(None)
        self.assertEqual(self.conn.sent, [])
        self.assertEqual(app.callbacks(), ["onMessage"])

    def test_deferredOfADeferredIsFollowed(self) -> None:
        inner: Deferred[SendMessage] = Deferred()
        outer: Deferred[Deferred[SendMessage]] = Deferred()
        app = RecordingApplication(onMessage=outer)
        onMessage(app, self.conn)
        outer.callback(inner)
        inner.callback(SendMessage(self.conn, "at last"))
        self.assertEqual(self.conn.sent, ["at last"])

    def test_coroutineAwaitingADeferred(self) -> None:
        """An application can await (say) a database before it answers."""
        database: Deferred[str] = Deferred()

        async def answer(conn: FakeConnection, message: str) -> SendMessage:
            row = await database
            return SendMessage(conn, f"{message}: {row}")

        app = RecordingApplication(onMessage=answer)
        onMessage(app, self.conn, "lookup")
        self.assertEqual(self.conn.sent, [])
        database.callback("found")
        self.assertEqual(self.conn.sent, ["lookup: found"])

    def test_coroutineReturningNothing(self) -> None:
        async def answer(conn: FakeConnection, message: str) -> None:
            return None

        app = RecordingApplication(onMessage=answer)
        onMessage(app, self.conn)
        self.assertEqual(self.conn.sent, [])
        self.assertEqual(app.failures(), [])

    def test_callFollowUpCommandIsCarriedOut(self) -> None:
        app = RecordingApplication(
            onMessage=lambda conn, msg: Call(lambda: SendMessage(conn, "follow-up"))
        )
        onMessage(app, self.conn)
        self.assertEqual(self.conn.sent, ["follow-up"])

    def test_callFollowUpChain(self) -> None:
        """A Call may answer a Call, which may answer a Composite."""
        calls = []

        def second(conn: FakeConnection) -> Composite:
            calls.append("second")
            return Composite(SendMessage(conn, "a"), SendMessage(conn, "b"))

        def first(conn: FakeConnection) -> Call:
            calls.append("first")
            return Call(second, conn)

        app = RecordingApplication(onMessage=lambda conn, msg: Call(first, conn))
        onMessage(app, self.conn)
        self.assertEqual(calls, ["first", "second"])
        self.assertEqual(self.conn.sent, ["a", "b"])

    def test_callFollowUpDeferred(self) -> None:
        later: Deferred[SendMessage] = Deferred()
        app = RecordingApplication(onMessage=lambda conn, msg: Call(lambda: later))
        onMessage(app, self.conn)
        self.assertEqual(self.conn.sent, [])
        later.callback(SendMessage(self.conn, "done"))
        self.assertEqual(self.conn.sent, ["done"])

    def test_callFollowUpInsideAComposite(self) -> None:
        app = RecordingApplication(
            onMessage=lambda conn, msg: Composite(
                SendMessage(conn, "1"), Call(lambda: SendMessage(conn, "2")), SendMessage(conn, "3")
            )
        )
        onMessage(app, self.conn)
        self.assertEqual(self.conn.sent, ["1", "2", "3"])


class ErrorTests(SynchronousTestCase):
    """Failures go to onError with a Failure; nothing raises out of deliver."""

    def setUp(self) -> None:
        self.conn = FakeConnection()

    def assertOneErrorReported(self, app: RecordingApplication, exceptionType: type) -> Failure:
        failures = app.failures()
        self.assertEqual(len(failures), 1, f"onError calls: {failures}")
        self.assertIsInstance(failures[0], Failure)
        self.assertTrue(failures[0].check(exceptionType), failures[0])
        self.flushLoggedErrors(exceptionType)
        return failures[0]

    def test_exceptionGoesToOnErrorWithTheFailure(self) -> None:
        error = AppError("boom")
        app = RecordingApplication(onMessage=raising(error))
        onMessage(app, self.conn)
        failure = self.assertOneErrorReported(app, AppError)
        self.assertIs(failure.value, error)
        self.assertEqual(app.events[-1][:2], ("onError", self.conn))

    def test_exceptionInEveryCallbackGoesToOnError(self) -> None:
        app = RecordingApplication(
            onOpen=raising(AppError("open")),
            onMessage=raising(AppError("message")),
            onClose=raising(AppError("close")),
        )
        deliver(app, self.conn, app.onOpen)
        deliver(app, self.conn, app.onMessage, b"x")
        deliver(app, self.conn, app.onClose)
        self.assertEqual(
            [str(failure.value) for failure in app.failures()], ["open", "message", "close"]
        )
        self.flushLoggedErrors(AppError)

    def test_onErrorsCommandIsCarriedOut(self) -> None:
        app = RecordingApplication(
            onMessage=raising(AppError()), onError=lambda conn, f: CloseConnection(conn, 1011)
        )
        onMessage(app, self.conn)
        self.assertEqual(self.conn.closes, [(1011, "")])
        self.flushLoggedErrors(AppError)

    def test_onErrorAnsweringNothingLeavesTheConnectionOpen(self) -> None:
        app = RecordingApplication(onMessage=raising(AppError()), onError=None)
        onMessage(app, self.conn)
        self.assertEqual(self.conn.closes, [])
        self.assertOneErrorReported(app, AppError)

    def test_failingDeferredGoesToOnError(self) -> None:
        answer: Deferred[SendMessage] = Deferred()
        app = RecordingApplication(onMessage=answer)
        onMessage(app, self.conn)
        self.assertEqual(app.failures(), [])
        answer.errback(AppError("query failed"))
        failure = self.assertOneErrorReported(app, AppError)
        self.assertEqual(str(failure.value), "query failed")

    def test_alreadyFailedDeferredGoesToOnError(self) -> None:
        app = RecordingApplication(onMessage=fail(AppError("at once")))
        onMessage(app, self.conn)
        self.assertOneErrorReported(app, AppError)

    def test_failingDeferredIsConsumed(self) -> None:
        """
        The failure is handled: the Deferred is not left holding an unhandled
        error (which Twisted would log as "Unhandled error in Deferred").
        """
        answer: Deferred[SendMessage] = Deferred()
        app = RecordingApplication(onMessage=answer)
        onMessage(app, self.conn)
        answer.errback(AppError())
        results: list[object] = []
        answer.addBoth(results.append)
        self.assertEqual(results, [None])
        self.flushLoggedErrors(AppError)

    def test_coroutineRaisingGoesToOnError(self) -> None:
        database: Deferred[str] = Deferred()

        async def answer(conn: FakeConnection, message: str) -> SendMessage:
            await database
            raise AppError("after the await")

        app = RecordingApplication(onMessage=answer)
        onMessage(app, self.conn)
        database.callback("row")
        failure = self.assertOneErrorReported(app, AppError)
        self.assertEqual(str(failure.value), "after the await")

    def test_nonCommandResultIsATypeErrorForOnError(self) -> None:
        app = RecordingApplication(onMessage=lambda conn, msg: 42)
        onMessage(app, self.conn)
        failure = self.assertOneErrorReported(app, TypeError)
        self.assertIn("42", str(failure.value))

    def test_deferredOfANonCommandIsATypeErrorForOnError(self) -> None:
        app = RecordingApplication(onMessage=succeed("not a command"))
        onMessage(app, self.conn)
        self.assertOneErrorReported(app, TypeError)

    def test_failingCommandGoesToOnError(self) -> None:
        broken = FakeConnection(sendError=ConnectionError("peer gone"))
        app = RecordingApplication(onMessage=lambda conn, msg: SendMessage(broken, msg))
        onMessage(app, self.conn)
        failure = self.assertOneErrorReported(app, ConnectionError)
        self.assertEqual(str(failure.value), "peer gone")

    def test_failingCommandIsReportedAgainstItsTarget(self) -> None:
        """
        onError hears about the connection the failing command was for, not
        the one whose callback returned it: a broadcast that cannot reach one
        client must not get the sender closed.
        """
        broken = FakeConnection(sendError=ConnectionError("peer gone"))
        app = RecordingApplication(
            onMessage=lambda conn, msg: SendMessage(broken, msg),
            onError=lambda conn, f: CloseConnection(conn),
        )
        onMessage(app, self.conn)
        self.assertEqual(app.events[-1][:2], ("onError", broken))
        self.assertEqual((self.conn.closes, len(broken.closes)), ([], 1))
        self.flushLoggedErrors(ConnectionError)

    def test_broadcastFailureIsReportedAgainstItsTarget(self) -> None:
        """
        A L{Broadcast} that cannot reach one client reports that client, and
        still reaches the others.
        """
        from ratchet_tx.commands import Broadcast

        broken = FakeConnection(sendError=ConnectionError("peer gone"))
        others = [FakeConnection(), FakeConnection()]
        app = RecordingApplication(
            onMessage=lambda conn, msg: Broadcast([others[0], broken, others[1]], msg),
            onError=lambda conn, f: CloseConnection(conn),
        )
        onMessage(app, self.conn)
        self.assertEqual(app.events[-1][:2], ("onError", broken))
        self.assertEqual([len(other.sent) for other in others], [1, 1])
        self.assertEqual((self.conn.closes, len(broken.closes)), ([], 1))
        self.flushLoggedErrors(ConnectionError)

    def test_failingCloseIsReportedAgainstItsTarget(self) -> None:
        class Unclosable(FakeConnection):
            def close(self, code: int | None = None, reason: str = "") -> None:
                raise OSError("cannot close")

        target = Unclosable()
        app = RecordingApplication(onMessage=lambda conn, msg: CloseConnection(target))
        onMessage(app, self.conn)
        self.assertEqual(app.events[-1][:2], ("onError", target))
        self.flushLoggedErrors(OSError)

    def test_failingCallGoesToOnError(self) -> None:
        app = RecordingApplication(onMessage=lambda conn, msg: Call(raising(AppError("in call"))))
        onMessage(app, self.conn)
        self.assertOneErrorReported(app, AppError)

    def test_compositeWithAFailingSendStillDeliversTheOthers(self) -> None:
        first, last = FakeConnection(), FakeConnection()
        broken = FakeConnection(sendError=ConnectionError("peer gone"))
        app = RecordingApplication(
            onMessage=lambda conn, msg: Composite(
                SendMessage(c, msg) for c in (first, broken, last)
            )
        )
        onMessage(app, self.conn, "broadcast")
        self.assertEqual(first.sent, ["broadcast"])
        self.assertEqual(last.sent, ["broadcast"])
        self.assertOneErrorReported(app, ConnectionError)
        self.assertEqual(app.events[-1][1], broken, "onError is about the unreachable client")

    def test_compositeWithAFailingCallStillRunsTheOthers(self) -> None:
        app = RecordingApplication(
            onMessage=lambda conn, msg: Composite(
                Call(raising(AppError("one"))), SendMessage(conn, "still sent")
            )
        )
        onMessage(app, self.conn)
        self.assertEqual(self.conn.sent, ["still sent"])
        self.assertOneErrorReported(app, AppError)

    def test_errorsAreLogged(self) -> None:
        """An application error leaves a trace in the log, with its failure."""
        log = LogCapture(self)
        app = RecordingApplication(onMessage=raising(AppError("visible")))
        onMessage(app, self.conn)
        self.assertEqual(len(log.failuresOf(AppError)), 1)
        self.flushLoggedErrors(AppError)


class OnErrorFailureTests(SynchronousTestCase):
    """If onError fails too, the error is logged and the connection closed."""

    def setUp(self) -> None:
        self.conn = FakeConnection()
        self.log = LogCapture(self)

    def assertClosedAndLogged(self, exceptionType: type) -> None:
        self.assertEqual(len(self.conn.closes), 1, "the connection is closed once")
        logged = self.log.failuresOf(exceptionType)
        self.assertTrue(logged, f"no {exceptionType.__name__} in the log")
        self.assertIn(repr(self.conn), formatEvent(logged[-1]))
        self.assertGreaterEqual(logged[-1]["log_level"], LogLevel.error)
        self.flushLoggedErrors(exceptionType, AppError)

    def test_onErrorRaising(self) -> None:
        app = RecordingApplication(
            onMessage=raising(AppError()), onError=raising(OnErrorError("handler broken"))
        )
        onMessage(app, self.conn)
        self.assertClosedAndLogged(OnErrorError)

    def test_onErrorIsNotCalledForItsOwnFailure(self) -> None:
        app = RecordingApplication(onMessage=raising(AppError()), onError=raising(OnErrorError()))
        onMessage(app, self.conn)
        self.assertEqual(app.callbacks(), ["onMessage", "onError"])
        self.flushLoggedErrors(AppError, OnErrorError)

    def test_onErrorReturningACommandThatFails(self) -> None:
        """onError tries to tell the peer, and that fails too."""
        self.conn.sendError = ConnectionError("cannot tell the peer")
        app = RecordingApplication(
            onMessage=raising(AppError()), onError=lambda conn, f: SendMessage(conn, "sorry")
        )
        onMessage(app, self.conn)
        self.assertClosedAndLogged(ConnectionError)
        self.assertEqual(app.callbacks(), ["onMessage", "onError"])

    def test_onErrorReturningADeferredThatFails(self) -> None:
        later: Deferred[None] = Deferred()
        app = RecordingApplication(onMessage=raising(AppError()), onError=later)
        onMessage(app, self.conn)
        self.assertEqual(self.conn.closes, [])
        later.errback(OnErrorError("async handler broken"))
        self.assertClosedAndLogged(OnErrorError)
        self.assertEqual(app.callbacks(), ["onMessage", "onError"])

    def test_onErrorReturningANonCommand(self) -> None:
        app = RecordingApplication(onMessage=raising(AppError()), onError=lambda conn, f: "oops")
        onMessage(app, self.conn)
        self.assertClosedAndLogged(TypeError)

    def test_closingFailsToo(self) -> None:
        """Even a connection that cannot be closed does not make deliver raise."""

        class Unclosable(FakeConnection):
            def close(self, code: int | None = None, reason: str = "") -> None:
                raise OSError("cannot close")

        conn = Unclosable()
        app = RecordingApplication(onMessage=raising(AppError()), onError=raising(OnErrorError()))
        onMessage(app, conn)
        self.assertTrue(self.log.failuresOf(OSError))
        self.flushLoggedErrors(AppError, OnErrorError, OSError)
