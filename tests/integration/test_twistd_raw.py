"""
C{twistd ratchet --protocol raw}: a real process on loopback ports, real
sockets, stopped with SIGTERM.

Raw TCP has no message boundaries, so the tests read until the bytes they
expect have arrived rather than expecting one message per read.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time

from twisted.trial.unittest import SynchronousTestCase

from tests.support.twistd import (
    SIGTERM_EXIT,
    TwistdProcess,
    connect,
    recvUntil,
    recvUntilClosed,
    runTwistd,
)

CHAT = ("--protocol", "raw", "--app", "ratchet_tx.examples.chat:Chat")
ECHO = ("--protocol", "raw", "--app", "ratchet_tx.examples.echo:Echo")


class TwistdTestCase(SynchronousTestCase):
    def startTwistd(self, *args: str) -> TwistdProcess:
        proc = TwistdProcess.start(*args)
        self.addCleanup(proc.stop)
        return proc

    def connect(self, port: int) -> socket.socket:
        sock = connect(port)
        self.addCleanup(sock.close)
        return sock

    def join(self, ports: list[int], count: int) -> list[socket.socket]:
        """
        Connect C{count} (at least two) chat clients, one at a time, to each
        of C{ports} in turn, and return once the server has opened every one.

        A client's connect() returns once the kernel has the connection, which
        may be before the server has accepted it: a message sent then would
        miss it.  So each newcomer after the first says hello and waits until
        everyone before it has heard: the server has read from the newcomer
        (so it opened it), and sent to the others (so they are open too).
        Every hello is heard in full before the next client connects, so none
        is left unread.
        """
        clients = [self.connect(ports[0])]
        for index in range(1, count):
            newcomer = self.connect(ports[index % len(ports)])
            hello = b"<hello from %d>" % index
            newcomer.sendall(hello)
            for client in clients:
                self.assertEqual(recvUntil(client, hello), hello)
            clients.append(newcomer)
        return clients

    def assertStoppedCleanly(self, proc: TwistdProcess) -> None:
        code = proc.stop()
        log = proc.log()
        self.assertEqual(code, SIGTERM_EXIT, log)
        self.assertIn("Server Shut Down.", log)
        self.assertNotIn("Traceback", log)


class ChatTests(TwistdTestCase):
    def setUp(self) -> None:
        self.proc = self.startTwistd(*CHAT)

    def test_messageReachesTheOtherClientNotTheSender(self) -> None:
        alice, bob = self.join([self.proc.port], 2)
        alice.sendall(b"hello bob")
        self.assertEqual(recvUntil(bob, b"hello bob"), b"hello bob")
        # Had the server sent alice's message back to her, it would reach her
        # before bob's answer does: what she reads is bob's answer alone.
        bob.sendall(b"hi alice")
        self.assertEqual(recvUntil(alice, len(b"hi alice")), b"hi alice")
        self.assertStoppedCleanly(self.proc)

    def test_broadcastReachesEveryOtherClient(self) -> None:
        sender, *others = self.join([self.proc.port], 4)
        sender.sendall(b"to all")
        for other in others:
            self.assertEqual(recvUntil(other, b"to all"), b"to all")

    def test_largeMessageArrivesWhole(self) -> None:
        alice, bob = self.join([self.proc.port], 2)
        payload = bytes(range(256)) * 4096  # 1 MiB, arriving in many reads
        alice.sendall(payload)
        self.assertEqual(recvUntil(bob, len(payload), timeout=10), payload)

    def test_departedClientDoesNotBreakTheChat(self) -> None:
        alice, bob, carol = self.join([self.proc.port], 3)
        bob.close()
        alice.sendall(b"still there?")
        self.assertEqual(recvUntil(carol, b"still there?"), b"still there?")


class EchoTests(TwistdTestCase):
    def setUp(self) -> None:
        self.proc = self.startTwistd(*ECHO)

    def test_echoesBytes(self) -> None:
        client = self.connect(self.proc.port)
        client.sendall(b"\x00\xffping\r\n")
        self.assertEqual(recvUntil(client, 8), b"\x00\xffping\r\n")

    def test_echoesEachClientToItselfOnly(self) -> None:
        a, b = self.connect(self.proc.port), self.connect(self.proc.port)
        a.sendall(b"from a")
        b.sendall(b"from b")
        self.assertEqual(recvUntil(a, 6), b"from a")
        self.assertEqual(recvUntil(b, 6), b"from b")

    def test_echoesALotInOrder(self) -> None:
        client = self.connect(self.proc.port)
        payload = b"".join(b"%08d" % n for n in range(100_000))  # 800 KB
        received = b""
        for start in range(0, len(payload), 65536):
            client.sendall(payload[start : start + 65536])
            received += recvUntil(client, min(len(payload), start + 65536) - len(received))
        self.assertEqual(received, payload)

    def test_slowReaderIsThrottled(self) -> None:
        """
        Flow control: a client that sends but never reads fills the server's
        write buffer; the server then stops reading from it, so the client's
        sends stall instead of the server buffering without bound.
        """
        client = self.connect(self.proc.port)
        client.settimeout(2)
        chunk = b"x" * 65536
        sent = 0
        limit = 256 * 1024 * 1024
        with self.assertRaises(TimeoutError):
            while sent < limit:
                sent += client.send(chunk)
        self.assertLess(sent, limit)
        # The server still works: reading drains what it echoed so far.
        self.assertEqual(recvUntil(client, 65536, timeout=10)[:5], b"xxxxx")


class ListenTests(TwistdTestCase):
    def test_twoEndpointsServeOneChat(self) -> None:
        proc = self.startTwistd(
            *CHAT, "--listen", "tcp:0:interface=127.0.0.1", "--listen", "tcp:0:interface=127.0.0.1"
        )
        self.assertEqual(len(proc.ports), 2)
        self.assertNotEqual(proc.ports[0], proc.ports[1])
        # join() proves it already: the second client's hello, read on the
        # second port, reached the first client, connected to the first.
        first, second = self.join(proc.ports, 2)
        first.sendall(b"via first")
        self.assertEqual(recvUntil(second, b"via first"), b"via first")

    def test_portInUseEndsTwistd(self) -> None:
        """
        twistd does not keep running without the port it was told to listen
        on, and says so in one line on stderr, naming the --listen, with no
        traceback.
        """
        busy = self.startTwistd(*ECHO)
        listen = f"tcp:{busy.port}:interface=127.0.0.1"
        done = runTwistd(
            "-n", "--pidfile=", "ratchet", *ECHO, "--listen", listen, separateStderr=True
        )
        self.assertEqual(done.returncode, 1)
        self.assertEqual(
            done.stderr.splitlines(),
            [f"twistd ratchet: cannot listen on {listen}: address already in use"],
        )
        self.assertNotIn("Traceback", done.stdout)

    def test_portInUseRemovesThePidFile(self) -> None:
        """As when twistd fails to start any other way, its pid file goes."""
        busy = self.startTwistd(*ECHO)
        listen = f"tcp:{busy.port}:interface=127.0.0.1"
        with tempfile.TemporaryDirectory(prefix="ratchet-pid-") as folder:
            pidfile = os.path.join(folder, "twistd.pid")
            done = runTwistd("-n", f"--pidfile={pidfile}", "ratchet", *ECHO, "--listen", listen)
            self.assertEqual(done.returncode, 1, done.stdout)
            self.assertFalse(os.path.exists(pidfile))


class ShutdownTests(TwistdTestCase):
    def test_sigtermWithClientsConnected(self) -> None:
        """
        SIGTERM: twistd closes every client gracefully (they read EOF) and
        exits promptly and cleanly, well before the shutdown timeout.
        """
        proc = self.startTwistd(*ECHO, "--shutdown-timeout", "30")
        clients = [self.connect(proc.port) for _ in range(3)]
        for client in clients:
            client.sendall(b"ready?")
            self.assertEqual(recvUntil(client, 6), b"ready?")
        started = time.monotonic()
        self.assertStoppedCleanly(proc)
        self.assertLess(time.monotonic() - started, 5)
        for client in clients:
            self.assertEqual(recvUntilClosed(client), b"")

    def test_sigtermWithNoClients(self) -> None:
        proc = self.startTwistd(*CHAT)
        self.assertStoppedCleanly(proc)

    def test_portIsClosedAfterStop(self) -> None:
        proc = self.startTwistd(*ECHO)
        proc.stop()
        with self.assertRaises(ConnectionRefusedError):
            connect(proc.port, timeout=2).close()


class BadAppTests(SynchronousTestCase):
    def test_missingAppExitsWithOneLineError(self) -> None:
        done = runTwistd(
            "-n", "--pidfile=", "ratchet", "--protocol", "raw", "--app", "ratchet_tx.examples:Nope"
        )
        self.assertNotEqual(done.returncode, 0)
        self.assertNotIn("Traceback", done.stdout)
        self.assertEqual(
            [line for line in done.stdout.splitlines() if "Nope" in line],
            [line for line in done.stdout.splitlines() if "--app:" in line],
        )
        self.assertEqual(len([line for line in done.stdout.splitlines() if "Nope" in line]), 1)

    def test_helperReportsTheFailureToStart(self) -> None:
        """TwistdProcess.start raises with twistd's output when it cannot start."""
        with self.assertRaises(AssertionError) as raised:
            TwistdProcess.start("--protocol", "raw", "--app", "nosuch:thing")
        self.assertIn("nosuch", str(raised.exception))
