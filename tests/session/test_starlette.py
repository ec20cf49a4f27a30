"""
L{ratchet_tx.session.codecs.starlette} and L{StarletteCookieStore} against
cookies Starlette's C{SessionMiddleware} set through its C{TestClient}.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.session import StarletteCookieStore
from ratchet_tx.session.codecs import starlette as codec
from ratchet_tx.session.errors import BadSignature, InvalidSession, SessionExpired
from tests.session.frameworks import OLD_SECRET, SECRET, flaskCookie, starletteCookie
from tests.session.helpers import nowClock, read, tamperings

DATA = {"user": {"id": 7, "name": "Grace ☃"}, "scopes": ["read", "write"], "n": 1.5}


class StarletteCookieTests(SynchronousTestCase):
    def test_readsTheSession(self) -> None:
        store = StarletteCookieStore(SECRET, clock=nowClock())
        self.assertEqual(store.cookieName, "session")
        self.assertEqual(read(store, starletteCookie(DATA)), DATA)

    def test_maxAge(self) -> None:
        cookie = starletteCookie(DATA)
        store = StarletteCookieStore(SECRET, clock=nowClock(codec.MAX_AGE - 60))
        self.assertEqual(read(store, cookie), DATA)
        read(StarletteCookieStore(SECRET, clock=nowClock(codec.MAX_AGE + 60)), cookie).trap(
            SessionExpired
        )
        cookie = starletteCookie(DATA, max_age=100)
        read(StarletteCookieStore(SECRET, maxAge=100, clock=nowClock(200)), cookie).trap(
            SessionExpired
        )
        cookie = starletteCookie(DATA, max_age=None)
        store = StarletteCookieStore(SECRET, maxAge=None, clock=nowClock(10**8))
        self.assertEqual(read(store, cookie), DATA)

    def test_keys(self) -> None:
        cookie = starletteCookie(DATA, secret=OLD_SECRET)
        read(StarletteCookieStore(SECRET, clock=nowClock()), cookie).trap(BadSignature)
        store = StarletteCookieStore(SECRET, fallbackKeys=[OLD_SECRET], clock=nowClock())
        self.assertEqual(read(store, cookie), DATA)

    def test_tampered(self) -> None:
        cookie = starletteCookie(DATA)
        store = StarletteCookieStore(SECRET, clock=nowClock())
        for tampered in tamperings(cookie, "A+."):
            read(store, tampered).trap(InvalidSession)

    def test_otherFormats(self) -> None:
        read(StarletteCookieStore(SECRET, clock=nowClock()), flaskCookie(DATA)).trap(BadSignature)
