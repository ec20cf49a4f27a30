"""
The signed-cookie stores: answers at once, the reactor's clock by default,
limits, and nothing secret in their C{repr}.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.session import (
    DjangoSignedCookieStore,
    FlaskCookieStore,
    Limits,
    MalformedSession,
    StarletteCookieStore,
)
from ratchet_tx.session.clock import reactorClock
from tests.session.frameworks import SECRET, djangoSession, flaskCookie, starletteCookie
from tests.session.helpers import nowClock, read

DATA = {"user": "ada", "text": "x" * 300}


class CookieStoreTests(SynchronousTestCase):
    def cases(self):
        return [
            (DjangoSignedCookieStore, djangoSession("signed_cookies", DATA)),
            (FlaskCookieStore, flaskCookie(DATA)),
            (StarletteCookieStore, starletteCookie(DATA)),
        ]

    def test_firedAtOnceWithTheReactorsClock(self) -> None:
        for store, cookie in self.cases():
            self.assertEqual(read(store(SECRET), cookie), DATA)

    def test_limits(self) -> None:
        for store, cookie in self.cases():
            small = store(SECRET, clock=nowClock(), limits=Limits(maxSize=len(cookie) - 1))
            read(small, cookie).trap(MalformedSession)
            shallow = store(SECRET, clock=nowClock(), limits=Limits(maxElements=2))
            read(shallow, cookie).trap(MalformedSession)

    def test_needAKeyAndHideIt(self) -> None:
        for store, _ in self.cases():
            self.assertRaises(ValueError, store, "")
            self.assertNotIn(SECRET, repr(store(SECRET)))
            self.assertNotIn(SECRET, repr(store(SECRET.encode())))

    def test_reactorClock(self) -> None:
        from twisted.internet import reactor

        clock = nowClock()
        self.assertIs(reactorClock(clock), clock)
        self.assertIs(reactorClock(None), reactor)
