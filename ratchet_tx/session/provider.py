# -*- test-case-name: tests.session.test_provider -*-
"""
C{SessionProvider(app, store)}: the protocol layer that reads the web site's
session during the WebSocket opening handshake and gives the application
C{conn.session}::

    Server(WebSocket(SessionProvider(Chat(), DjangoSignedCookieStore(SECRET_KEY))))

Theory of operation
===================

The WebSocket layer calls L{SessionProvider.onHandshake} once the request
has arrived.  The provider takes the store's cookie from C{conn.cookies},
asks the store for at most C{lookupTimeout} seconds, and wraps the
connection in a L{SessionConnection} holding what it found::

  outcome of the lookup            required=False        required=True
  -------------------------------  --------------------  -------------------
  no cookie                        empty session         401
  a mapping with data              that session          that session
  None, {}, or InvalidSession      empty session, 1 log  401 (1 log line)
  any other failure, or timeout    empty session, 1 log  503 (store's log + refusal)

Then the application's own C{onHandshake}, if any, runs with the wrapped
connection (and may refuse, or choose a sub-protocol, as always); the
WebSocket layer answers the handshake when it is done.  From then on every
callback of the application gets the same L{SessionConnection}, so
C{conn.session} is there in C{onOpen}, C{onMessage}, C{onClose} and
C{onError}, and the application's own sets of connections hold one kind of
object.

Why a connection decorator: the WebSocket connection is the WebSocket
layer's (fixed slots, its own module), and decorating the connection it
passes inward is how every layer of this project adds to it.  The view
reads and writes through every attribute it does not have itself, so the
application still sees C{path}, C{cookies}, C{version}, C{subprotocol} and
the rest, and may set C{conn.subprotocol} in its C{onHandshake}.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from inspect import iscoroutine
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, TimeoutError, maybeDeferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ratchet_tx.interfaces import IApplication, IConnection
from ratchet_tx.session.clock import reactorClock
from ratchet_tx.session.errors import InvalidSession, SessionUnavailable
from ratchet_tx.session.interfaces import ISessionStore
from ratchet_tx.session.view import Session, SessionConnection
from ratchet_tx.websocket import HandshakeError

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime

log = Logger()

#: Seconds a session lookup may take before the store counts as unreachable:
#: half the WebSocket layer's default handshake timeout (10 s), so that the
#: handshake is answered in time.
DEFAULT_LOOKUP_TIMEOUT = 5.0

#: Below this many remembered connections, no sweep for refused ones.
_SWEEP_FLOOR = 64
#: Seconds a client refused with 503 is asked to wait before trying again.
_RETRY_AFTER = 5

#: What a lookup found: C{(data, None)}, or C{(None, why there is none)}.
_Outcome = tuple["Mapping[Any, Any] | None", "str | None"]


@implementer(IApplication)
class SessionProvider:
    """
    Read the web site's session for every WebSocket connection of C{app}.

    Goes inside the WebSocket layer (which calls L{onHandshake}), and must
    be the one that handles the handshake: do not give the WebSocket layer
    an C{onHandshake=} of its own; give C{app} an C{onHandshake} method
    instead, which is called after the session is read.

    @param app: the application; sees L{SessionConnection}s.
    @param store: an L{ISessionStore}.
    @param cookieName: the session cookie's name, if the web site changed
        it (by default the store's: C{sessionid}, C{session}, ...).
    @param required: refuse connections without a valid session (401), and
        while the store cannot be reached (503).
    @param lookupTimeout: seconds to wait for the store; keep it below the
        WebSocket layer's C{handshakeTimeout}.
    @param clock: for the timeout (the reactor by default).
    """

    def __init__(
        self,
        app: IApplication,
        store: ISessionStore,
        *,
        cookieName: str | None = None,
        required: bool = False,
        lookupTimeout: float = DEFAULT_LOOKUP_TIMEOUT,
        clock: IReactorTime | None = None,
    ) -> None:
        if not IApplication.providedBy(app):
            raise TypeError(f"{app!r} does not provide IApplication")
        if not ISessionStore.providedBy(store):
            raise TypeError(f"{store!r} does not provide ISessionStore")
        if lookupTimeout <= 0:
            raise ValueError("lookupTimeout must be positive")
        self.app = app
        self.store = store
        self.cookieName: str = cookieName if cookieName is not None else store.cookieName
        self.required = required
        self.lookupTimeout = lookupTimeout
        self._clock = clock
        # Every connection whose handshake this layer let through, until
        # onClose; see _remember for the ones the WebSocket layer refused.
        self._views: dict[IConnection, SessionConnection] = {}
        self._sweepAt = _SWEEP_FLOOR

    @property
    def subprotocols(self) -> Any:
        """The application's sub-protocols, for the WebSocket layer."""
        return getattr(self.app, "subprotocols", ())

    # The handshake.

    def onHandshake(self, conn: Any) -> Deferred[None]:
        """
        Read the session of C{conn}'s request, then run the application's
        own C{onHandshake} with the L{SessionConnection}.

        @return: a Deferred the WebSocket layer waits for; it fails with
            L{HandshakeError} to refuse the handshake.
        """
        cookie = conn.cookies.get(self.cookieName)
        admitted: Deferred[SessionConnection] = self._lookup(conn, cookie).addCallbacks(
            self._admit, self._storeDown, callbackArgs=(conn, cookie), errbackArgs=(conn, cookie)
        )
        handshaken: Deferred[Any] = admitted.addCallback(self._innerHandshake)
        return handshaken.addCallback(self._remember)

    def _admit(self, outcome: _Outcome, conn: Any, cookie: str | None) -> SessionConnection:
        data, reason = outcome
        if data is None:
            if self.required:
                raise HandshakeError(401, f"a valid session is required ({reason or 'no cookie'})")
            if reason is not None:
                log.info("No valid session for {conn!r}: {reason}", conn=conn, reason=reason)
        return self._wrap(conn, cookie, data)

    def _storeDown(self, failure: Failure, conn: Any, cookie: str | None) -> SessionConnection:
        failure.trap(SessionUnavailable)
        if self.required:
            raise HandshakeError(
                503, "the session store is unavailable", [("Retry-After", str(_RETRY_AFTER))]
            )
        return self._wrap(conn, cookie, None)

    def _wrap(self, conn: Any, cookie: str | None, data: Mapping[Any, Any] | None
              ) -> SessionConnection:
        return SessionConnection(conn, Session(data, partial(self._reload, conn, cookie)))

    def _innerHandshake(self, view: SessionConnection) -> Any:
        hook = getattr(self.app, "onHandshake", None)
        if hook is None or view.closed:
            return view
        verdict = hook(view)
        if iscoroutine(verdict):
            verdict = Deferred.fromCoroutine(verdict)
        if isinstance(verdict, Deferred):
            return verdict.addCallback(lambda _: view)
        return view

    def _remember(self, view: SessionConnection) -> None:
        if view.closed:
            return  # gone (or timed out) while the session was read
        views = self._views
        if len(views) >= self._sweepAt:
            # Forget connections the WebSocket layer refused after this
            # layer let them through (it never reports them): amortised
            # constant time per handshake, and bounded memory.
            for conn, seen in list(views.items()):
                if seen.closed and not seen.opened:
                    del views[conn]
            self._sweepAt = max(_SWEEP_FLOOR, 2 * len(views))
        views[view.wrapped] = view

    # Reading the store.

    def _lookup(self, conn: Any, cookie: str | None) -> Deferred[_Outcome]:
        """
        Ask the store for the session under C{cookie}.

        @return: a Deferred firing with C{(data, None)} for a session,
            C{(None, reason)} when there is no valid one, C{(None, None)}
            without a cookie; or failing with L{SessionUnavailable}
            (logged) when the store failed or did not answer in time.
        """
        if not cookie:
            return succeed((None, None))
        d = maybeDeferred(self.store.load, cookie)
        d.addTimeout(self.lookupTimeout, reactorClock(self._clock))
        d.addCallbacks(self._judge, self._storeFailed, errbackArgs=(conn,))
        return d

    @staticmethod
    def _judge(data: Any) -> _Outcome:
        # An empty session identifies no one: it is what PHP writes back
        # for a cookie that outlived its logout (session_destroy, then any
        # page's session_start under the same id).
        if isinstance(data, Mapping):
            return (data, None) if data else (None, "an empty session")
        return None, "no such session" if data is None else "the store gave no mapping"

    def _storeFailed(self, failure: Failure, conn: Any) -> _Outcome:
        if failure.check(InvalidSession):
            return None, failure.value.reason
        if failure.check(TimeoutError):
            reason = f"no answer within {self.lookupTimeout} s"
        else:
            reason = f"{failure.type.__name__}: {failure.value}"
        log.warn(
            "Session store {store!r} unavailable for {conn!r}: {reason}",
            store=self.store,
            conn=conn,
            reason=reason,
        )
        raise SessionUnavailable(reason)

    def _reload(self, conn: Any, cookie: str | None) -> Deferred[Mapping[Any, Any] | None]:
        return self._lookup(conn, cookie).addCallback(self._reloaded, conn)

    @staticmethod
    def _reloaded(outcome: _Outcome, conn: Any) -> Mapping[Any, Any] | None:
        data, reason = outcome
        if reason is not None:
            log.info("Session of {conn!r} no longer valid: {reason}", conn=conn, reason=reason)
        return data

    # IApplication, as seen from the WebSocket layer.

    def onOpen(self, conn: IConnection) -> Any:
        view = self._views.get(conn)
        if view is None:
            # No handshake came through this layer (it is not inside a
            # WebSocket layer): no cookies, so no session.
            if self.required:
                log.info("Closing {conn!r}: no handshake, so no session", conn=conn)
                conn.close()
                return None
            view = self._views[conn] = self._wrap(conn, None, None)
        view.opened = True
        return self.app.onOpen(view)

    def onMessage(self, conn: IConnection, message: str | bytes) -> Any:
        view = self._views.get(conn)
        if view is not None:
            return self.app.onMessage(view, message)
        return None

    def onClose(self, conn: IConnection) -> Any:
        view = self._views.pop(conn, None)
        if view is not None and view.opened:
            return self.app.onClose(view)
        return None

    def onError(self, conn: IConnection, failure: Failure) -> Any:
        view = conn if isinstance(conn, SessionConnection) else self._views.get(conn, conn)
        return self.app.onError(view, failure)
