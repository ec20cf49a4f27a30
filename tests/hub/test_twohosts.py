"""
The hub across hosts: Redis, and the processes using it, each on a host of
its own (L{tests.support.netns}: network namespaces on one bridge), so that
the connections to Redis cross a link that can fail the way networks fail --
packets dropped with no reset -- rather than the way a stopped process on
loopback fails, with an immediate close.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase

from ratchet_tx.hub import HistoryPolicy
from ratchet_tx.hub.redis import RedisHub
from tests.hub import helpers
from tests.hub.helpers import sleep
from tests.support.apps import FakeConnection, LogCapture
from tests.support.netns import Network
from tests.support.redisserver import RedisServer
from tests.support.twistd import TwistdProcess, twistdEnvironment

#: Every wait of these tests is bounded by this, in seconds.
TIMEOUT = 30.0

#: The port the servers listen on, on their own hosts.
PORT = 8080

#: A process on the Redis host that publishes "0", "1", ... on channel
#: "c" through a RedisHub on that host's loopback, one every INTERVAL
#: seconds, and prints each number once Redis took it.
PUBLISHER = """
import sys
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater
from ratchet_tx.hub import HistoryPolicy
from ratchet_tx.hub.redis import RedisHub

url, count, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])

@inlineCallbacks
def main():
    hub = RedisHub(url, HistoryPolicy(size=count), reactor=reactor)
    yield hub.client.whenConnected(10)
    for n in range(count):
        yield hub.publish("c", str(n))
        print(n, flush=True)
        yield deferLater(reactor, interval, lambda: None)
    yield hub.close()

main().addBoth(lambda result: (print(result, file=sys.stderr), reactor.stop()))
reactor.run()
"""


def waitFor(condition: Any, timeout: float = TIMEOUT) -> Any:
    return helpers.waitFor(condition, timeout, 0.02)


class TwoHostsTests(TestCase):
    timeout = 120

    def setUp(self) -> None:
        self.network = Network.create("redis", "a", "b")
        self.addCleanup(self.network.destroy)
        self.redis = RedisServer.start(on=self.network["redis"])
        self.addCleanup(self.redis.stop)

    def test_theDemoRoomSpansHosts(self) -> None:
        """
        C{twistd ratchet --hub redis://...} on two hosts is one room: each
        page's roster lists the clients of both hosts, and a chat message
        typed on one host reaches the other.
        """
        from websockets.sync.client import connect

        servers = {}
        for name in ("a", "b"):
            host = self.network[name]
            servers[name] = TwistdProcess.start(
                "--hub",
                self.redis.url(),
                "--listen",
                f"tcp:{PORT}:interface={host.address}",
                on=host,
            )
            self.addCleanup(servers[name].stop)
        a, b = (self.network[name].address for name in ("a", "b"))
        with connect(f"ws://{a}:{PORT}/ws") as onA, connect(f"ws://{b}:{PORT}/ws") as onB:
            received = {"a": _until(onA, "roster", 2), "b": _until(onB, "roster", 2)}
            for name, roster in received.items():
                self.assertEqual(len(roster["clients"]), 2, f"the roster seen on {name}")
            onA.send(json.dumps({"type": "chat", "text": "across the wire"}))
            chat = _until(onB, "chat")
            self.assertEqual(chat["text"], "across the wire")
            self.assertEqual(chat["from"]["id"], received["a"]["you"]["id"])

    @inlineCallbacks
    def test_cutOffFromRedisAndBackNothingLost(self) -> None:
        """
        This host cut off from the Redis host while a process there keeps
        publishing: the receivers here stay connected; the hub notices the
        silent link by its PING (one log line), reconnects once the link is
        back, and catches up from history: every message once, in order.
        """
        logs = LogCapture(self)
        count = 300
        hub = RedisHub(
            self.redis.url(),
            HistoryPolicy(size=count),
            reactor=reactor,
            heartbeat=0.5,
            pingInterval=0.3,
            commandTimeout=0.7,
            connectTimeout=0.7,
        )
        self.addCleanup(hub.close)
        yield hub.client.whenConnected(TIMEOUT)
        yield hub.subscriber.whenConnected(TIMEOUT)
        receivers = [FakeConnection() for _ in range(20)]
        for conn in receivers:
            yield hub.subscribe(conn, "c")

        publisher = self.startPublisher(count, interval=0.01)
        yield waitFor(lambda: len(receivers[0].sent) >= 50 or publisher.poll() is not None)
        self.assertIsNone(publisher.poll(), "the publisher ended early")
        self.network.cut("redis")
        yield waitFor(lambda: self.outages(logs, "subscriber"))
        yield sleep(0.5)
        self.network.mend("redis")
        yield waitFor(lambda: publisher.poll() is not None)
        self.assertEqual(publisher.returncode, 0, publisher.stderr.read())
        yield waitFor(lambda: all(len(conn.sent) >= count for conn in receivers))
        yield sleep(0.1)

        expected = [str(n) for n in range(count)]
        for conn in receivers:
            self.assertFalse(conn.closed)
            self.assertEqual(conn.sent, expected)
        self.assertEqual(hub.lost, 0)
        # The publisher never waited for this host: its messages kept going
        # while the link was down, and this host had them from history.
        self.assertEqual(len(self.outages(logs, "subscriber")), 1)

    def startPublisher(self, count: int, interval: float) -> subprocess.Popen[str]:
        publisher = subprocess.Popen(
            self.network["redis"].command(
                sys.executable,
                "-c",
                PUBLISHER,
                f"redis://127.0.0.1:{self.redis.port}/0",
                str(count),
                str(interval),
            ),
            env=twistdEnvironment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

        def stop() -> None:
            if publisher.poll() is None:
                publisher.kill()
            publisher.wait(10)
            assert publisher.stderr is not None
            publisher.stderr.close()

        self.addCleanup(stop)
        return publisher

    def outages(self, logs: LogCapture, role: str) -> list[dict[str, Any]]:
        """The log lines of outages of this test's Redis, for C{role}."""
        return [
            event
            for event in logs.events
            if "unavailable at" in str(event.get("log_format", ""))
            and event.get("role") == role
            and self.redis.host in str(event.get("address", ""))
        ]


def _until(ws: Any, kind: str, clients: int | None = None) -> dict[str, Any]:
    """
    The next message of type C{kind} (a roster: the first that lists
    C{clients} clients), within L{TIMEOUT}; the welcome's C{you} is kept
    in it for the caller.
    """
    deadline = time.monotonic() + TIMEOUT
    you = None
    while True:
        message = json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.01)))
        if message["type"] == "welcome":
            you = message["you"]
        if message["type"] == kind and (clients is None or len(message["clients"]) == clients):
            message.setdefault("you", you)
            return message
