"""
The hub commands (L{Subscribe}, L{Unsubscribe}, L{Publish}): exported by
L{ratchet_tx}, carried out on the process's hub or the one given.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

import ratchet_tx
from ratchet_tx.hub import LocalHub, Publish, Subscribe, Unsubscribe, currentHub, useHub
from ratchet_tx.interfaces import ICommand
from tests.hub.helpers import installHub
from tests.support.apps import FakeConnection


class CommandTests(SynchronousTestCase):
    def test_exported(self) -> None:
        self.assertIs(ratchet_tx.Publish, Publish)
        self.assertIs(ratchet_tx.Subscribe, Subscribe)
        self.assertIs(ratchet_tx.Unsubscribe, Unsubscribe)

    def test_interface(self) -> None:
        conn = FakeConnection()
        for command in (Subscribe(conn, "c"), Unsubscribe(conn, "c"), Publish("c", "m")):
            self.assertTrue(verifyObject(ICommand, command))

    def test_processHub(self) -> None:
        """Without a hub the commands use the process's, and fire with None."""
        hub = installHub(self, LocalHub())
        conn = FakeConnection()
        self.assertIsNone(self.successResultOf(Subscribe(conn, "c", info=1).execute()))
        self.assertIsNone(self.successResultOf(Publish("c", "hi").execute()))
        self.assertEqual(conn.sent, ["hi"])
        self.assertEqual(self.successResultOf(hub.presence("c"))[0].info, 1)
        self.assertIsNone(self.successResultOf(Unsubscribe(conn, "c").execute()))
        Publish("c", "again").execute()
        self.assertEqual(conn.sent, ["hi"])

    def test_givenHub(self) -> None:
        installHub(self, LocalHub())
        other = LocalHub()
        conn = FakeConnection()
        Subscribe(conn, "c", hub=other).execute()
        Publish("c", "process").execute()
        Publish("c", "other", hub=other).execute()
        self.assertEqual(conn.sent, ["other"])

    def test_defaultHub(self) -> None:
        """With none set, the process's hub is a LocalHub, made once."""
        previous = useHub(None)
        self.addCleanup(useHub, previous)
        hub = currentHub()
        self.assertIsInstance(hub, LocalHub)
        self.assertIs(currentHub(), hub)
        self.assertIs(useHub(previous), hub)

    def test_repr(self) -> None:
        conn = FakeConnection()
        self.assertEqual(
            repr(Subscribe(conn, "c", "e:1")), f"Subscribe({conn!r}, 'c', since='e:1')"
        )
        self.assertEqual(repr(Unsubscribe(conn, "c")), f"Unsubscribe({conn!r}, 'c')")
        self.assertEqual(repr(Publish("c", "m")), "Publish('c', 'm', exclude=None)")
