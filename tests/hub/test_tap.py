"""C{twistd ratchet --hub}: the option, and two processes that form one room."""

from __future__ import annotations

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.commandline import makeHub, parseHub
from ratchet_tx.hub import LocalHub, RedisHub
from ratchet_tx.tap import Options


class HubOptionTests(SynchronousTestCase):
    def test_default(self) -> None:
        options = Options()
        options.parseOptions([])
        self.assertEqual(options["hub"], "local")

    def test_redis(self) -> None:
        options = Options()
        options.parseOptions(["--hub", "redis://127.0.0.1:6390/2"])
        self.assertEqual(options["hub"], "redis://127.0.0.1:6390/2")

    def test_invalid(self) -> None:
        with self.assertRaises(usage.UsageError) as caught:
            parseHub("http://example.com/")
        self.assertIn("--hub takes 'local' or a redis:// URL", str(caught.exception))

    def test_makeHub(self) -> None:
        from twisted.internet.testing import MemoryReactorClock

        self.assertIsInstance(makeHub("local", None), LocalHub)
        hub = makeHub("redis://127.0.0.1:6390/0", MemoryReactorClock())
        self.assertIsInstance(hub, RedisHub)
        hub.close()


class TwoProcessesTests(SynchronousTestCase):
    """Two C{twistd ratchet} processes with the same C{--hub} are one room."""

    def test_oneRoom(self) -> None:
        import time

        from tests.support.redisserver import RedisServer
        from tests.support.twistd import TwistdProcess, connect, recvUntil

        server = RedisServer.start()
        self.addCleanup(server.stop)
        args = ("--protocol", "raw", "--app", "ratchet_tx.examples.chat:Chat")
        processes = [TwistdProcess.start(*args, "--hub", server.url()) for _ in range(2)]
        for process in processes:
            self.addCleanup(process.stop)
        first, second = (connect(p.port) for p in processes)
        self.addCleanup(first.close)
        self.addCleanup(second.close)
        # Both subscribed: one pub/sub subscription per process.
        deadline = time.monotonic() + 10
        while server.command("PUBSUB", "NUMSUB", "ratchet:channel:chat")[1] != 2:
            self.assertLess(time.monotonic(), deadline, "not subscribed in time")
            time.sleep(0.02)
        first.sendall(b"hello from process one\n")
        self.assertEqual(recvUntil(second, b"\n", timeout=10), b"hello from process one\n")
        second.sendall(b"and back\n")
        self.assertEqual(recvUntil(first, b"\n", timeout=10), b"and back\n")
