"""Tests for L{ratchet_tx.workers.logs}: a worker's log into its supervisor's."""

from __future__ import annotations

import io

from twisted.logger import Logger, LogLevel
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.workers.logs import LogRelay, workerObserver


class LogRelayTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.events: list[dict] = []
        self.relay = LogRelay("worker 1, pid 9", self.events.append)

    def test_aWorkersEventArrivesWhole(self) -> None:
        written = io.StringIO()
        Logger(observer=workerObserver(written)).warn("hello {who}", who="there")
        data = written.getvalue().encode()
        self.relay.outReceived(data[:7])
        self.assertEqual(self.events, [])
        self.relay.outReceived(data[7:])
        [event] = self.events
        self.assertEqual(event["who"], "there")
        self.assertEqual(event["log_format"], "hello {who}")
        self.assertEqual(event["log_level"], LogLevel.warn)
        self.assertEqual(event["log_system"], "worker 1, pid 9")

    def test_otherOutputIsRelayedLineByLine(self) -> None:
        self.relay.errReceived(b"Traceback (most recent call last):\nboom")
        self.assertEqual([e["line"] for e in self.events], ["Traceback (most recent call last):"])
        self.relay.flush()
        self.assertEqual([e["line"] for e in self.events][-1], "boom")
        self.assertEqual({e["log_level"] for e in self.events}, {LogLevel.error})

    def test_brokenJSONIsRelayedAsText(self) -> None:
        self.relay.outReceived(b"\x1e{not json\n")
        [event] = self.events
        self.assertEqual(event["line"], "\x1e{not json")
        self.assertEqual(event["log_level"], LogLevel.info)
