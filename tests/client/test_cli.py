"""
Tests for L{ratchet_tx.client.cli}: C{python -m ratchet_tx.client} as a real
subprocess, against a real C{twistd ratchet} echo server on loopback.
"""

from __future__ import annotations

import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from ratchet_tx.commands import SendMessage
from ratchet_tx.interfaces import IApplication, IConnection
from tests.support.twistd import REPO_ROOT, TwistdProcess, twistdEnvironment

ECHO = ("--app", "ratchet_tx.examples.echo:Echo")

#: A bound on each run of the program.
TIMEOUT = 30


@implementer(IApplication)
class Describe:
    """Says, on open, the sub-protocol chosen and the X-Hello header; then echoes."""

    def onOpen(self, conn: IConnection) -> SendMessage:
        hello = conn.headers.get("X-Hello")  # type: ignore[attr-defined]
        return SendMessage(conn, f"{conn.subprotocol} {hello}")  # type: ignore[attr-defined]

    def onMessage(self, conn: IConnection, message: str | bytes) -> SendMessage:
        return SendMessage(conn, message)

    def onClose(self, conn: IConnection) -> None:
        pass

    def onError(self, conn: IConnection, failure: object) -> None:
        pass


def client(*args: str, input: str = "") -> subprocess.CompletedProcess[str]:
    """Run C{python -m ratchet_tx.client ARGS} with C{input} piped in."""
    return subprocess.run(
        [sys.executable, "-m", "ratchet_tx.client", *args],
        cwd=REPO_ROOT,
        env=twistdEnvironment(),
        input=input,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


class ServerTestCase(SynchronousTestCase):
    def server(self, *args: str) -> str:
        """Start C{twistd ratchet ARGS}; its URL."""
        proc = TwistdProcess.start(*args)
        self.addCleanup(proc.stop)
        return f"ws://127.0.0.1:{proc.port}/echo"


class PipedTests(ServerTestCase):
    def test_everyVersionEchoesAndCloses(self) -> None:
        """
        The answers to every line are printed, in order, before the program
        exits with 0 after the closing handshake.
        """
        url = self.server(*ECHO)
        lines = [f"line {n} \N{SNOWMAN}" for n in range(200)]
        for version in ("rfc6455", "hybi-10", "hybi-07", "hixie-76"):
            done = client(url, "--version", version, input="\n".join(lines) + "\n")
            self.assertEqual((done.returncode, done.stderr), (0, ""), version)
            self.assertEqual(done.stdout.splitlines(), lines, version)

    def test_lastLineWithoutEnd(self) -> None:
        url = self.server(*ECHO)
        done = client(url, input="one\r\ntwo\nthree")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout, "one\ntwo\nthree\n")

    def test_emptyInputCloses(self) -> None:
        url = self.server(*ECHO)
        done = client(url, input="")
        self.assertEqual((done.returncode, done.stdout, done.stderr), (0, "", ""))

    def test_hixie75Closes(self) -> None:
        """Hixie-75 has no closing handshake: the end of the input hangs up."""
        url = self.server(*ECHO)
        done = client(url, "--version", "hixie-75", input="")
        self.assertEqual((done.returncode, done.stderr), (0, ""))

    def test_headersAndSubprotocols(self) -> None:
        url = self.server("--app", "tests.client.test_cli:Describe", "--subprotocol", "chat")
        done = client(
            url,
            "--subprotocol",
            "other",
            "--subprotocol",
            "chat",
            "--header",
            "X-Hello: world",
            input="hi\n",
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.splitlines(), ["chat world", "hi"])

    def test_serverClosesFirst(self) -> None:
        """The server going away ends the program, with 0 for 1001."""
        proc = TwistdProcess.start(*ECHO)
        self.addCleanup(proc.stop)
        url = f"ws://127.0.0.1:{proc.port}/"
        running = subprocess.Popen(
            [sys.executable, "-m", "ratchet_tx.client", url],
            cwd=REPO_ROOT,
            env=twistdEnvironment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.addCleanup(running.kill)
        assert running.stdin is not None and running.stdout is not None
        running.stdin.write("ping\n")
        running.stdin.flush()
        self.assertEqual(running.stdout.readline(), "ping\n")
        proc.stop()
        out, err = running.communicate(timeout=TIMEOUT)
        self.assertEqual((running.returncode, out, err), (0, "", ""))


class FailureTests(ServerTestCase):
    def test_refusedHandshake(self) -> None:
        url = self.server(*ECHO, "--disable-version", "rfc6455")
        done = client(url, input="never sent\n")
        self.assertEqual(done.returncode, 1)
        self.assertEqual(done.stdout, "")
        [line] = done.stderr.splitlines()
        self.assertIn("426", line)
        self.assertTrue(line.startswith("python -m ratchet_tx.client: could not connect"), line)

    def test_originMakesTheDifference(self) -> None:
        url = self.server(*ECHO, "--origin", "https://ok.test", "--require-origin")
        refused = client(url, input="x\n")
        self.assertEqual(refused.returncode, 1)
        self.assertIn("403", refused.stderr)
        accepted = client(url, "--origin", "https://ok.test", input="x\n")
        self.assertEqual((accepted.returncode, accepted.stdout), (0, "x\n"), accepted.stderr)

    def test_connectionRefused(self) -> None:
        proc = TwistdProcess.start(*ECHO)
        port = proc.port
        proc.stop()
        done = client(f"ws://127.0.0.1:{port}/", input="x\n")
        self.assertEqual(done.returncode, 1)
        self.assertEqual(len(done.stderr.splitlines()), 1, done.stderr)
        self.assertIn("refused", done.stderr)

    def test_usageErrors(self) -> None:
        for args in (["ws://127.0.0.1:9/", "--version", "hixie-77"], ["ws://x/", "--header", "no"]):
            done = client(*args)
            self.assertEqual(done.returncode, 2, args)
            self.assertIn("usage:", done.stderr)
