"""
L{ratchet_tx.session.codecs.flask} and L{FlaskCookieStore} against cookies
Flask's own test client got from a view that logs a user in.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from markupsafe import Markup
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.session import FlaskCookieStore
from ratchet_tx.session.codecs import flask as codec
from ratchet_tx.session.codecs.limits import Limits
from ratchet_tx.session.errors import BadSignature, InvalidSession, MalformedSession, SessionExpired
from tests.session.frameworks import (
    OLD_SECRET,
    SECRET,
    djangoSession,
    flaskCookie,
    starletteCookie,
)
from tests.session.helpers import nowClock, read, tamperings

WHEN = datetime(2026, 12, 1, 22, 30, 5, tzinfo=timezone.utc)
ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


class FlaskCookieTests(SynchronousTestCase):
    def test_plainJSON(self) -> None:
        data = {"user_id": 42, "name": "Ada ☃", "roles": ["admin"], "ok": True, "x": None}
        store = FlaskCookieStore(SECRET, clock=nowClock())
        self.assertEqual(store.cookieName, "session")
        self.assertEqual(read(store, flaskCookie(data)), data)

    def test_everyTag(self) -> None:
        data = {
            "tuple": (1, "two", (3,)),
            "bytes": b"\x00\xffbinary",
            "markup": Markup("<b>bold</b>"),
            "uuid": ID,
            "when": WHEN,
            " t": "a key that is a tag",
            "wrapped": {" u": "not a uuid, a value under a tag-like key"},
            "nested": [{"deep": (b"x", ID)}],
        }
        session = read(FlaskCookieStore(SECRET, clock=nowClock()), flaskCookie(data))
        self.assertEqual(session, {**data, "markup": "<b>bold</b>"})
        self.assertIs(type(session["tuple"]), tuple)
        self.assertIs(type(session["markup"]), str)
        self.assertEqual(session["when"].tzinfo, timezone.utc)

    def test_compressed(self) -> None:
        data = {"text": "spam " * 400}
        cookie = flaskCookie(data)
        self.assertTrue(cookie.startswith("."))
        self.assertEqual(read(FlaskCookieStore(SECRET, clock=nowClock()), cookie), data)

    def test_permanentSessionLifetime(self) -> None:
        for permanent in (False, True):
            cookie = flaskCookie({"k": 1}, permanent=permanent)
            lifetime = codec.PERMANENT_SESSION_LIFETIME
            ok = FlaskCookieStore(SECRET, clock=nowClock(lifetime - 60))
            expected = {"_permanent": True, "k": 1} if permanent else {"k": 1}
            self.assertEqual(read(ok, cookie), expected)
            read(FlaskCookieStore(SECRET, clock=nowClock(lifetime + 60)), cookie).trap(
                SessionExpired
            )
            read(FlaskCookieStore(SECRET, maxAge=10, clock=nowClock(60)), cookie).trap(
                SessionExpired
            )

    def test_fallbackKeys(self) -> None:
        cookie = flaskCookie({"k": 1}, secret=OLD_SECRET)
        store = FlaskCookieStore(SECRET, fallbackKeys=[OLD_SECRET], clock=nowClock())
        self.assertEqual(read(store, cookie), {"k": 1})
        read(FlaskCookieStore(SECRET, clock=nowClock()), cookie).trap(BadSignature)
        cookie = flaskCookie({"k": 2}, SECRET_KEY_FALLBACKS=[OLD_SECRET])
        self.assertEqual(read(FlaskCookieStore(SECRET, clock=nowClock()), cookie), {"k": 2})

    def test_tampered(self) -> None:
        cookie = flaskCookie({"user": "ada", "admin": False})
        store = FlaskCookieStore(SECRET, clock=nowClock())
        for tampered in tamperings(cookie, "A_."):
            read(store, tampered).trap(InvalidSession)

    def test_otherFormats(self) -> None:
        store = FlaskCookieStore(SECRET, clock=nowClock())
        read(store, starletteCookie({"k": 1})).trap(BadSignature)
        read(store, djangoSession("signed_cookies", {"k": 1})).trap(InvalidSession)

    def test_badTaggedValues(self) -> None:
        for value in [{" t": 5}, {" b": "!!"}, {" b": 3}, {" u": "zz"}, {" di": {}}, {" di": 1}]:
            self.assertRaises(MalformedSession, codec.untag, value)
        # Unparsable dates are None, as werkzeug's parse_date makes them.
        self.assertEqual(codec.untag({"d": {" d": "not a date"}}), {"d": None})

    def test_untagIsIterative(self) -> None:
        deep: object = {" t": []}
        for _ in range(5000):
            deep = {" t": [deep]}
        value = codec.untag(deep)
        for _ in range(5000):
            value = value[0]
        self.assertEqual(value, ())

    def test_limits(self) -> None:
        cookie = flaskCookie({"text": "spam " * 400})
        store = FlaskCookieStore(SECRET, clock=nowClock(), limits=Limits(maxSize=1000))
        read(store, cookie).trap(MalformedSession)
