# -*- test-case-name: tests.websocket.test_settings -*-
"""
Every limit and timeout of the WebSocket layer, named, documented and bounded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from ratchet_tx.websocket.codecs.deflate import DeflatePolicy
from ratchet_tx.websocket.codecs.handshake import ALL_VERSIONS, WebSocketVersion

KiB = 1024
MiB = 1024 * KiB

#: Largest request head (request line and headers) accepted; beyond: 431.
DEFAULT_MAX_HANDSHAKE_SIZE = 16 * KiB
#: Largest message (all fragments together) accepted; beyond: close 1009.
#: The largest frame is the same unless C{maxFrameSize} says otherwise.
DEFAULT_MAX_MESSAGE_SIZE = 1 * MiB
#: Seconds a client has to complete its opening handshake.
DEFAULT_HANDSHAKE_TIMEOUT = 10.0
#: Seconds to wait for the peer's answer to our close before dropping it.
DEFAULT_CLOSE_TIMEOUT = 5.0
#: Seconds of silence from a peer after which we ping it (RFC 6455 / HyBi).
DEFAULT_PING_INTERVAL = 20.0
#: Seconds a peer has to answer our ping before it is considered dead.
DEFAULT_PING_TIMEOUT = 20.0
#: Seconds of silence after which a Hixie client (which cannot be pinged) is
#: closed.
DEFAULT_HIXIE_IDLE_TIMEOUT = 300.0
#: permessage-deflate is agreed when offered, without context takeover either
#: way: an idle connection then holds no zlib state (about 0.2 KiB, against
#: about 300 KiB with takeover), and a broadcast is compressed once for all.
DEFAULT_DEFLATE = DeflatePolicy(serverNoContextTakeover=True, clientNoContextTakeover=True)
#: No permessage-deflate at all.
NO_DEFLATE = DeflatePolicy(enabled=False)


@dataclass(frozen=True, slots=True)
class Settings:
    """
    How a L{ratchet_tx.websocket.WebSocket} layer behaves.

    @ivar versions: the protocol versions accepted; others get 426 (HyBi) or
        400 (Hixie).
    @ivar subprotocols: the sub-protocols the application speaks.  The first
        one in the client's list that is also in this one is chosen: the
        client's order decides, this one only says what is spoken.
    @ivar origins: if not C{None}, the only C{Origin} values accepted (403
        otherwise); compared case-insensitively.  A request without an
        origin (a non-browser client) is accepted unless C{requireOrigin}.
    @ivar requireOrigin: with C{origins}: refuse (403) requests that carry no
        C{Origin} header.
    @ivar maxHandshakeSize: the largest opening-handshake request head
        (request line and headers) accepted, in bytes; larger ones get 431.
    @ivar maxMessageSize: the largest message accepted (all its fragments,
        after inflating), in bytes; larger ones close the connection with 1009.
        Also bounds Hixie frames.
    @ivar maxFrameSize: the largest frame payload accepted, in bytes; larger
        ones close the connection with 1009.  C{None} (the default): the same
        as C{maxMessageSize}, so raising the message limit raises both.
    @ivar handshakeTimeout: seconds a client has to complete its opening
        handshake.
    @ivar closeTimeout: seconds to wait for the peer to answer our close
        before dropping it.
    @ivar pingInterval: ping an RFC 6455 or HyBi client after this many
        quiet seconds; C{None}: never.
    @ivar pingTimeout: seconds a client has to answer a ping before it is
        dropped.
    @ivar hixieIdleTimeout: close a Hixie-76/75 client (which cannot be
        pinged) after this many quiet seconds; C{None}: never.
    @ivar secure: whether Hixie's C{Sec-WebSocket-Location} says C{wss://}.
        C{None} means "if the connection is TLS"; set C{True} behind a
        TLS-terminating proxy.
    @ivar maxConnections: the most connections served at once; handshakes
        beyond it get 503.  C{None}: no limit but the process's file
        descriptors.
    @ivar maxConnectionsPerAddress: the most connections from one client
        address at once; handshakes beyond it get 429.  C{None}: no limit.
    @ivar blocked: networks whose clients are refused: dropped on connect
        (by socket address) or answered 403 (by forwarded address).
    @ivar trustedProxies: how many proxies in front of the server to trust:
        the client address is then the entry that many places from the right
        of C{X-Forwarded-For}.  0 ignores that header.
    @ivar deflate: what permessage-deflate (RFC 7692) to agree to, see
        L{DEFAULT_DEFLATE}; L{NO_DEFLATE} turns it off.
    """

    versions: frozenset[WebSocketVersion] = ALL_VERSIONS
    subprotocols: tuple[str, ...] = ()
    origins: frozenset[str] | None = None
    requireOrigin: bool = False
    maxHandshakeSize: int = field(default=DEFAULT_MAX_HANDSHAKE_SIZE, metadata={"unit": "bytes"})
    maxMessageSize: int = field(default=DEFAULT_MAX_MESSAGE_SIZE, metadata={"unit": "bytes"})
    maxFrameSize: int | None = field(default=None, metadata={"unit": "bytes"})
    handshakeTimeout: float = DEFAULT_HANDSHAKE_TIMEOUT
    closeTimeout: float = DEFAULT_CLOSE_TIMEOUT
    pingInterval: float | None = DEFAULT_PING_INTERVAL
    pingTimeout: float = DEFAULT_PING_TIMEOUT
    hixieIdleTimeout: float | None = DEFAULT_HIXIE_IDLE_TIMEOUT
    secure: bool | None = None
    maxConnections: int | None = None
    maxConnectionsPerAddress: int | None = None
    blocked: frozenset[IPv4Network | IPv6Network] = frozenset()
    trustedProxies: int = 0
    deflate: DeflatePolicy = DEFAULT_DEFLATE
    _originsFolded: frozenset[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.versions:
            raise ValueError("at least one WebSocket version must be enabled")
        for name in ("maxHandshakeSize", "maxMessageSize"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.maxFrameSize is not None and self.maxFrameSize <= 0:
            raise ValueError("maxFrameSize must be positive or None")
        for name in ("handshakeTimeout", "closeTimeout", "pingTimeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        for name in ("maxConnections", "maxConnectionsPerAddress"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive or None")
        if self.trustedProxies < 0:
            raise ValueError("trustedProxies must not be negative")
        for name in ("pingInterval", "hixieIdleTimeout"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive or None")
        folded = None if self.origins is None else frozenset(o.lower() for o in self.origins)
        object.__setattr__(self, "_originsFolded", folded)

    @classmethod
    def build(
        cls,
        *,
        versions: Iterable[WebSocketVersion] = ALL_VERSIONS,
        subprotocols: Iterable[str] = (),
        origins: Iterable[str] | None = None,
        blocked: Iterable[str | IPv4Network | IPv6Network] = (),
        **limits: object,
    ) -> Settings:
        """
        Build from any iterables (lists, generators) for the collections;
        C{blocked} may hold strings such as C{"203.0.113.0/24"} or
        C{"2001:db8::1"}.
        """
        return cls(
            versions=frozenset(versions),
            subprotocols=tuple(subprotocols),
            origins=None if origins is None else frozenset(origins),
            blocked=frozenset(ip_network(network, strict=False) for network in blocked),
            **limits,  # type: ignore[arg-type]
        )

    @property
    def heartbeatPeriod(self) -> float | None:
        """
        How often to check connections for pings and idleness: often enough
        that a ping or idle timeout is noticed within a quarter of its
        length; C{None} when there is nothing to check.
        """
        waits = [w for w in (self.pingInterval, self.hixieIdleTimeout) if w is not None]
        if self.pingInterval is not None:
            waits.append(self.pingTimeout)
        return min(waits) / 4 if waits else None

    def isBlocked(self, host: str) -> bool:
        """Whether the client address C{host} is in a blocked network."""
        if not self.blocked:
            return False
        try:
            address = ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.blocked)

    def clientHost(self, peerHost: str, forwardedFor: str | None) -> str:
        """
        The client's address: the socket peer's, or with C{trustedProxies}
        the one our trusted proxies put in C{X-Forwarded-For}.
        """
        if not self.trustedProxies or not forwardedFor:
            return peerHost
        hops = [hop.strip() for hop in forwardedFor.split(",") if hop.strip()]
        if not hops:
            return peerHost
        candidate = hops[-min(self.trustedProxies, len(hops))]
        try:
            return str(ip_address(candidate.strip("[]")))
        except ValueError:
            return peerHost

    def originAllowed(self, origin: str | None) -> bool:
        """Whether a handshake carrying C{origin} may proceed."""
        if self._originsFolded is None:
            return True
        if origin is None:
            return not self.requireOrigin
        return origin.lower() in self._originsFolded

    def chooseSubprotocol(self, offered: Iterable[str]) -> str | None:
        """The first sub-protocol the client offers that we speak, if any."""
        for name in offered:
            if name in self.subprotocols:
                return name
        return None
