"""
Tests for L{ratchet_tx.websocket.adapter.ProtocolConnection.roundTrip}: a
ping whose pong says the peer has caught up.
"""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.websocket.codecs.events import Ping
from ratchet_tx.websocket.codecs.handshake import WebSocketVersion
from tests.client.test_connection import Pair


class RoundTripTests(SynchronousTestCase):
    def test_firesOnItsPong(self) -> None:
        pair = Pair()
        conn = pair.open()
        outcomes: list[Any] = []
        first = conn.roundTrip(b"one")
        second = conn.roundTrip(b"two")
        assert first is not None and second is not None
        first.addBoth(outcomes.append)
        second.addBoth(lambda r: outcomes.append("two"))
        self.assertEqual(pair.toServer(), [Ping(b"one"), Ping(b"two")])
        pair.toClient(pair.server.pong(b"unsolicited"))
        self.assertEqual(outcomes, [])
        pair.toClient(pair.server.pong(b"two"))
        self.assertEqual(outcomes, ["two"])
        pair.toClient(pair.server.pong(b"one"))
        self.assertEqual(outcomes, ["two", None])

    def test_failsWhenTheConnectionEnds(self) -> None:
        pair = Pair()
        conn = pair.open()
        waiting = conn.roundTrip(b"x")
        assert waiting is not None
        failures: list[Any] = []
        waiting.addErrback(failures.append)
        pair.transport.loseConnection()
        [failure] = failures
        self.assertIsInstance(failure.value, ConnectionError)

    def test_noneWithoutPings(self) -> None:
        pair = Pair(WebSocketVersion.HIXIE_76)
        conn = pair.open()
        self.assertIsNone(conn.roundTrip(b"x"))
