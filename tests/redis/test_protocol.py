"""
One Redis connection (L{RedisProtocol}) on a L{StringTransport} and a fake
L{Clock}: commands written at once, replies matched in order, one lazy timer
for every deadline, and what becomes of the commands in flight when the
connection goes.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.redis.errors import RedisError, RedisTimeout, RedisUnavailable
from ratchet_tx.redis.protocol import RedisProtocol
from ratchet_tx.redis.resp import ReplyParser, encodeCommand
from tests.redis.helpers import encodeReply

NAME = "redis://127.0.0.1:6379/0"
TIMEOUT = 5.0


class OptionsTransport(StringTransport):
    """A transport that records the TCP options set on it."""

    def __init__(self) -> None:
        super().__init__()
        self.options: dict[str, bool] = {}

    def setTcpNoDelay(self, enabled: bool) -> None:
        self.options["noDelay"] = enabled

    def setTcpKeepAlive(self, enabled: bool) -> None:
        self.options["keepAlive"] = enabled


class Results:
    """
    What the Deferreds of the commands sent came to (a callback added after
    L{track} gets C{None}).
    """

    def __init__(self) -> None:
        self.values: list[Any] = []

    def track(self, d: Any) -> Any:
        index = len(self.values)
        self.values.append("pending")

        def done(result: Any) -> None:
            self.values[index] = result.value if isinstance(result, Failure) else result

        d.addBoth(done)
        return d


class ProtocolTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.transport = OptionsTransport()
        self.protocol = RedisProtocol(self.clock, TIMEOUT, ReplyParser(), NAME)
        self.lost: list[tuple[str, int]] = []
        self.closed: list[bool] = []
        self.protocol.onLost = lambda reason, failed: self.lost.append((reason, failed))
        self.protocol.onClosed = lambda: self.closed.append(True)
        self.protocol.makeConnection(self.transport)
        self.results = Results()

    def send(self, *args: Any) -> Any:
        return self.results.track(self.protocol.sendCommand(args))

    def reply(self, *replies: Any) -> None:
        self.protocol.dataReceived(b"".join(encodeReply(r) for r in replies))

    def loseConnection(self) -> None:
        self.protocol.connectionLost(Failure(ConnectionDone()))

    def timers(self) -> list[Any]:
        return [call for call in self.clock.getDelayedCalls() if call.active()]


class PipeliningTests(ProtocolTestCase):
    def test_tcpOptions(self) -> None:
        self.assertEqual(self.transport.options, {"noDelay": True, "keepAlive": True})

    def test_writtenAtOnce(self) -> None:
        self.send("SET", "k", "v")
        self.assertEqual(self.transport.value(), encodeCommand("SET", "k", "v"))
        self.send("GET", "k")
        self.assertEqual(
            self.transport.value(), encodeCommand("SET", "k", "v") + encodeCommand("GET", "k")
        )

    def test_repliesInOrder(self) -> None:
        for i in range(100):
            self.send("GET", i)
        self.reply(*[b"%d" % i for i in range(60)])
        self.assertEqual(self.results.values[:60], [b"%d" % i for i in range(60)])
        self.assertEqual(self.results.values[60:], ["pending"] * 40)
        self.reply(*[b"%d" % i for i in range(60, 100)])
        self.assertEqual(self.results.values, [b"%d" % i for i in range(100)])

    def test_errorReplyFailsOnlyItsCommand(self) -> None:
        self.send("INCR", "text")
        self.send("GET", "text")
        self.reply(RedisError("ERR value is not an integer"), b"abc")
        self.assertEqual(self.results.values, [RedisError("ERR value is not an integer"), b"abc"])
        self.assertFalse(self.transport.disconnecting)

    def test_everyReplyType(self) -> None:
        replies = ["OK", 3, None, b"x", [b"a", [1, None]], []]
        for _ in replies:
            self.send("X")
        self.reply(*replies)
        self.assertEqual(self.results.values, replies)

    def test_severalReplies(self) -> None:
        """A command answered several times fires with the last reply."""
        self.results.track(self.protocol.sendCommand(("SUBSCRIBE", "a", "b"), 2))
        self.reply([b"subscribe", b"a", 1])
        self.assertEqual(self.results.values, ["pending"])
        self.reply([b"subscribe", b"b", 2])
        self.assertEqual(self.results.values, [[b"subscribe", b"b", 2]])

    def test_callbackSendsMore(self) -> None:
        """A command sent from a reply's callback is pipelined after the others."""
        self.send("GET", "a").addCallback(lambda _: self.send("GET", "c"))
        self.send("GET", "b")
        self.reply(b"1", b"2", b"3")
        self.assertEqual(self.results.values, [b"1", b"2", b"3"])

    def test_badArgumentRaises(self) -> None:
        self.assertRaises(TypeError, self.protocol.sendCommand, ("SET", "k", None))
        self.assertEqual(self.transport.value(), b"")
        self.assertEqual(self.protocol.pending, type(self.protocol.pending)())


class BrokenServerTests(ProtocolTestCase):
    def test_replyToNoCommand(self) -> None:
        self.reply("OK")
        self.assertTrue(self.transport.disconnected)
        self.assertEqual(self.lost, [("protocol error: a reply to no command: 'OK'", 0)])

    def test_protocolError(self) -> None:
        """
        Replies before the bad bytes answer their commands; the rest fail
        with RedisUnavailable, and the connection is aborted.
        """
        for _ in range(3):
            self.send("GET", "k")
        self.protocol.dataReceived(b"$1\r\na\r\n!garbage\r\n$1\r\nb\r\n")
        self.assertTrue(self.transport.disconnected)
        first, second, third = self.results.values
        self.assertEqual(first, b"a")
        self.assertIsInstance(second, RedisUnavailable)
        self.assertNotIsInstance(second, RedisTimeout)
        self.assertEqual(str(second), f"{NAME}: protocol error: unknown reply type b'!'")
        self.assertIs(second, third)
        self.assertEqual(self.lost, [("protocol error: unknown reply type b'!'", 2)])
        self.assertEqual(self.timers(), [])

    def test_tooLargeIsAProtocolError(self) -> None:
        self.protocol = RedisProtocol(self.clock, TIMEOUT, ReplyParser(maxBulkLength=10), NAME)
        self.protocol.makeConnection(StringTransport())
        d = self.protocol.sendCommand(("GET", "k"))
        self.protocol.dataReceived(b"$11\r\n")
        self.assertIn("exceeds the limit", str(self.failureResultOf(d, RedisUnavailable).value))

    def test_nothingAfterTheDrop(self) -> None:
        """Once dropped, the connection delivers nothing more."""
        self.send("GET", "k")
        self.protocol.drop("testing")
        self.reply(b"late")
        self.assertIsInstance(self.results.values[0], RedisUnavailable)
        self.assertEqual(self.lost, [("testing", 1)])


class TimeoutTests(ProtocolTestCase):
    def test_noReply(self) -> None:
        """
        The oldest command fails with RedisTimeout after commandTimeout; the
        connection is aborted and every other command in flight fails with
        RedisUnavailable.
        """
        self.send("GET", "a")
        self.clock.advance(1)
        self.send("GET", "b")
        self.clock.advance(TIMEOUT - 1 - 0.001)
        self.assertEqual(self.results.values, ["pending", "pending"])
        self.clock.advance(0.002)
        timedOut, other = self.results.values
        self.assertIsInstance(timedOut, RedisTimeout)
        self.assertEqual(str(timedOut), f"{NAME}: no reply within 5 s")
        self.assertIsInstance(other, RedisUnavailable)
        self.assertNotIsInstance(other, RedisTimeout)
        self.assertTrue(self.transport.disconnected)
        self.assertEqual(self.lost, [("no reply within 5 s", 2)])
        self.assertEqual(self.timers(), [])

    def test_oneTimerForAll(self) -> None:
        for i in range(1000):
            self.send("GET", i)
        self.assertEqual(len(self.timers()), 1)

    def test_timerMovesToTheNextDeadline(self) -> None:
        """
        Each command has its own deadline: one sent at t=3 and still waiting
        at t=5, when the first one's deadline passed, fails at t=8.
        """
        self.send("GET", "a")
        self.clock.advance(3)
        self.send("GET", "b")
        self.clock.advance(1)
        self.reply(b"A")
        self.clock.advance(1)  # t=5: the timer fires, finds b not due
        self.assertEqual(self.results.values, [b"A", "pending"])
        self.assertFalse(self.transport.disconnected)
        self.clock.advance(2.999)
        self.assertEqual(self.results.values[1], "pending")
        self.clock.advance(0.002)
        self.assertIsInstance(self.results.values[1], RedisTimeout)

    def test_answeredInTime(self) -> None:
        self.send("GET", "a")
        self.clock.advance(TIMEOUT - 0.1)
        self.reply(b"A")
        self.clock.advance(10 * TIMEOUT)
        self.assertEqual(self.results.values, [b"A"])
        self.assertFalse(self.transport.disconnected)
        self.assertEqual(self.timers(), [])


class LossTests(ProtocolTestCase):
    def test_lost(self) -> None:
        self.send("GET", "a")
        self.send("GET", "b")
        self.loseConnection()
        a, b = self.results.values
        self.assertIsInstance(a, RedisUnavailable)
        self.assertEqual(str(a), f"{NAME}: connection lost: Connection was closed cleanly")
        self.assertIs(a, b)
        self.assertEqual(self.lost, [("connection lost: Connection was closed cleanly", 2)])
        self.assertEqual(self.closed, [True])
        self.assertEqual(self.timers(), [])

    def test_ownerHearsFirst(self) -> None:
        """
        When a command's failure is delivered, the owner was told already:
        a callback that asks for another command finds the connection gone.
        """
        order: list[str] = []
        self.protocol.onLost = lambda reason, failed: order.append("lost")
        self.protocol.sendCommand(("GET", "a")).addErrback(lambda f: order.append("failed"))
        self.loseConnection()
        self.assertEqual(order, ["lost", "failed"])

    def test_droppedThenClosed(self) -> None:
        """A drop is a loss at once; the transport's close comes later."""
        self.protocol.drop("why")
        self.assertEqual((self.lost, self.closed), ([("why", 0)], []))
        self.loseConnection()
        self.assertEqual((self.lost, self.closed), ([("why", 0)], [True]))

    def test_sendAfterLoss(self) -> None:
        self.loseConnection()
        d = self.protocol.sendCommand(("GET", "a"))
        self.failureResultOf(d, RedisUnavailable)
        self.assertEqual(self.transport.value(), b"")


class CloseWhenIdleTests(ProtocolTestCase):
    def test_waitsForReplies(self) -> None:
        self.send("GET", "a")
        self.send("GET", "b")
        self.protocol.closeWhenIdle()
        self.assertFalse(self.transport.disconnecting)
        refused = self.protocol.sendCommand(("GET", "c"))
        self.failureResultOf(refused, RedisUnavailable)
        self.reply(b"A")
        self.assertFalse(self.transport.disconnecting)
        self.reply(b"B")
        self.assertTrue(self.transport.disconnecting)
        self.assertFalse(self.transport.disconnected)
        self.assertEqual(self.results.values, [b"A", b"B"])

    def test_idle(self) -> None:
        self.protocol.closeWhenIdle()
        self.assertTrue(self.transport.disconnecting)

    def test_stillTimesOut(self) -> None:
        self.send("GET", "a")
        self.protocol.closeWhenIdle()
        self.clock.advance(TIMEOUT)
        self.assertIsInstance(self.results.values[0], RedisTimeout)
        self.assertTrue(self.transport.disconnected)
