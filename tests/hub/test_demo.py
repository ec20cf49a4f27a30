"""
The demo room on a hub (L{HubDemoChat}): the roster from presence, chat
messages with their offsets, and a reconnecting page that catches up.
"""

from __future__ import annotations

import json

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.demo import demoResource
from ratchet_tx.demo.room import HubDemoChat
from ratchet_tx.hub import LocalHub
from tests.hub.helpers import MemoryClient, jsonOf, webSocketServer


class HubDemoTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.hub = LocalHub()
        self.server = webSocketServer(HubDemoChat(self.hub))

    def test_rosterFromPresence(self) -> None:
        first = MemoryClient(self.server)
        welcome, roster = jsonOf(first.received())
        self.assertEqual(welcome["you"]["id"], self.hub.memberId(first.conn))
        second = MemoryClient(self.server, hixie=True)
        [roster] = jsonOf(first.received())
        self.assertEqual([c["version"] for c in roster["clients"]], ["rfc6455", "hixie-76"])
        second.close()
        [roster] = jsonOf(first.received())
        self.assertEqual(len(roster["clients"]), 1)

    def test_chatCarriesOffset(self) -> None:
        first, second = MemoryClient(self.server), MemoryClient(self.server)
        first.received(), second.received()
        first.send(json.dumps({"type": "chat", "text": "hi"}))
        [chat] = jsonOf(second.received())
        self.assertEqual((chat["type"], chat["text"]), ("chat", "hi"))
        self.assertEqual(chat["offset"].split(":")[0], self.hub.epoch)

    def test_chatAuthorIsTheWelcomeId(self) -> None:
        """
        A chat message's author is known by the id its page was welcomed
        with (the member id, unique across processes), so that a page sees
        its own messages as its own.
        """
        first, second = MemoryClient(self.server), MemoryClient(self.server)
        you = jsonOf(first.received())[0]["you"]
        second.received()
        first.send(json.dumps({"type": "chat", "text": "mine"}))
        [chat] = jsonOf(second.received())
        self.assertEqual(chat["from"]["id"], you["id"])
        self.assertEqual(chat["from"]["id"], self.hub.memberId(first.conn))

    def test_reconnectCatchesUp(self) -> None:
        """A page that comes back with its last offset is replayed what it missed."""
        talker, away = MemoryClient(self.server), MemoryClient(self.server)
        talker.send(json.dumps({"type": "chat", "text": "one"}))
        offset = [m for m in jsonOf(away.received()) if m["type"] == "chat"][-1]["offset"]
        away.close()
        talker.send(json.dumps({"type": "chat", "text": "two"}))
        back = MemoryClient(self.server, path=f"/ws?since={offset}")
        texts = [m["text"] for m in jsonOf(back.received()) if m["type"] == "chat"]
        self.assertEqual(texts, ["two"])

    def test_tooLate(self) -> None:
        back = MemoryClient(self.server, path="/ws?since=gone:4")
        kinds = [m["type"] for m in jsonOf(back.received())]
        self.assertIn("lost", kinds)
        self.flushLoggedErrors()

    def test_demoResource(self) -> None:
        _, chat = demoResource(self.hub)
        self.assertIsInstance(chat.layer.app, HubDemoChat)
