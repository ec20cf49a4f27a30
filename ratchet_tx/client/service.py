# -*- test-case-name: tests.client.test_service -*-
"""
A client that stays connected: L{ClientService}, a Twisted
L{twisted.application.internet.ClientService} whose connections are
L{connect}'s::

    service = ClientService(reactor, "ws://127.0.0.1:8080/chat", Chat())
    service.startService()
    service.whenConnected().addCallback(lambda conn: conn.send("hello"))

How it sits on Twisted's service: Twisted's service connects an endpoint
and treats the connection as made when the endpoint's Deferred fires.  The
endpoint here (L{_WebSocketEndpoint}) is L{connect} itself: it fires only
once the opening handshake succeeded and the application's C{onOpen} ran,
and fails (so the service backs off and retries) when the server refused
the handshake, answered wrongly, timed out, or was not there.  Then the
service is handed a stand-in protocol (L{_OpenConnection}) whose transport
closes the WebSocket gracefully (L{_GracefulClose}), and whose
C{connectionLost} is told once the connection is gone: so Twisted's
C{stopService} closes an open connection with 1001 Going Away and waits
for its closing handshake.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from twisted.application import internet
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from zope.interface import implementer

from ratchet_tx.client.connect import (
    clientSettings,
    connect,
    isPlainURL,
    parseVersion,
    plainAddress,
)
from ratchet_tx.redis.backoff import Backoff
from ratchet_tx.websocket.codecs.clienthandshake import parseURL
from ratchet_tx.websocket.codecs.closecodes import CloseCode
from ratchet_tx.websocket.codecs.handshake import WebSocketVersion

if TYPE_CHECKING:
    from twisted.internet.interfaces import IProtocol, IProtocolFactory

    from ratchet_tx.flow import FlowControl
    from ratchet_tx.interfaces import IApplication, IConnection
    from ratchet_tx.websocket.codecs.deflate import DeflatePolicy

#: The waits between attempts unless told otherwise: from 0.1 s doubling up
#: to 10 s, each up to half shorter at random, so that the clients a server
#: restart dropped do not all come back at the same moment.
DEFAULT_BACKOFF = Backoff()

#: The reason of the close frame C{stopService} sends (with 1001).
STOPPING_REASON = "client stopping"


@implementer(IStreamClientEndpoint)
class _WebSocketEndpoint:
    """
    An endpoint whose connections are made by C{connectOnce} (a
    L{connect} with its arguments): they count as made once open.
    """

    def __init__(self, connectOnce: Callable[[], Deferred[IConnection]]) -> None:
        self._connectOnce = connectOnce

    def connect(self, factory: IProtocolFactory) -> Deferred[IProtocol]:
        attempt: Deferred[IConnection] = maybeDeferred(self._connectOnce)
        return attempt.addCallback(_handOver, factory)


def _handOver(conn: IConnection, factory: IProtocolFactory) -> IProtocol:
    """
    The open C{conn}, as the protocol C{factory} builds (Twisted's service
    wraps it to hear when it is lost).
    """
    proto = factory.buildProtocol(conn.remoteAddress)
    assert proto is not None
    proto.makeConnection(_GracefulClose(conn))  # type: ignore[arg-type]
    conn.addCloseCallback(lambda _: proto.connectionLost(Failure(ConnectionDone())))
    return proto


class _GracefulClose:
    """
    The transport Twisted's service is given for an open connection: when
    the service stops, C{loseConnection} starts the closing handshake with
    1001 Going Away; the connection is lost once it is done (or timed out).
    """

    def __init__(self, conn: IConnection) -> None:
        self.conn = conn

    def loseConnection(self) -> None:
        self.conn.close(CloseCode.GOING_AWAY, STOPPING_REASON)

    def abortConnection(self) -> None:
        self.conn.abort()


class _OpenConnection(Protocol):
    """
    An open connection, as Twisted's service holds it.

    @ivar connection: the application's view of it (a
        L{ratchet_tx.client.ClientConnection}, or the plain-TCP connection).
    """

    connection: IConnection

    def makeConnection(self, transport: Any) -> None:
        self.connection = transport.conn
        super().makeConnection(transport)


class _OpenConnections:
    """The factory of L{_OpenConnection}s (no bytes ever reach them)."""

    def buildProtocol(self, addr: object) -> _OpenConnection:
        return _OpenConnection()

    def doStart(self) -> None:
        pass

    def doStop(self) -> None:
        pass


class ClientService(internet.ClientService):
    """
    Keep C{app} connected to the server at C{url}: connect when started,
    and connect again (after a backoff with jitter) whenever the
    connection fails or is lost, until stopped.

    The application is an ordinary L{IApplication}: it hears C{onOpen} and
    C{onClose} for every connection, in turn (never two at once).
    C{stopService} closes the open connection with 1001 Going Away and
    fires once it is gone (the closing handshake is bounded by
    C{closeTimeout}), or at once when none is open; nothing is left
    pending (no connection attempt, no retry timer).

    Every argument but C{retryPolicy} is L{connect}'s, and checked when the
    service is made (a wrong one raises here, not at every attempt).

    @param retryPolicy: the seconds to wait after C{n} failed attempts in a
        row (C{n >= 1}; a connection that opened resets the count):
        L{DEFAULT_BACKOFF}'s by default; any L{Backoff}'s C{delay} for other
        waits, or Twisted's L{twisted.application.internet.backoffPolicy}.
    """

    def __init__(
        self,
        reactor: Any,
        url: str,
        app: IApplication,
        *,
        version: str | WebSocketVersion = WebSocketVersion.RFC6455,
        subprotocols: Iterable[str] = (),
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        origin: str | None = None,
        deflate: bool | DeflatePolicy = True,
        trustRoot: Any = None,
        flow: FlowControl | None = None,
        endpoint: IStreamClientEndpoint | None = None,
        retryPolicy: Callable[[int], float] | None = None,
        **settings: Any,
    ) -> None:
        _check(url, version, deflate, settings)
        connectOnce = partial(
            connect,
            reactor,
            url,
            app,
            version=version,
            subprotocols=tuple(subprotocols),
            headers=headers,
            origin=origin,
            deflate=deflate,
            trustRoot=trustRoot,
            flow=flow,
            endpoint=endpoint,
            **settings,
        )
        super().__init__(
            _WebSocketEndpoint(connectOnce),
            _OpenConnections(),  # type: ignore[arg-type]
            retryPolicy=DEFAULT_BACKOFF.delay if retryPolicy is None else retryPolicy,
            clock=reactor,
        )
        self.url = url
        self.app = app
        self._clock = reactor

    def whenConnected(  # type: ignore[override]
        self, failAfterFailures: int | None = None
    ) -> Deferred[IConnection]:
        """
        The open connection, or the next one to open.

        @param failAfterFailures: fail after this many failed attempts in a
            row (C{None}: only when the service stops).
        @return: a Deferred that fires with the open L{IConnection} (a
            L{ratchet_tx.client.ClientConnection} for WebSocket URLs), or
            fails with the last attempt's error after C{failAfterFailures}
            of them, or with L{twisted.internet.defer.CancelledError} when
            the service stops.
        """
        opened = super().whenConnected(failAfterFailures)
        result: Deferred[IConnection] = Deferred(lambda _: opened.cancel())

        def later(outcome: Any) -> None:
            # Twisted's service fires it in the middle of a change of state,
            # when it cannot be stopped; the caller may well want to.
            if isinstance(outcome, Failure):
                self._clock.callLater(0, result.errback, outcome)
            else:
                self._clock.callLater(0, result.callback, outcome.connection)

        opened.addBoth(later)
        return result


def _check(
    url: str,
    version: str | WebSocketVersion,
    deflate: bool | DeflatePolicy,
    settings: dict[str, Any],
) -> None:
    """Raise what L{connect} would raise for these arguments."""
    clientSettings(deflate, **settings)
    if isPlainURL(url):
        plainAddress(url)
        return
    parseVersion(version)
    parseURL(url)
