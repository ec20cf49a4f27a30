"""
C{twistd -n ratchet --workers N} as real processes: one port served by N
workers, a killed worker restarted, SIGTERM closing every client with 1001.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import time

from twisted.trial.unittest import TestCase

from tests.support.redisserver import RedisServer
from tests.support.twistd import SIGTERM_EXIT, TwistdError, TwistdProcess, runTwistd
from tests.support.wsclients import Close, HybiClient

APP = "tests.support.apps:PidReporter"
_SERVING = re.compile(r"\[worker (\d+), pid (\d+)\] \S+ starting on")
_ANSWER = re.compile(r"(\S+) pid (\d+)")


def startWorkers(testCase: TestCase, count: int) -> TwistdProcess:
    """A supervisor of C{count} workers on one port, once every worker serves."""
    redis = RedisServer.start()
    testCase.addCleanup(redis.stop)
    proc = TwistdProcess.start("--app", APP, "--workers", str(count), "--hub", redis.url())
    testCase.addCleanup(proc.stop)
    waitFor(proc, lambda: len(set(_SERVING.findall(proc.log()))) >= count)
    return proc


def waitFor(proc: TwistdProcess, condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TwistdError("condition not met in time:\n" + proc.log())
        time.sleep(0.05)


def ask(port: int, name: str) -> tuple[HybiClient, int]:
    """A client that said its name; the pid of the worker that answered."""
    client = HybiClient(port, version=13)
    client.send(name)
    answer = client.recvMessage()
    match = _ANSWER.fullmatch(str(answer))
    assert match and match.group(1) == name, answer
    return client, int(match.group(2))


class WorkersTests(TestCase):
    def test_connectionsSpreadOverTheWorkers(self) -> None:
        proc = startWorkers(self, 2)
        pids = set()
        for number in range(24):
            client, pid = ask(proc.port, f"c{number}")
            pids.add(pid)
            client.close()
        workerPids = {int(pid) for _, pid in _SERVING.findall(proc.log())}
        self.assertEqual(pids, workerPids)
        self.assertNotIn(proc.pid, pids)

    def test_aKilledWorkerIsRestartedAndThePortKeepsAnswering(self) -> None:
        proc = startWorkers(self, 2)
        client, victim = ask(proc.port, "first")
        client.close()
        os.kill(victim, signal.SIGKILL)
        waitFor(proc, lambda: "killed by SIGKILL" in proc.log())
        waitFor(proc, lambda: len(set(_SERVING.findall(proc.log()))) >= 3)
        seen = set()
        for number in range(24):
            try:
                client, pid = ask(proc.port, f"after{number}")
            except ConnectionError:
                continue  # queued on the dead worker's socket as it died
            seen.add(pid)
            client.close()
        self.assertNotIn(victim, seen)
        self.assertEqual(len(seen), 2)
        self.assertRegex(proc.log(), r"Worker \d \(pid \d+\) killed by SIGKILL after .*restarting")

    def test_sigtermClosesEveryClientWith1001AndEndsEveryProcess(self) -> None:
        proc = startWorkers(self, 2)
        workerPids = {int(pid) for _, pid in _SERVING.findall(proc.log())}
        clients = [ask(proc.port, f"t{number}")[0] for number in range(12)]
        self.assertEqual(proc.stop(), SIGTERM_EXIT)
        for client in clients:
            close = client.recv()
            self.assertIsInstance(close, Close)
            self.assertEqual(close.code, 1001)
            client.abort()
        log = proc.log()
        for number in range(12):
            self.assertEqual(log.count(f"onClose t{number}\n"), 1, log)
        for pid in workerPids:
            self.assertFalse(os.path.exists(f"/proc/{pid}/status") and _alive(pid), pid)

    def test_workersStopWhenTheSupervisorIsKilled(self) -> None:
        proc = startWorkers(self, 2)
        workerPids = {int(pid) for _, pid in _SERVING.findall(proc.log())}
        client, _ = ask(proc.port, "orphan")
        os.kill(proc.pid, signal.SIGKILL)
        close = client.recv(timeout=15)
        self.assertIsInstance(close, Close)
        self.assertEqual(close.code, 1001)
        client.abort()
        deadline = time.monotonic() + 15
        while any(_exists(pid) for pid in workerPids) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual([pid for pid in workerPids if _exists(pid)], [])


def _exists(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}/status") and _alive(pid)


def _alive(pid: int) -> bool:
    with open(f"/proc/{pid}/status") as status:
        return not any(line.startswith("State:\tZ") for line in status)


class WorkersOptionTests(TestCase):
    def assertRefusedInOneLine(self, *args: str) -> str:
        result = runTwistd("-n", "--pidfile=", "ratchet", *args, separateStderr=True)
        self.assertEqual(result.returncode, 1)
        lines = result.stderr.splitlines()
        self.assertEqual(len(lines), 2, result.stderr)
        self.assertTrue(lines[0].startswith("twistd ratchet: --"), lines[0])
        self.assertIn("twistd ratchet --help", lines[1])
        return lines[0]

    def test_aCountThatIsNotAPositiveWholeNumberIsRefused(self) -> None:
        for value in ("0", "-1", "abc"):
            line = self.assertRefusedInOneLine("--workers", value)
            self.assertIn(f"--workers takes a whole number, more than 0, not '{value}'", line)

    def test_severalWorkersWithTheLocalHubAreRefused(self) -> None:
        line = self.assertRefusedInOneLine("--workers", "2")
        self.assertIn("needs a hub that spans processes", line)
        line = self.assertRefusedInOneLine("--workers", "2", "--hub", "local")
        self.assertIn("needs a hub that spans processes", line)

    def test_aPortInUseIsOneLineFromTheSupervisor(self) -> None:
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = runTwistd(
            "-n", "--pidfile=", "ratchet", "--workers", "2", "--hub", "redis://127.0.0.1:1/0",
            "--listen", f"tcp:{port}:interface=127.0.0.1", separateStderr=True,
        )  # fmt: skip
        self.assertEqual(result.returncode, 1)
        self.assertEqual(
            result.stderr.strip(),
            f"twistd ratchet: cannot listen on tcp:{port}:interface=127.0.0.1: "
            "address already in use",
        )
        self.assertNotIn("Worker 1 started", result.stdout)

    def test_listenersOtherThanTcpAreRefused(self) -> None:
        line = self.assertRefusedInOneLine(
            "--workers", "2", "--hub", "redis://127.0.0.1:6379/0", "--listen", "unix:/tmp/x.sock"
        )
        self.assertIn("workers share tcp: listeners only", line)
