"""
L{RedisClient} on a L{MemoryReactorClock} with a fake server: commands fail at
once without a connection, share the connection when there is one, are
bounded by C{maxPending}; scripts fall back from EVALSHA to EVAL; the thin
conveniences send what they say.
"""

from __future__ import annotations

import hashlib
from typing import Any

from twisted.internet.defer import gatherResults
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.redis import (
    RedisClient,
    RedisError,
    RedisUnavailable,
    Script,
)
from tests.redis.helpers import FakeServer, Peer

URL = "redis://127.0.0.1:6379/0"


class ClientTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.server = FakeServer(self.reactor)

    def connectedClient(self, **options: Any) -> tuple[RedisClient, Peer]:
        client = RedisClient(self.reactor, URL, **options)
        return client, self.server.connected()


class ExecuteTests(ClientTestCase):
    def test_refusedBeforeConnected(self) -> None:
        """Nothing waits for the connection: no write, no queue."""
        client = RedisClient(self.reactor, URL)
        error = self.failureResultOf(client.get("k"), RedisUnavailable).value
        self.assertEqual(str(error), f"not connected to {URL}: not connected yet")
        peer = self.server.accept()
        self.assertEqual(peer.commands(), [[b"PING"]])

    def test_refusedWhileReconnecting(self) -> None:
        client, peer = self.connectedClient()
        peer.lose()
        self.server.refuse()
        error = self.failureResultOf(client.get("k"), RedisUnavailable).value
        self.assertIn("Connection was refused", str(error))

    def test_writtenAtOnceAndAnswered(self) -> None:
        client, peer = self.connectedClient()
        d = client.execute("HSET", "user:1", "name", "alice")
        self.assertEqual(peer.commands(), [[b"HSET", b"user:1", b"name", b"alice"]])
        peer.reply(1)
        self.assertEqual(self.successResultOf(d), 1)

    def test_thousandConcurrentGets(self) -> None:
        """
        A thousand GETs at once go out on the one connection, before any
        reply, and each gets its own reply.
        """
        client, peer = self.connectedClient()
        gets = [client.get(f"key:{i}") for i in range(1000)]
        self.assertEqual(peer.commands(), [[b"GET", b"key:%d" % i] for i in range(1000)])
        peer.reply(*[b"value:%d" % i for i in range(1000)])
        values = self.successResultOf(gatherResults(gets))
        self.assertEqual(values, [b"value:%d" % i for i in range(1000)])
        self.assertEqual(self.server.attempts, 1)

    def test_errorReply(self) -> None:
        client, peer = self.connectedClient()
        bad, good = client.execute("INCR", "text"), client.get("text")
        peer.reply(RedisError("ERR value is not an integer or out of range"), b"abc")
        error = self.failureResultOf(bad, RedisError).value
        self.assertEqual(error.code, "ERR")
        self.assertEqual(self.successResultOf(good), b"abc")
        self.assertTrue(client.connected)

    def test_maxPending(self) -> None:
        client, peer = self.connectedClient(maxPending=3)
        first = [client.get(i) for i in range(3)]
        refused = client.get("one too many")
        error = self.failureResultOf(refused, RedisUnavailable).value
        self.assertIn("3 commands already wait for", str(error))
        self.assertEqual(len(peer.commands()), 3)
        peer.reply(b"0")
        self.successResultOf(first[0])
        client.get("now there is room")
        self.assertEqual(peer.commands(), [[b"GET", b"now there is room"]])

    def test_badArgument(self) -> None:
        client, peer = self.connectedClient()
        self.assertRaises(TypeError, client.execute, "SET", "k", None)
        self.assertRaises(TypeError, client.execute)
        self.assertEqual(peer.commands(), [])


class ScriptTests(ClientTestCase):
    SOURCE = "return redis.call('GET', KEYS[1])"

    def test_sha1(self) -> None:
        script = Script(self.SOURCE)
        self.assertEqual(script.source, self.SOURCE.encode())
        self.assertEqual(script.sha1, hashlib.sha1(self.SOURCE.encode()).hexdigest())
        self.assertEqual(Script(self.SOURCE.encode()).sha1, script.sha1)
        self.assertIn(script.sha1[:12], repr(script))

    def test_evalsha(self) -> None:
        client, peer = self.connectedClient()
        script = Script(self.SOURCE)
        d = client.runScript(script, keys=["k1", "k2"], args=[1, "x"])
        self.assertEqual(
            peer.commands(),
            [[b"EVALSHA", script.sha1.encode(), b"2", b"k1", b"k2", b"1", b"x"]],
        )
        peer.reply(b"result")
        self.assertEqual(self.successResultOf(d), b"result")

    def test_noscriptFallsBackToEval(self) -> None:
        client, peer = self.connectedClient()
        script = Script(self.SOURCE)
        d = client.runScript(script, keys=["k"])
        peer.commands()
        peer.reply(RedisError("NOSCRIPT No matching script. Please use EVAL."))
        self.assertEqual(peer.commands(), [[b"EVAL", self.SOURCE.encode(), b"1", b"k"]])
        peer.reply(b"result")
        self.assertEqual(self.successResultOf(d), b"result")

    def test_otherErrorsPassThrough(self) -> None:
        client, peer = self.connectedClient()
        d = client.runScript(Script("error"))
        peer.commands()
        peer.reply(RedisError("ERR user_script:1: Script attempted to access nonexistent global"))
        self.assertEqual(self.failureResultOf(d, RedisError).value.code, "ERR")
        self.assertEqual(peer.commands(), [])


class ConvenienceTests(ClientTestCase):
    def test_commands(self) -> None:
        client, peer = self.connectedClient()
        cases = [
            (client.ping(), [b"PING"]),
            (client.get("k"), [b"GET", b"k"]),
            (client.set("k", "v"), [b"SET", b"k", b"v"]),
            (client.set("k", b"v", ex=10, nx=True), [b"SET", b"k", b"v", b"EX", b"10", b"NX"]),
            (client.set("k", 1, px=1500, xx=True), [b"SET", b"k", b"1", b"PX", b"1500", b"XX"]),
            (client.delete("a", "b"), [b"DEL", b"a", b"b"]),
            (client.expire("k", 30), [b"EXPIRE", b"k", b"30"]),
            (client.publish("chan", "msg"), [b"PUBLISH", b"chan", b"msg"]),
        ]
        self.assertEqual(peer.commands(), [command for _, command in cases])
        replies = ["PONG", b"v", "OK", None, "OK", 2, 1, 3]
        peer.reply(*replies)
        self.assertEqual([self.successResultOf(d) for d, _ in cases], replies)
