"""Tests for L{ratchet_tx.workers.command}: a worker's command line."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.tap import Options
from ratchet_tx.workers.command import TWISTD, WORKER_TWISTD_OPTIONS, workerArguments, workerCommand


class WorkerArgumentsTests(SynchronousTestCase):
    def test_everyOptionButWorkersAndListenIsKept(self) -> None:
        arguments = [
            "--work", "2", "-l", "tcp:0", "--listen=tcp:1",
            "--hub=redis://h:1/0", "--no-deflate", "-p", "websocket",
        ]  # fmt: skip
        self.assertEqual(
            workerArguments(Options(), arguments, ["tcp:5:reusePort=yes"]),
            [
                "--hub=redis://h:1/0",
                "--no-deflate",
                "--protocol=websocket",
                "--listen=tcp:5:reusePort=yes",
            ],
        )

    def test_theWorkerRunsTwistdInTheForegroundWithJSONLogs(self) -> None:
        command = workerCommand("ratchet", ["--no-deflate"], "epoll")
        self.assertEqual(
            command,
            [*TWISTD, *WORKER_TWISTD_OPTIONS, "--reactor=epoll", "ratchet", "--no-deflate"],
        )
        self.assertIn("--nodaemon", command)
