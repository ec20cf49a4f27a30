"""
L{ratchet_tx.session.codecs.django} and L{DjangoSignedCookieStore} against
cookies written by Django's own C{signed_cookies} C{SessionStore} and
C{django.core.signing}.
"""

from __future__ import annotations

import time

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.session import DjangoSignedCookieStore
from ratchet_tx.session.codecs import django as codec
from ratchet_tx.session.codecs.limits import Limits
from ratchet_tx.session.errors import BadSignature, InvalidSession, MalformedSession, SessionExpired
from tests.session.frameworks import (
    OLD_SECRET,
    SECRET,
    configureDjango,
    djangoSession,
    flaskCookie,
)
from tests.session.helpers import nowClock, read, tamperings

DATA = {
    "_auth_user_id": "42",
    "name": "Ada Lovelace ☃",
    "roles": ["admin", "dev"],
    "nested": {"a": [1, 2.5, True, None]},
}


class DjangoSigningTests(SynchronousTestCase):
    def test_signedCookieSession(self) -> None:
        cookie = djangoSession("signed_cookies", DATA)
        self.assertEqual(
            codec.loads(cookie, SECRET, salt=codec.SIGNED_COOKIES_SALT,
                        maxAge=codec.SESSION_COOKIE_AGE, now=time.time()),
            DATA,
        )

    def test_compressedWithADot(self) -> None:
        big = {"text": "spam " * 500}
        cookie = djangoSession("signed_cookies", big)
        self.assertTrue(cookie.startswith("."), cookie[:10])
        self.assertEqual(
            codec.loads(cookie, SECRET, salt=codec.SIGNED_COOKIES_SALT, now=time.time()), big
        )
        small = djangoSession("signed_cookies", {"k": 1})
        self.assertFalse(small.startswith("."))
        self.assertEqual(
            codec.loads(small, SECRET, salt=codec.SIGNED_COOKIES_SALT, now=time.time()), {"k": 1}
        )

    def test_signingDumpsWithOtherSaltsAndKeys(self) -> None:
        configureDjango()
        from django.core import signing

        value = signing.dumps([1, "two", {"3": 4.0}], key="k3y", salt="some.salt")
        self.assertEqual(
            codec.loads(value, "k3y", salt="some.salt", now=time.time()), [1, "two", {"3": 4.0}]
        )
        self.assertRaises(BadSignature, codec.loads, value, "k3y", salt="other", now=time.time())
        self.assertRaises(
            BadSignature, codec.loads, value, "other", salt="some.salt", now=time.time()
        )
        self.assertEqual(
            codec.loads(value, b"new", salt="some.salt", fallbackKeys=[b"k3y"], now=time.time()),
            [1, "two", {"3": 4.0}],
        )

    def test_maxAgeAsDjangoEnforcesIt(self) -> None:
        configureDjango()
        from django.core import signing

        value = signing.dumps("x", key="k", salt="s")
        signedAt = signing.b62_decode(value.split(":")[1])
        for age in (0, 10, 100):
            self.assertEqual(codec.loads(value, "k", salt="s", maxAge=100, now=signedAt + age), "x")
        self.assertRaises(
            SessionExpired, codec.loads, value, "k", salt="s", maxAge=100, now=signedAt + 100.5
        )
        # Django checks no signature "from the future".
        self.assertEqual(codec.loads(value, "k", salt="s", maxAge=100, now=signedAt - 3600), "x")
        self.assertEqual(codec.loads(value, "k", salt="s", now=signedAt + 10**9), "x")

    def test_zipBombStopsAtTheLimit(self) -> None:
        configureDjango()
        from django.core import signing

        value = signing.dumps("a" * 2_000_000, key="k", salt="s", compress=True)
        self.assertLess(len(value), 10_000)
        self.assertRaises(MalformedSession, codec.loads, value, "k", salt="s", now=time.time())
        self.assertEqual(
            codec.loads(value, "k", salt="s", now=time.time(), limits=Limits(maxSize=3_000_000)),
            "a" * 2_000_000,
        )

    def test_deepJSONIsMalformed(self) -> None:
        configureDjango()
        from django.core import signing

        deep: list = []
        for _ in range(100):
            deep = [deep]
        value = signing.dumps(deep, key="k", salt="s")
        self.assertRaises(MalformedSession, codec.loads, value, "k", salt="s", now=time.time())

    def test_everyTamperedCharacterIsRefused(self) -> None:
        cookie = djangoSession("signed_cookies", DATA)
        for tampered in tamperings(cookie, "A-:."):
            self.assertRaises(
                InvalidSession, codec.loads, tampered, SECRET,
                salt=codec.SIGNED_COOKIES_SALT, now=time.time(),
            )

    def test_garbage(self) -> None:
        for garbage in ["", "x", ":", "::", "a:b:c", "é:é:é", "." * 100, "a" * 5000]:
            self.assertRaises(
                InvalidSession, codec.loads, garbage, SECRET,
                salt=codec.SIGNED_COOKIES_SALT, now=time.time(),
            )


class DjangoSignedCookieStoreTests(SynchronousTestCase):
    def test_readsTheSession(self) -> None:
        store = DjangoSignedCookieStore(SECRET, clock=nowClock())
        self.assertEqual(store.cookieName, "sessionid")
        self.assertEqual(read(store, djangoSession("signed_cookies", DATA)), DATA)

    def test_fallbackKeys(self) -> None:
        cookie = djangoSession("signed_cookies", DATA, SECRET_KEY=OLD_SECRET)
        store = DjangoSignedCookieStore(SECRET, fallbackKeys=[OLD_SECRET], clock=nowClock())
        self.assertEqual(read(store, cookie), DATA)
        read(DjangoSignedCookieStore(SECRET, clock=nowClock()), cookie).trap(BadSignature)
        # Django's own fallback setting writes with the new key and reads both.
        cookie = djangoSession(
            "signed_cookies", DATA, SECRET_KEY=SECRET, SECRET_KEY_FALLBACKS=[OLD_SECRET]
        )
        self.assertEqual(read(DjangoSignedCookieStore(SECRET, clock=nowClock()), cookie), DATA)

    def test_sessionCookieAge(self) -> None:
        cookie = djangoSession("signed_cookies", DATA)
        store = DjangoSignedCookieStore(SECRET, clock=nowClock(codec.SESSION_COOKIE_AGE - 60))
        self.assertEqual(read(store, cookie), DATA)
        store = DjangoSignedCookieStore(SECRET, clock=nowClock(codec.SESSION_COOKIE_AGE + 60))
        read(store, cookie).trap(SessionExpired)
        store = DjangoSignedCookieStore(SECRET, maxAge=30, clock=nowClock(60))
        read(store, cookie).trap(SessionExpired)

    def test_otherFormatsAreInvalid(self) -> None:
        store = DjangoSignedCookieStore(SECRET, clock=nowClock())
        databaseData = self._databaseData()
        read(store, databaseData).trap(BadSignature)
        read(store, flaskCookie({"user": "ada"})).trap(InvalidSession)
        read(store, "not a cookie at all").trap(InvalidSession)

    def test_notAMapping(self) -> None:
        configureDjango()
        from django.core import signing

        value = signing.dumps([1, 2], key=SECRET, salt=codec.SIGNED_COOKIES_SALT)
        read(DjangoSignedCookieStore(SECRET, clock=nowClock()), value).trap(MalformedSession)

    def test_needsAKey(self) -> None:
        self.assertRaises(ValueError, DjangoSignedCookieStore, "")

    def test_reprHidesTheKey(self) -> None:
        self.assertNotIn(SECRET, repr(DjangoSignedCookieStore(SECRET)))

    def _databaseData(self) -> str:
        configureDjango()
        from django.contrib.sessions.backends.db import SessionStore

        return str(SessionStore().encode(DATA))
