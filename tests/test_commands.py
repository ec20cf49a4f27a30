"""
Tests for L{ratchet_tx.commands}: what each command does when carried out,
and how L{Composite} is built.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.commands import NULL, Call, CloseConnection, Composite, Null, SendMessage
from tests.support.apps import FakeConnection


class SendMessageTests(SynchronousTestCase):
    def test_sendsTheMessageToItsConnection(self) -> None:
        conn = FakeConnection()
        SendMessage(conn, "hello").execute()
        self.assertEqual(conn.sent, ["hello"])

    def test_sendsBytesAsBytes(self) -> None:
        conn = FakeConnection()
        SendMessage(conn, b"\x00\xff").execute()
        self.assertEqual(conn.sent, [b"\x00\xff"])

    def test_sendingDoesNotCloseTheConnection(self) -> None:
        conn = FakeConnection()
        SendMessage(conn, "hello").execute()
        self.assertEqual(conn.closes, [])

    def test_reprNamesTheMessage(self) -> None:
        self.assertIn("'hello'", repr(SendMessage(FakeConnection(), "hello")))


class CloseConnectionTests(SynchronousTestCase):
    def test_closesWithANormalClosureByDefault(self) -> None:
        conn = FakeConnection()
        CloseConnection(conn).execute()
        self.assertEqual(conn.closes, [(None, "")])

    def test_closesWithTheCodeAndReasonGiven(self) -> None:
        conn = FakeConnection()
        CloseConnection(conn, 4001, "kicked").execute()
        self.assertEqual(conn.closes, [(4001, "kicked")])

    def test_closesGracefullyNotByAborting(self) -> None:
        conn = FakeConnection()
        CloseConnection(conn).execute()
        self.assertFalse(conn.aborted)


class CompositeConstructionTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.conn = FakeConnection()
        self.a = SendMessage(self.conn, "a")
        self.b = SendMessage(self.conn, "b")
        self.c = SendMessage(self.conn, "c")
        self.d = SendMessage(self.conn, "d")

    def test_keepsOrder(self) -> None:
        self.assertEqual(list(Composite(self.a, self.b, self.c)), [self.a, self.b, self.c])

    def test_flattensNestedComposites(self) -> None:
        nested = Composite(self.a, Composite(self.b, Composite(self.c)), self.d)
        self.assertEqual(list(nested), [self.a, self.b, self.c, self.d])
        self.assertNotIn(Composite, {type(command) for command in nested})

    def test_flattensCompositesInsideIterables(self) -> None:
        nested = Composite([self.a, (Composite(self.b), [self.c])], self.d)
        self.assertEqual(list(nested), [self.a, self.b, self.c, self.d])

    def test_ignoresNone(self) -> None:
        self.assertEqual(list(Composite(None, self.a, None, [None, self.b])), [self.a, self.b])

    def test_dropsNull(self) -> None:
        self.assertEqual(list(Composite(NULL, self.a, Composite(NULL))), [self.a])

    def test_takesAGenerator(self) -> None:
        """The broadcast idiom: one SendMessage per client, from a generator."""
        clients = [FakeConnection() for _ in range(3)]
        broadcast = Composite(SendMessage(c, "hi") for c in clients)
        self.assertEqual([command.conn for command in broadcast], clients)

    def test_empty(self) -> None:
        self.assertEqual(len(Composite()), 0)
        self.assertEqual(len(Composite(None, [], Composite())), 0)

    def test_lengthCountsFlattenedCommands(self) -> None:
        self.assertEqual(len(Composite(self.a, Composite(self.b, self.c))), 3)

    def test_refusesSomethingThatIsNotACommand(self) -> None:
        error = self.assertRaises(TypeError, Composite, self.a, 42)
        self.assertIn("42", str(error))

    def test_refusesAString(self) -> None:
        """A str is iterable, but its characters are not commands."""
        self.assertRaises(TypeError, Composite, "hello")

    def test_refusesBytes(self) -> None:
        self.assertRaises(TypeError, Composite, b"hello")


class CompositeExecutionTests(SynchronousTestCase):
    def test_runsEveryCommandInOrder(self) -> None:
        conn = FakeConnection()
        composite = Composite(
            SendMessage(conn, "a"), [SendMessage(conn, "b")], SendMessage(conn, "c")
        )
        composite.execute()
        self.assertEqual(conn.sent, ["a", "b", "c"])

    def test_aFailingCommandDoesNotStopTheOthers(self) -> None:
        """
        Outside a server, every command still runs and the first error is
        raised after all of them.
        """
        before, after = FakeConnection(), FakeConnection()
        broken = FakeConnection(sendError=ConnectionError("gone"))
        otherBroken = FakeConnection(sendError=ValueError("also gone"))
        composite = Composite(
            SendMessage(before, "x"),
            SendMessage(broken, "x"),
            SendMessage(otherBroken, "x"),
            SendMessage(after, "x"),
        )
        error = self.assertRaises(ConnectionError, composite.execute)
        self.assertEqual(str(error), "gone")
        self.assertEqual(before.sent, ["x"])
        self.assertEqual(after.sent, ["x"])

    def test_executeReturnsNothing(self) -> None:
        self.assertIsNone(Composite(SendMessage(FakeConnection(), "a")).execute())


class NullTests(SynchronousTestCase):
    def test_nullIsANull(self) -> None:
        self.assertIsInstance(NULL, Null)

    def test_doesNothing(self) -> None:
        self.assertIsNone(NULL.execute())

    def test_reprIsItsName(self) -> None:
        self.assertEqual(repr(NULL), "NULL")


class CallTests(SynchronousTestCase):
    def test_callsTheFunctionWithItsArguments(self) -> None:
        calls = []
        Call(lambda *args, **kwargs: calls.append((args, kwargs)), 1, 2, key="value").execute()
        self.assertEqual(calls, [((1, 2), {"key": "value"})])

    def test_doesNotCallUntilExecuted(self) -> None:
        calls = []
        Call(calls.append, "now")
        self.assertEqual(calls, [])

    def test_returnsWhatTheFunctionReturns(self) -> None:
        """The result (a follow-up command, here) is for the server to carry out."""
        followUp = SendMessage(FakeConnection(), "next")
        self.assertIs(Call(lambda: followUp).execute(), followUp)

    def test_propagatesTheFunctionsException(self) -> None:
        def fail() -> None:
            raise KeyError("missing")

        self.assertRaises(KeyError, Call(fail).execute)


class BroadcastTests(SynchronousTestCase):
    """L{Broadcast}: one message to many connections."""

    def test_providesICommand(self) -> None:
        from zope.interface.verify import verifyObject

        from ratchet_tx.commands import Broadcast
        from ratchet_tx.interfaces import ICommand

        self.assertTrue(verifyObject(ICommand, Broadcast([], "x")))

    def test_takesTheConnectionsWhenMade(self) -> None:
        """The application may change its set after returning the command."""
        from ratchet_tx.commands import Broadcast

        clients = {FakeConnection(), FakeConnection()}
        command = Broadcast(clients, "hi")
        clients.clear()
        command.execute()
        self.assertEqual([c.sent for c in command.conns], [["hi"], ["hi"]])

    def test_oneFailureDoesNotStopTheOthers(self) -> None:
        from ratchet_tx.commands import Broadcast

        broken = FakeConnection(sendError=ConnectionError("gone"))
        fine = FakeConnection()
        command = Broadcast([broken, fine], b"data")
        self.assertRaises(ConnectionError, command.execute)
        self.assertEqual(fine.sent, [b"data"])
