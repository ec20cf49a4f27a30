# -*- test-case-name: tests.client.test_interop,tests.client.test_badservers -*-
"""
C{connect(reactor, url, app)}: consume a socket with an ordinary
L{IApplication}, over WebSocket of any version or plain TCP::

    d = connect(reactor, "ws://127.0.0.1:8080/chat", Chat(), version="hixie-76")
    d.addCallback(lambda conn: print("open:", conn.version))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from twisted.internet.defer import Deferred
from twisted.internet.protocol import Factory
from twisted.python.failure import Failure
from zope.interface import implementer

from ratchet_tx.client.connection import ClientWebSocket
from ratchet_tx.dispatch import deliver
from ratchet_tx.flow import FlowControl
from ratchet_tx.interfaces import IApplication, IConnection
from ratchet_tx.server import ConnectionProtocol
from ratchet_tx.transport.client import hostnameEndpoint
from ratchet_tx.websocket.codecs.clienthandshake import ClientHandshake, parseURL
from ratchet_tx.websocket.codecs.deflate import DeflatePolicy
from ratchet_tx.websocket.codecs.handshake import WebSocketVersion
from ratchet_tx.websocket.settings import Settings

if TYPE_CHECKING:
    from twisted.internet.interfaces import IAddress, IStreamClientEndpoint

#: What a client offers by default: permessage-deflate as browsers offer it
#: (context takeover allowed, the server decides).
DEFAULT_CLIENT_DEFLATE = DeflatePolicy()

#: The settings that mean something to a client; the others are a server's.
CLIENT_SETTINGS = frozenset(
    {
        "maxMessageSize",
        "maxFrameSize",
        "maxHandshakeSize",
        "handshakeTimeout",
        "closeTimeout",
        "pingInterval",
        "pingTimeout",
        "hixieIdleTimeout",
    }
)

_PLAIN_TCP = "tcp"


def clientSettings(deflate: bool | DeflatePolicy = True, **settings: Any) -> Settings:
    """
    The L{Settings} of a client: limits, timeouts and the permessage-deflate
    to offer.

    @param deflate: C{True} for L{DEFAULT_CLIENT_DEFLATE}, C{False} for none,
        or the L{DeflatePolicy} to offer.
    @param settings: any of L{CLIENT_SETTINGS<ratchet_tx.client.connect.CLIENT_SETTINGS>}.
    @raise TypeError: a setting that is not a client's.
    """
    unknown = set(settings) - CLIENT_SETTINGS
    if unknown:
        raise TypeError(f"not client settings: {', '.join(sorted(unknown))}")
    if deflate is True:
        policy = DEFAULT_CLIENT_DEFLATE
    elif deflate is False:
        policy = DeflatePolicy(enabled=False)
    else:
        policy = deflate
    return Settings(deflate=policy, **settings)


def parseVersion(version: str | WebSocketVersion) -> WebSocketVersion:
    """
    A version by its name: C{rfc6455}, C{hybi-10}, C{hybi-07}, C{hixie-76},
    C{hixie-75} (the names of C{twistd ratchet --disable-version}).
    """
    if isinstance(version, WebSocketVersion):
        return version
    try:
        return WebSocketVersion(version)
    except ValueError:
        names = ", ".join(v.value for v in WebSocketVersion)
        raise ValueError(f"version must be one of {names}, not {version!r}") from None


def isPlainURL(url: str) -> bool:
    """Whether C{url} names a plain-TCP server (C{tcp://host:port})."""
    return urlsplit(url).scheme == _PLAIN_TCP


def plainAddress(url: str) -> tuple[str, int]:
    """
    The host and port of a plain-TCP URL.

    @raise ValueError: C{url} is not C{tcp://host:port}.
    """
    parts = urlsplit(url)
    if not parts.hostname or parts.port is None:
        raise ValueError(f"a plain TCP URL is tcp://host:port, not {url!r}")
    return parts.hostname, parts.port


class _ClientFactory(Factory):
    """Builds the one protocol of one connection attempt."""

    noisy = False

    def __init__(self, app: IApplication, flow: FlowControl) -> None:
        self.app = app
        self.flow = flow

    def buildProtocol(self, addr: IAddress | None) -> ConnectionProtocol:
        return ConnectionProtocol(self.app, self.flow)


def connect(
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
    **settings: Any,
) -> Deferred[IConnection]:
    """
    Connect C{app} to the server at C{url}.

    @param reactor: the reactor to connect with (also the clock of the
        timeouts).
    @param url: C{ws://host[:port]/path}, C{wss://...} (TLS, checking the
        server's certificate and host name), or C{tcp://host:port} for a
        plain-TCP server (C{Server(app)}): then C{app} gets raw bytes, as
        it would from a server.
    @param app: an L{IApplication}: the same four callbacks and commands as
        a server's.
    @param version: the WebSocket version to speak: C{rfc6455}, C{hybi-10}
        (wire 8), C{hybi-07} (wire 7), C{hixie-76}, C{hixie-75}.
    @param subprotocols: the sub-protocols to offer, in order of preference.
    @param headers: more request headers (C{Cookie}, C{Authorization}, ...).
    @param origin: the C{Origin} to claim, if any.
    @param deflate: permessage-deflate: C{True} offers it as browsers do,
        C{False} does not, a L{DeflatePolicy} says what to offer.
    @param trustRoot: C{wss://}: the certificate authorities to trust (see
        L{twisted.internet.ssl.optionsForClientTLS}); the platform's by
        default.
    @param flow: the slow-consumer settings toward the server.
    @param endpoint: connect through this endpoint instead of the one the
        URL names (the handshake still names the URL's host).
    @param settings: limits and timeouts, as the server's layer takes them:
        C{maxMessageSize}, C{maxFrameSize}, C{maxHandshakeSize},
        C{handshakeTimeout}, C{closeTimeout}, C{pingInterval},
        C{pingTimeout}, C{hixieIdleTimeout}.
    @return: a Deferred that fires with the open connection once C{onOpen}
        ran, or fails: L{HandshakeRefused} (the server's status, headers and
        body), L{InvalidHandshakeResponse}, a
        L{twisted.internet.error.TimeoutError}, a refused or failed TCP
        connection.  Nothing is left half-open when it fails; cancelling it
        drops the connection attempt.
    """
    flow = flow if flow is not None else FlowControl()
    if isPlainURL(url):
        return _connectPlain(reactor, url, app, flow, endpoint, clientSettings(**settings))
    wsSettings = clientSettings(deflate, **settings)
    handshake = ClientHandshake.new(
        parseURL(url),
        version=parseVersion(version),
        subprotocols=subprotocols,
        origin=origin,
        headers=headers or (),
        deflate=wsSettings.deflate if wsSettings.deflate.enabled else None,
    )
    layer = ClientWebSocket(app, handshake, wsSettings, reactor)
    if endpoint is None:
        endpoint = _endpointFor(reactor, handshake, trustRoot, wsSettings.handshakeTimeout)
    attempt = endpoint.connect(_ClientFactory(layer, flow))
    return _outcome(attempt, layer.connected)


def _connectPlain(
    reactor: Any,
    url: str,
    app: IApplication,
    flow: FlowControl,
    endpoint: IStreamClientEndpoint | None,
    settings: Settings,
) -> Deferred[IConnection]:
    host, port = plainAddress(url)
    if endpoint is None:
        endpoint = hostnameEndpoint(reactor, host, port, timeout=settings.handshakeTimeout)
    opened: Deferred[IConnection] = Deferred()
    attempt = endpoint.connect(_ClientFactory(_Opening(app, opened), flow))
    return _outcome(attempt, opened)


def _endpointFor(
    reactor: Any, handshake: ClientHandshake, trustRoot: Any, timeout: float
) -> IStreamClientEndpoint:
    url = handshake.url
    endpoint: IStreamClientEndpoint = hostnameEndpoint(reactor, url.host, url.port, timeout=timeout)
    if not url.secure:
        return endpoint
    try:
        from twisted.internet.endpoints import wrapClientTLS
        from twisted.internet.ssl import optionsForClientTLS
    except ImportError as e:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "wss:// needs Twisted's TLS extras: pip install 'ratchet_tx[tls]'"
        ) from e
    options = optionsForClientTLS(url.host, trustRoot=trustRoot)
    return wrapClientTLS(options, endpoint)


def _outcome(attempt: Deferred[Any], opened: Deferred[Any]) -> Deferred[IConnection]:
    """
    What C{connect} returns: C{opened}'s outcome, or the TCP connection's
    failure; cancelling it drops the attempt.
    """
    protocols: list[ConnectionProtocol] = []

    def cancel(result: Deferred[IConnection]) -> None:
        if not attempt.called:
            attempt.cancel()
        for proto in protocols:
            proto.transport.abortConnection()

    result: Deferred[IConnection] = Deferred(cancel)

    def connected(proto: ConnectionProtocol) -> None:
        protocols.append(proto)

    def failedToConnect(failure: Failure) -> None:
        if not result.called:
            result.errback(failure)

    def settled(outcome: Any) -> None:
        if isinstance(outcome, Failure):
            for proto in protocols:
                # Nothing half-open: a failed handshake's transport goes.
                if not proto.connection.closed:
                    proto.transport.abortConnection()
        if not result.called:
            if isinstance(outcome, Failure):
                result.errback(outcome)
            else:
                result.callback(outcome)

    attempt.addCallbacks(connected, failedToConnect)
    opened.addBoth(settled)
    return result


@implementer(IApplication)
class _Opening:
    """
    Plain TCP: the application itself, and the outcome of C{connect} once its
    C{onOpen} ran.
    """

    def __init__(self, app: IApplication, opened: Deferred[IConnection]) -> None:
        self.app = app
        self._opened = opened

    def onOpen(self, conn: IConnection) -> None:
        deliver(self.app, conn, self.app.onOpen)
        if not self._opened.called:
            self._opened.callback(conn)

    def onMessage(self, conn: IConnection, data: bytes) -> Any:
        return self.app.onMessage(conn, data)

    def onClose(self, conn: IConnection) -> Any:
        return self.app.onClose(conn)

    def onError(self, conn: IConnection, failure: Failure) -> Any:
        return self.app.onError(conn, failure)
