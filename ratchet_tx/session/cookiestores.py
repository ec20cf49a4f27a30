# -*- test-case-name: tests.session.test_cookiestores -*-
"""
Stores for sessions kept in the cookie itself, signed by the web framework:
Django's C{signed_cookies} backend, Flask's default session, Starlette's
C{SessionMiddleware}.  Reading one is decoding the cookie: no I/O, bounded
work, so the Deferred has fired by the time C{load} returns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, fail, succeed
from zope.interface import implementer

from ratchet_tx.session.clock import reactorClock
from ratchet_tx.session.codecs import django, flask, starlette
from ratchet_tx.session.codecs.limits import DEFAULT_LIMITS, Limits
from ratchet_tx.session.codecs.signing import Key
from ratchet_tx.session.errors import InvalidSession, MalformedSession
from ratchet_tx.session.interfaces import ISessionStore

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime


class _SignedCookieStore:
    """
    What the signed-cookie stores share: keys, a maximum age, a clock and
    limits; subclasses say how to decode.
    """

    cookieName = ""

    def __init__(
        self,
        secretKey: Key,
        fallbackKeys: Sequence[Key],
        maxAge: float | None,
        clock: IReactorTime | None,
        limits: Limits,
    ) -> None:
        if not secretKey:
            raise ValueError("a secret key is required")
        self._secretKey = secretKey
        self._fallbackKeys = tuple(fallbackKeys)
        self.maxAge = maxAge
        self._clock = clock
        self.limits = limits

    #: The codec's C{loads(cookie, secretKey, *, fallbackKeys, maxAge, now, limits)}.
    _loads: Callable[..., Any]

    def _decode(self, cookieValue: str, now: float) -> Any:
        return self._loads(
            cookieValue,
            self._secretKey,
            fallbackKeys=self._fallbackKeys,
            maxAge=self.maxAge,
            now=now,
            limits=self.limits,
        )

    def load(self, cookieValue: str) -> Deferred[Any]:
        """
        Decode the session in C{cookieValue}.

        @return: a fired Deferred: the session's data, or a failure with
            L{InvalidSession}.
        """
        try:
            data = self._decode(cookieValue, reactorClock(self._clock).seconds())
            if not isinstance(data, dict):
                raise MalformedSession("the session is not a mapping")
        except InvalidSession:
            return fail()
        return succeed(data)

    def __repr__(self) -> str:
        # Never the keys.
        return f"<{type(self).__name__} maxAge={self.maxAge!r}>"


@implementer(ISessionStore)
class DjangoSignedCookieStore(_SignedCookieStore):
    """
    Django's C{django.contrib.sessions.backends.signed_cookies}: the cookie
    is the session, signed with C{SECRET_KEY} (see
    L{ratchet_tx.session.codecs.django}).

    @param secretKey: Django's C{SECRET_KEY}.
    @param fallbackKeys: Django's C{SECRET_KEY_FALLBACKS}.
    @param maxAge: Django's C{SESSION_COOKIE_AGE} (two weeks by default).
    @param clock: where the time comes from (the reactor by default).
    @param limits: bounds on the cookie and its decoded data.
    """

    cookieName = django.SESSION_COOKIE_NAME
    _loads = staticmethod(partial(django.loads, salt=django.SIGNED_COOKIES_SALT))

    def __init__(
        self,
        secretKey: Key,
        *,
        fallbackKeys: Sequence[Key] = (),
        maxAge: float | None = django.SESSION_COOKIE_AGE,
        clock: IReactorTime | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        super().__init__(secretKey, fallbackKeys, maxAge, clock, limits)



@implementer(ISessionStore)
class FlaskCookieStore(_SignedCookieStore):
    """
    Flask's default session (C{SecureCookieSessionInterface}): the cookie is
    the session, signed with the app's C{secret_key} (see
    L{ratchet_tx.session.codecs.flask}).

    @param secretKey: the app's C{SECRET_KEY}.
    @param fallbackKeys: the app's C{SECRET_KEY_FALLBACKS}.
    @param maxAge: the app's C{PERMANENT_SESSION_LIFETIME} in seconds (31
        days by default), which Flask enforces on every session cookie.
    @param clock: where the time comes from (the reactor by default).
    @param limits: bounds on the cookie and its decoded data.
    """

    cookieName = flask.SESSION_COOKIE_NAME
    _loads = staticmethod(flask.loads)

    def __init__(
        self,
        secretKey: Key,
        *,
        fallbackKeys: Sequence[Key] = (),
        maxAge: float | None = flask.PERMANENT_SESSION_LIFETIME,
        clock: IReactorTime | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        super().__init__(secretKey, fallbackKeys, maxAge, clock, limits)



@implementer(ISessionStore)
class StarletteCookieStore(_SignedCookieStore):
    """
    Starlette's C{SessionMiddleware}: the cookie is the session, signed with
    the middleware's C{secret_key} (see L{ratchet_tx.session.codecs.starlette}).

    @param secretKey: the middleware's C{secret_key}.
    @param fallbackKeys: older keys, accepted too while rotating.
    @param maxAge: the middleware's C{max_age} (14 days by default; C{None}
        when it was given C{None}).
    @param clock: where the time comes from (the reactor by default).
    @param limits: bounds on the cookie and its decoded data.
    """

    cookieName = starlette.SESSION_COOKIE_NAME
    _loads = staticmethod(starlette.loads)

    def __init__(
        self,
        secretKey: Key,
        *,
        fallbackKeys: Sequence[Key] = (),
        maxAge: float | None = starlette.MAX_AGE,
        clock: IReactorTime | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        super().__init__(secretKey, fallbackKeys, maxAge, clock, limits)

