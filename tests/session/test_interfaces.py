"""
Every session store provides L{ISessionStore}, completely.
"""

from __future__ import annotations

import sqlite3

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyClass, verifyObject

from ratchet_tx.session import (
    DjangoDatabaseStore,
    DjangoSignedCookieStore,
    FlaskCookieStore,
    ISessionStore,
    StarletteCookieStore,
)
from tests.session.frameworks import SECRET


class StoreInterfaceTests(SynchronousTestCase):
    def test_everyStore(self) -> None:
        stores = [
            DjangoSignedCookieStore(SECRET),
            FlaskCookieStore(SECRET),
            StarletteCookieStore(SECRET),
            DjangoDatabaseStore(sqlite3.connect, SECRET),
        ]
        for store in stores:
            verifyClass(ISessionStore, type(store))
            verifyObject(ISessionStore, store)
        self.assertEqual(
            [store.cookieName for store in stores], ["sessionid", "session", "session", "sessionid"]
        )
