# -*- test-case-name: tests.test_tap -*-
"""
C{twistd ratchet}: command-line options and the service they build.

    twistd -n ratchet --app mypkg.chat:Chat --listen tcp:8080 --listen ssl:8443:...
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from ipaddress import ip_network
from typing import Any

from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IProtocolFactory
from twisted.python import usage
from twisted.web.pages import notFound
from twisted.web.resource import Resource
from twisted.web.server import Site
from twisted.web.static import File

from ratchet_tx import flow
from ratchet_tx.interfaces import IApplication
from ratchet_tx.server import Server
from ratchet_tx.service import ServerService
from ratchet_tx.web import WebSocketResource
from ratchet_tx.websocket import settings as ws
from ratchet_tx.websocket.codecs.deflate import DeflatePolicy
from ratchet_tx.websocket.codecs.handshake import ALL_VERSIONS, WebSocketVersion
from ratchet_tx.websocket.layer import WebSocket

PROTOCOLS = ("websocket", "raw")
DEFAULT_PROTOCOL = "websocket"
DEFAULT_LISTEN = "tcp:8080"
DEFAULT_APP = "ratchet_tx.examples.chat:Chat"


class Options(usage.Options):
    """Options of C{twistd ratchet}."""

    synopsis = "[options]"
    longdesc = (
        "Serve a ratchet_tx application over WebSocket (every version, one "
        "port) or plain TCP.  With no --app, --static or --mount, serves the "
        "built-in chat demo: a web page at / and its WebSocket at /ws."
    )

    optParameters = [
        [
            "app",
            "a",
            None,
            "The application, as MODULE:NAME: an IApplication provider, or a "
            "class or zero-argument factory that makes one.  Served at every "
            "path, or at --path when a web site is served too.",
        ],
        [
            "static",
            None,
            None,
            "Serve the files of this directory at /, and the --app WebSocket "
            "application at --path, on the same port.",
        ],
        [
            "path",
            None,
            "/ws",
            "Where the --app application is mounted when a web site is served too.",
        ],
        [
            "protocol",
            "p",
            DEFAULT_PROTOCOL,
            "The protocol to serve the application with: " + ", ".join(PROTOCOLS) + ".",
        ],
        [
            "shutdown-timeout",
            None,
            5.0,
            "Seconds to wait for clients to close when the server stops.",
            float,
        ],
        # The WebSocket layer's limits (ignored with --protocol raw).
        [
            "max-message-size",
            None,
            ws.DEFAULT_MAX_MESSAGE_SIZE,
            "Largest WebSocket message accepted, in bytes (suffixes K, M, G); "
            "larger ones close the connection with 1009.",
        ],
        [
            "max-frame-size",
            None,
            None,
            "Largest WebSocket frame payload accepted (default: --max-message-size).",
        ],
        [
            "max-handshake-size",
            None,
            ws.DEFAULT_MAX_HANDSHAKE_SIZE,
            "Largest opening-handshake request head; larger ones get 431.",
        ],
        [
            "handshake-timeout",
            None,
            ws.DEFAULT_HANDSHAKE_TIMEOUT,
            "Seconds a client has to complete the opening handshake.",
            float,
        ],
        [
            "close-timeout",
            None,
            ws.DEFAULT_CLOSE_TIMEOUT,
            "Seconds to wait for a client to answer our close.",
            float,
        ],
        [
            "ping-interval",
            None,
            ws.DEFAULT_PING_INTERVAL,
            "Ping a client after this many quiet seconds (0: never).",
            float,
        ],
        [
            "ping-timeout",
            None,
            ws.DEFAULT_PING_TIMEOUT,
            "Drop a client that does not answer a ping within this many seconds.",
            float,
        ],
        [
            "max-connections",
            None,
            None,
            "The most WebSocket connections served at once; beyond: 503.",
            int,
        ],
        [
            "max-connections-per-address",
            None,
            None,
            "The most WebSocket connections from one client address; beyond: 429.",
            int,
        ],
        [
            "trusted-proxies",
            None,
            0,
            "How many proxies in front of the server to trust: the client "
            "address is then taken from X-Forwarded-For (default: 0, ignore it).",
            int,
        ],
        [
            "high-water-mark",
            None,
            flow.DEFAULT_HIGH_WATER_MARK,
            "Bytes waiting to be sent to a client beyond which it is backed "
            "up: reading from it pauses and --slow-consumer applies.",
        ],
        [
            "max-buffered",
            None,
            flow.DEFAULT_MAX_BUFFERED,
            "Bytes that may wait for a backed-up client under the 'queue' "
            "policy before it is closed (1008).",
        ],
        [
            "slow-consumer",
            None,
            flow.SlowConsumer.QUEUE.value,
            "What to do with messages for a backed-up client: queue (up to "
            "--max-buffered), drop, or close (1008).",
        ],
        [
            "deflate-window-bits",
            None,
            15,
            "The largest LZ77 window (9-15) permessage-deflate may use either "
            "way; smaller saves memory with context takeover.",
            int,
        ],
        [
            "deflate-min-size",
            None,
            None,
            "Send messages shorter than this many bytes uncompressed.",
            int,
        ],
        [
            "hixie-idle-timeout",
            None,
            ws.DEFAULT_HIXIE_IDLE_TIMEOUT,
            "Close a Hixie-76/75 client (which cannot be pinged) after this many "
            "quiet seconds (0: never).",
            float,
        ],
    ]

    optFlags = [
        [
            "secure-location",
            None,
            "Tell Hixie-76/75 clients their location is wss:// even on plain "
            "TCP (behind a TLS-terminating proxy).",
        ],
        [
            "require-origin",
            None,
            "With --origin: refuse requests that carry no Origin header.",
        ],
        [
            "no-deflate",
            None,
            "Never agree to permessage-deflate.",
        ],
        [
            "deflate-context-takeover",
            None,
            "Let permessage-deflate keep context between messages (better "
            "compression, about 300 KiB of zlib state per connection).",
        ],
    ]

    compData = usage.Completions(
        optActions={"protocol": usage.CompleteList(PROTOCOLS)}
    )

    def __init__(self) -> None:
        super().__init__()
        self["listen"] = []
        self["mounts"] = []
        self["origins"] = []
        self["subprotocols"] = []
        self["disabled-versions"] = []
        self["blocked"] = []

    def opt_listen(self, description: str) -> None:
        """
        A Twisted server endpoint to listen on, e.g. tcp:8080,
        tcp:8080:interface=127.0.0.1, ssl:8443:privateKey=key.pem:certKey=cert.pem,
        unix:/run/chat.sock, systemd:domain=INET:index=0.  Repeatable
        (default: tcp:8080).
        """
        self["listen"].append(description)

    opt_l = opt_listen

    def opt_mount(self, mount: str) -> None:
        """
        Serve another WebSocket application at a path of the web site, as
        PATH=MODULE:NAME, e.g. /chat=mypkg.chat:Chat (repeatable).
        """
        path, sep, spec = mount.partition("=")
        if not sep or not path.startswith("/") or not spec:
            raise usage.UsageError(f"--mount takes /PATH=MODULE:NAME, not {mount!r}")
        self["mounts"].append((path, spec))

    def opt_block(self, network: str) -> None:
        """
        Refuse clients from this address or network, e.g. 203.0.113.7 or
        203.0.113.0/24 (repeatable).
        """
        try:
            self["blocked"].append(ip_network(network, strict=False))
        except ValueError:
            raise usage.UsageError(
                f"--block takes an address or network, not {network!r}"
            ) from None

    def opt_origin(self, origin: str) -> None:
        """Accept handshakes only from this Origin (repeatable; default: any); others get 403."""
        self["origins"].append(origin)

    def opt_subprotocol(self, name: str) -> None:
        """
        A WebSocket sub-protocol the application speaks, in order of
        preference (repeatable; default: the application's subprotocols).
        """
        self["subprotocols"].append(name)

    def opt_disable_version(self, name: str) -> None:
        """Refuse a version: rfc6455, hybi-10, hybi-07, hixie-76, hixie-75 (repeatable)."""
        try:
            self["disabled-versions"].append(WebSocketVersion(name))
        except ValueError:
            names = ", ".join(v.value for v in WebSocketVersion)
            raise usage.UsageError(
                f"--disable-version takes one of {names}, not {name!r}"
            ) from None

    def postOptions(self) -> None:
        if not self["listen"]:
            self["listen"] = [DEFAULT_LISTEN]
        for description in self["listen"]:
            checkEndpoint(description)
        if self["protocol"] not in PROTOCOLS:
            raise usage.UsageError(
                f"--protocol must be one of {', '.join(PROTOCOLS)}, not {self['protocol']!r}"
            )
        if self["shutdown-timeout"] < 0:
            raise usage.UsageError("--shutdown-timeout must not be negative")
        for name in (
            "max-message-size",
            "max-frame-size",
            "max-handshake-size",
            "high-water-mark",
            "max-buffered",
        ):
            if self[name] is not None:
                self[name] = parseSize(name, self[name])
        versions = ALL_VERSIONS - frozenset(self["disabled-versions"])
        if not versions:
            raise usage.UsageError("--disable-version: every WebSocket version is disabled")
        try:
            self["websocket"] = ws.Settings.build(
                versions=versions,
                origins=self["origins"] or None,
                requireOrigin=self["require-origin"],
                maxMessageSize=self["max-message-size"],
                maxFrameSize=self["max-frame-size"] or self["max-message-size"],
                maxHandshakeSize=self["max-handshake-size"],
                handshakeTimeout=self["handshake-timeout"],
                closeTimeout=self["close-timeout"],
                pingInterval=self["ping-interval"] or None,
                pingTimeout=self["ping-timeout"],
                hixieIdleTimeout=self["hixie-idle-timeout"] or None,
                secure=True if self["secure-location"] else None,
                maxConnections=self["max-connections"],
                maxConnectionsPerAddress=self["max-connections-per-address"],
                blocked=self["blocked"],
                trustedProxies=self["trusted-proxies"],
                deflate=_deflatePolicy(self),
                **({"subprotocols": self["subprotocols"]} if self["subprotocols"] else {}),
            )
            self["flow"] = flow.FlowControl(
                highWaterMark=self["high-water-mark"],
                maxBuffered=self["max-buffered"],
                slowConsumer=flow.SlowConsumer(self["slow-consumer"]),
            )
        except ValueError as e:
            raise usage.UsageError(str(e)) from None
        if self["protocol"] == "raw":
            if self["static"] or self["mounts"]:
                raise usage.UsageError("--static and --mount need --protocol websocket")
            self["application"] = loadApplication(self["app"] or DEFAULT_APP)
        else:
            self["application"] = loadApplication(self["app"]) if self["app"] else None
        if not self["path"].startswith("/"):
            raise usage.UsageError(f"--path must start with /, not {self['path']!r}")
        self["mounted"] = [(path, loadApplication(spec)) for path, spec in self["mounts"]]
        self["site"] = bool(self["static"] or self["mounts"] or self["application"] is None)


_SIZE_SUFFIXES = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def parseSize(option: str, value: object) -> int:
    """
    Parse a byte count such as C{65536}, C{64K}, C{16M} or C{1G}.

    @raise usage.UsageError: if C{value} is not a positive size.
    """
    text = str(value).strip().upper().removesuffix("B").removesuffix("I")
    number, suffix = text, ""
    if text and text[-1] in "KMG":
        number, suffix = text[:-1], text[-1]
    try:
        size = int(number) * _SIZE_SUFFIXES[suffix]
    except ValueError:
        raise usage.UsageError(f"--{option} takes a size like 65536, 64K or 16M") from None
    if size <= 0:
        raise usage.UsageError(f"--{option} must be positive")
    return size


def loadApplication(spec: str) -> IApplication:
    """
    Import C{MODULE:NAME} and return the application it names.

    C{NAME} may be an L{IApplication} provider, or a class or zero-argument
    callable that returns one.

    @raise usage.UsageError: with a one-line explanation of what is wrong.
    """
    moduleName, sep, name = spec.partition(":")
    if not sep or not moduleName or not name:
        raise usage.UsageError(f"--app takes MODULE:NAME, not {spec!r}")
    try:
        module = importlib.import_module(moduleName)
    except Exception as e:
        raise usage.UsageError(f"--app: cannot import {moduleName}: {_oneLine(e)}") from None
    target: Any = module
    for part in name.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise usage.UsageError(f"--app: {moduleName} has no {name}") from None
    if not IApplication.providedBy(target):
        if not callable(target):
            raise usage.UsageError(f"--app: {spec} is not an application")
        try:
            target = target()
        except Exception as e:
            raise usage.UsageError(f"--app: {spec}() failed: {_oneLine(e)}") from None
    if not IApplication.providedBy(target):
        raise usage.UsageError(
            f"--app: {spec} does not provide IApplication "
            "(declare it with @implementer(IApplication))"
        )
    return target


def _deflatePolicy(options: Options) -> DeflatePolicy:
    if options["no-deflate"]:
        return ws.NO_DEFLATE
    takeover = options["deflate-context-takeover"]
    changes: dict[str, Any] = {
        "serverNoContextTakeover": not takeover,
        "clientNoContextTakeover": not takeover,
        "serverMaxWindowBits": options["deflate-window-bits"],
        "clientMaxWindowBits": options["deflate-window-bits"],
    }
    if options["deflate-min-size"] is not None:
        changes["minSize"] = options["deflate-min-size"]
    return replace(ws.DEFAULT_DEFLATE, **changes)


def _oneLine(error: BaseException) -> str:
    """An exception as one line: twistd prints usage errors as they are."""
    text = " ".join(str(error).split()) or type(error).__name__
    return f"{type(error).__name__}: {text}"


def checkEndpoint(description: str) -> None:
    """
    Parse an endpoint description now, so a typo is a usage error rather
    than a traceback once twistd is running.

    @raise usage.UsageError: if C{description} does not parse.
    """
    try:
        serverFromString(_ParseOnly(), description)
    except Exception as e:
        raise usage.UsageError(f"--listen {description}: {_oneLine(e)}") from None


class _ParseOnly:
    """Stands in for the reactor while an endpoint is only parsed."""


def makeService(options: Options) -> ServerService:
    """Build the service C{twistd ratchet} runs from its C{options}."""
    from twisted.internet import reactor

    endpoints = [serverFromString(reactor, description) for description in options["listen"]]
    factory: IProtocolFactory
    if options["protocol"] == "raw":
        factory = Server(options["application"], flow=options["flow"])
        servers = [factory]
    elif not options["site"]:
        factory = Server(_webSocket(options, options["application"]), flow=options["flow"])
        servers = [factory]
    else:
        factory, servers = _site(options)
    return ServerService(
        factory, endpoints, shutdownTimeout=options["shutdown-timeout"], servers=servers
    )


def _webSocket(options: Options, app: IApplication) -> WebSocket:
    """Wrap C{app} in a WebSocket layer with the options' settings."""
    settings = options["websocket"]
    if not options["subprotocols"]:
        settings = replace(settings, subprotocols=tuple(getattr(app, "subprotocols", ())))
    return WebSocket(app, settings=settings)


def _site(options: Options) -> tuple[Site, list[Server]]:
    """
    The web site: the demo, or a static directory, with the WebSocket
    applications mounted at their paths.
    """
    mounts: list[tuple[str, IApplication]] = list(options["mounted"])
    resources: list[WebSocketResource] = []
    root: Resource
    if options["static"]:
        root = StaticFiles(options["static"])
    elif not mounts and options["application"] is None:
        from ratchet_tx.demo import demoResource

        root, chat = demoResource(settings=options["websocket"], flow=options["flow"])
        resources.append(chat)
    else:
        root = Resource()
    if options["application"] is not None:
        mounts.append((options["path"], options["application"]))
    for path, app in mounts:
        resource = WebSocketResource(_webSocket(options, app), flow=options["flow"])
        _putChildAtPath(root, path, resource)
        resources.append(resource)
    return Site(root), [resource.serverFactory for resource in resources]


def _putChildAtPath(root: Resource, path: str, child: Resource) -> None:
    segments = [segment.encode("utf-8") for segment in path.strip("/").split("/")]
    parent = root
    for segment in segments[:-1]:
        existing = parent.children.get(segment)
        if existing is None:
            existing = Resource()
            parent.putChild(segment, existing)
        parent = existing
    parent.putChild(segments[-1], child)


class StaticFiles(File):
    """The files of a directory, without listings of directories."""

    def directoryListing(self) -> Resource:
        return notFound()
