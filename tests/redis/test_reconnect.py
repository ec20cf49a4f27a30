"""
Keeping a connection to Redis up, on a L{MemoryReactorClock}: attempts, the
handshake, timeouts, backoff, one log line per outage, L{whenConnected}, and
closing from every state with nothing left behind.  (Shown through
L{RedisClient}; L{RedisSubscriber} shares all of it.)
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from twisted.application.service import IService, MultiService
from twisted.internet.defer import CancelledError
from twisted.internet.endpoints import (
    HostnameEndpoint,
    TCP4ClientEndpoint,
    TCP6ClientEndpoint,
    UNIXClientEndpoint,
)
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from ratchet_tx.redis import (
    Backoff,
    RedisClient,
    RedisError,
    RedisTimeout,
    RedisUnavailable,
    State,
)
from ratchet_tx.redis.reconnect import endpointFor
from ratchet_tx.redis.url import parseRedisURL
from tests.redis.helpers import FakeServer
from tests.support.apps import LogCapture
from tests.websocket.helpers import loggedLines, logMessages

URL = "redis://127.0.0.1:6379/0"
SECRET = "hunter2-very-secret"

#: No randomness: the waits are 0.1, 0.2, 0.4, ... up to 10 s.
FIXED = Backoff(random=lambda: 0.0)


class ReconnectTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.server = FakeServer(self.reactor)
        self.log = LogCapture(self)

    def client(self, url: str = URL, **options: Any) -> RedisClient:
        options.setdefault("backoff", FIXED)
        return RedisClient(self.reactor, url, **options)

    def timers(self) -> list[Any]:
        return [call for call in self.reactor.getDelayedCalls() if call.active()]

    def outageLines(self) -> tuple[list[str], list[str]]:
        return loggedLines(self.log, "unavailable at"), loggedLines(self.log, "connected to")

    def assertNoSecretLogged(self) -> None:
        for line in logMessages(self.log):
            self.assertNotIn(SECRET, line)


class EndpointTests(SynchronousTestCase):
    def test_kinds(self) -> None:
        reactor = MemoryReactorClock()
        for url, kind in [
            ("redis://127.0.0.1", TCP4ClientEndpoint),
            ("redis://[::1]", TCP6ClientEndpoint),
            ("redis://redis.example", HostnameEndpoint),
            ("unix:///tmp/redis.sock", UNIXClientEndpoint),
        ]:
            with self.subTest(url=url):
                self.assertIsInstance(endpointFor(reactor, parseRedisURL(url), 3.0), kind)

    def test_connects(self) -> None:
        reactor = MemoryReactorClock()
        RedisClient(reactor, "redis://[::1]:6380")
        RedisClient(reactor, "unix:///tmp/redis.sock")
        self.assertEqual(reactor.tcpClients[0][:2], ("::1", 6380))
        self.assertEqual(reactor.unixClients[0][0], "/tmp/redis.sock")

    def test_givenEndpoint(self) -> None:
        reactor = MemoryReactorClock()
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.2", 7000)
        client = RedisClient(reactor, URL, endpoint=endpoint)
        self.assertEqual(reactor.tcpClients[0][:2], ("127.0.0.2", 7000))
        self.assertEqual(str(client.address), URL)

    def test_badOptions(self) -> None:
        reactor = MemoryReactorClock()
        self.assertRaises(ValueError, RedisClient, reactor, "http://x")
        self.assertRaises(ValueError, RedisClient, reactor, URL, connectTimeout=0)
        self.assertRaises(ValueError, RedisClient, reactor, URL, commandTimeout=-1)
        self.assertRaises(ValueError, RedisClient, reactor, URL, maxPending=0)
        self.assertEqual(reactor.tcpClients, [])


class HandshakeTests(ReconnectTestCase):
    def test_ping(self) -> None:
        """With nothing else to send, a PING proves the server answers."""
        client = self.client()
        self.assertEqual(client.state, State.CONNECTING)
        peer = self.server.accept()
        self.assertEqual(peer.commands(), [[b"PING"]])
        self.assertFalse(client.connected)
        peer.reply("PONG")
        self.assertTrue(client.connected)
        self.assertEqual(client.state, State.CONNECTED)

    def test_authAndSelectPipelined(self) -> None:
        client = self.client(f"redis://:{SECRET}@127.0.0.1/3")
        peer = self.server.accept()
        self.assertEqual(peer.commands(), [[b"AUTH", SECRET.encode()], [b"SELECT", b"3"]])
        peer.reply("OK")
        self.assertFalse(client.connected)
        peer.reply("OK")
        self.assertTrue(client.connected)

    def test_aclUser(self) -> None:
        self.client(f"redis://alice:{SECRET}@127.0.0.1")
        peer = self.server.accept()
        self.assertEqual(peer.commands(), [[b"AUTH", b"alice", SECRET.encode()]])

    def test_wrongPassword(self) -> None:
        """
        An error reply to AUTH fails the attempt: the connection is
        dropped, the reason logged (without the password), and the client
        tries again after the backoff.
        """
        client = self.client(f"redis://:{SECRET}@127.0.0.1/1")
        peer = self.server.accept()
        peer.reply(RedisError("WRONGPASS invalid username-password pair"))
        self.assertTrue(peer.aborted)
        self.assertFalse(client.connected)
        self.assertEqual(client.state, State.WAITING)
        [line] = loggedLines(self.log, "unavailable at")
        self.assertIn("AUTH failed: WRONGPASS invalid username-password pair", line)
        self.assertIn("redis://:***@127.0.0.1:6379/1", line)
        self.assertNoSecretLogged()
        peer.lose()
        self.reactor.advance(0.1)
        self.assertEqual(self.server.attempts, 2)

    def test_serverFull(self) -> None:
        """A server that takes the connection but answers with an error."""
        client = self.client()
        peer = self.server.accept()
        peer.reply(RedisError("ERR max number of clients reached"))
        self.assertEqual(client.state, State.WAITING)
        self.assertTrue(loggedLines(self.log, "PING failed: ERR max number of clients reached"))

    def test_handshakeTimeout(self) -> None:
        client = self.client(connectTimeout=3.0)
        peer = self.server.accept()
        self.reactor.advance(2.9)
        self.assertFalse(peer.aborted)
        self.reactor.advance(0.2)
        self.assertTrue(peer.aborted)
        self.assertEqual(client.state, State.WAITING)
        self.assertTrue(loggedLines(self.log, "not ready within the connect timeout of 3 s"))

    def test_connectTimeout(self) -> None:
        """A TCP connect that never completes is cancelled at connectTimeout."""
        client = self.client(connectTimeout=2.0)
        self.reactor.advance(2.0)
        self.assertTrue(self.reactor.connectors[0].stoppedConnecting)
        self.assertEqual(client.state, State.WAITING)
        self.assertTrue(loggedLines(self.log, "not ready within the connect timeout of 2 s"))
        self.reactor.advance(0.1)
        self.assertEqual(self.server.attempts, 2)


class BackoffTests(ReconnectTestCase):
    def attemptTimes(self, failures: int) -> list[float]:
        """Refuse C{failures} attempts in a row; when was each made?"""
        times: list[float] = []
        for _ in range(failures):
            if len(times) == self.server.attempts:
                [retry] = self.timers()
                self.reactor.advance(retry.getTime() - self.reactor.seconds())
            self.assertEqual(self.server.attempts, len(times) + 1)
            times.append(self.reactor.seconds())
            self.server.refuse()
        return times

    def test_waitsGrow(self) -> None:
        self.client()
        times = self.attemptTimes(10)
        waits = [round(b - a, 2) for a, b in pairwise(times)]
        self.assertEqual(waits, [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0])

    def test_lostConnectionRetriedAtOnce(self) -> None:
        client = self.client()
        peer = self.server.connected()
        peer.lose()
        self.assertEqual(self.server.attempts, 2)
        self.assertEqual(client.state, State.CONNECTING)

    def test_backoffStartsAgainAfterSuccess(self) -> None:
        self.client()
        self.attemptTimes(4)
        self.reactor.advance(1.0)
        self.server.connected().lose()
        start = self.reactor.seconds()
        self.server.refuse()
        self.reactor.advance(0.099)
        self.assertEqual(self.server.attempts, 6)
        self.reactor.advance(0.002)
        self.assertEqual(self.server.attempts, 7)
        self.assertAlmostEqual(self.reactor.seconds() - start, 0.101)


class OutageLogTests(ReconnectTestCase):
    def test_oneLineEachWay(self) -> None:
        """
        However many attempts an outage takes, one line says it started
        (address and reason) and one that it ended (how long, how many
        commands failed meanwhile).
        """
        client = self.client(f"redis://:{SECRET}@127.0.0.1")
        peer = self.server.accept()
        peer.commands()
        peer.reply("OK")
        inFlight = [client.get("a"), client.get("b")]
        peer.lose()
        for d in inFlight:
            self.failureResultOf(d, RedisUnavailable)
        for _ in range(20):
            self.server.refuse()
            self.failureResultOf(client.get("c"), RedisUnavailable)
            self.reactor.advance(10)
        self.assertEqual(self.server.attempts, 22)
        started, ended = self.outageLines()
        self.assertEqual(
            started,
            [
                "Redis client unavailable at redis://:***@127.0.0.1:6379/0 "
                "(connection lost: Connection was closed cleanly); reconnecting with backoff"
            ],
        )
        self.assertEqual(ended, [])
        self.server.accept().reply("OK")
        started, ended = self.outageLines()
        self.assertEqual(len(started), 1)
        self.assertEqual(
            ended,
            [
                "Redis client connected to redis://:***@127.0.0.1:6379/0 after 200.0 s "
                "unavailable; commands failed meanwhile: 22"
            ],
        )
        self.assertNoSecretLogged()

    def test_firstConnectFailing(self) -> None:
        client = self.client()
        self.server.refuse()
        self.reactor.advance(0.1)
        self.server.refuse()
        self.reactor.advance(0.2)
        self.server.connected()
        started, ended = self.outageLines()
        self.assertEqual(len(started), 1)
        self.assertIn("Connection was refused by other side", started[0])
        self.assertEqual(len(ended), 1)
        self.assertIn("after 0.3 s", ended[0])
        self.assertTrue(client.connected)

    def test_quietWhenAllIsWell(self) -> None:
        self.client()
        self.server.connected()
        self.assertEqual(logMessages(self.log), [])

    def test_commandTimeoutIsAnOutage(self) -> None:
        client = self.client(commandTimeout=2.0)
        self.server.connected()
        self.reactor.advance(1)
        d = client.get("k")
        self.reactor.advance(2)
        self.failureResultOf(d, RedisUnavailable)
        self.assertEqual(self.server.attempts, 2)
        self.server.connected()
        started, ended = self.outageLines()
        self.assertIn("(no reply within 2 s)", started[0])
        self.assertIn("commands failed meanwhile: 1", ended[0])


class WhenConnectedTests(ReconnectTestCase):
    def test_firesOnConnect(self) -> None:
        client = self.client()
        d = client.whenConnected()
        self.assertNoResult(d)
        self.server.connected()
        self.assertIs(self.successResultOf(d), client)
        # Its timeout is gone with it: nothing fires it a second time.
        self.reactor.advance(100)

    def test_alreadyConnected(self) -> None:
        client = self.client()
        self.server.connected()
        self.assertIs(self.successResultOf(client.whenConnected()), client)

    def test_waitsAcrossAttempts(self) -> None:
        client = self.client()
        d = client.whenConnected(timeout=5)
        self.server.refuse()
        self.reactor.advance(0.1)
        self.assertNoResult(d)
        self.server.connected()
        self.successResultOf(d)

    def test_timeout(self) -> None:
        client = self.client(connectTimeout=2.0)
        self.server.refuse()
        d = client.whenConnected()
        self.reactor.advance(1.999)
        self.assertNoResult(d)
        self.reactor.advance(0.001)
        error = self.failureResultOf(d, RedisUnavailable).value
        self.assertIn("not connected to redis://127.0.0.1:6379/0 within 2 s", str(error))
        self.assertIn("Connection was refused", str(error))

    def test_cancel(self) -> None:
        client = self.client()
        d = client.whenConnected()
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertEqual(len(self.timers()), 1)  # only the attempt's own
        self.server.connected()

    def test_closed(self) -> None:
        client = self.client()
        waiting = client.whenConnected()
        client.close()
        self.failureResultOf(waiting, RedisUnavailable)
        self.failureResultOf(client.whenConnected(), RedisUnavailable)


class CloseTests(ReconnectTestCase):
    def assertClosedClean(self, client: RedisClient) -> None:
        self.assertEqual(client.state, State.CLOSED)
        self.assertFalse(client.connected)
        self.assertEqual(self.timers(), [])
        attempts = self.server.attempts
        self.reactor.advance(100)
        self.assertEqual(self.server.attempts, attempts)

    def test_whileConnecting(self) -> None:
        client = self.client()
        self.successResultOf(client.close())
        self.assertTrue(self.reactor.connectors[0].stoppedConnecting)
        self.assertClosedClean(client)

    def test_whileWaiting(self) -> None:
        client = self.client()
        self.server.refuse()
        self.successResultOf(client.close())
        self.assertClosedClean(client)

    def test_duringHandshake(self) -> None:
        client = self.client()
        peer = self.server.accept()
        closed = client.close()
        self.assertTrue(peer.aborted)
        self.assertNoResult(closed)
        peer.lose()
        self.successResultOf(closed)
        self.assertClosedClean(client)

    def test_connectedWaitsForReplies(self) -> None:
        client = self.client()
        peer = self.server.connected()
        inFlight = client.get("k")
        closed = client.close()
        self.failureResultOf(client.get("other"), RedisUnavailable)
        self.assertFalse(peer.closing)
        peer.reply(b"v")
        self.assertEqual(self.successResultOf(inFlight), b"v")
        self.assertTrue(peer.closing)
        self.assertFalse(peer.aborted)
        self.assertNoResult(closed)
        peer.lose()
        self.successResultOf(closed)
        self.assertClosedClean(client)
        self.assertEqual(logMessages(self.log), [])

    def test_waitsForADroppedConnectionToClose(self) -> None:
        """
        A connection dropped (a timeout) and not yet closed when close() is
        called still holds a socket: close() waits for it.
        """
        client = self.client(commandTimeout=1.0)
        peer = self.server.connected()
        d = client.get("k")
        self.reactor.advance(1.0)
        self.failureResultOf(d, RedisTimeout)
        self.assertTrue(peer.aborted)
        closed = client.close()
        self.assertNoResult(closed)
        peer.lose()
        self.successResultOf(closed)
        self.assertClosedClean(client)

    def test_twice(self) -> None:
        client = self.client()
        peer = self.server.connected()
        first, second = client.close(), client.close()
        peer.lose()
        self.successResultOf(first)
        self.successResultOf(second)
        self.successResultOf(client.close())


class ServiceTests(ReconnectTestCase):
    def test_isAService(self) -> None:
        client = self.client()
        self.assertTrue(verifyObject(IService, client))

    def test_stoppedByItsParent(self) -> None:
        parent = MultiService()
        client = self.client()
        client.setServiceParent(parent)
        parent.startService()
        self.assertTrue(client.running)
        peer = self.server.connected()
        stopped = parent.stopService()
        self.assertTrue(peer.closing)
        self.assertNoResult(stopped)
        peer.lose()
        self.successResultOf(stopped)
        self.assertFalse(client.running)
        self.assertEqual(client.state, State.CLOSED)
