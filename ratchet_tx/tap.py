# -*- test-case-name: tests.test_tap -*-
"""
C{twistd ratchet}: the command-line options and the service they build::

    twistd -n ratchet --app mypkg.chat:Chat --listen tcp:8080 --listen ssl:8443:...

The options of the WebSocket layer's L{Settings} and of L{FlowControl} are
generated from their fields; what the options are made of (sizes, seconds,
C{MODULE:NAME}, endpoints, the web site, the listening service) is in
L{ratchet_tx.commandline}.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import replace
from ipaddress import ip_network
from typing import Any

from twisted.application.service import IService, MultiService
from twisted.python import usage
from twisted.web.resource import Resource

from ratchet_tx import commandline as cli
from ratchet_tx.allocator import keepLargeBlocks
from ratchet_tx.flashpolicy import FlashPolicyFactory
from ratchet_tx.flow import FlowControl
from ratchet_tx.hub import useHub
from ratchet_tx.interfaces import IApplication
from ratchet_tx.server import Server
from ratchet_tx.session.provider import SessionProvider
from ratchet_tx.session.spec import SessionSpecError, parseSessionSpec, readSecret
from ratchet_tx.web import StaticFiles
from ratchet_tx.websocket.codecs.deflate import DeflatePolicy
from ratchet_tx.websocket.codecs.flashpolicy import ANY_DOMAIN, FlashPolicy
from ratchet_tx.websocket.codecs.handshake import ALL_VERSIONS, WebSocketVersion
from ratchet_tx.websocket.layer import WebSocket
from ratchet_tx.websocket.settings import DEFAULT_DEFLATE, NO_DEFLATE, Settings
from ratchet_tx.workers.command import workerArguments, workerCommand
from ratchet_tx.workers.service import WorkersService
from ratchet_tx.workers.supervisor import WORKER_ENVIRONMENT
from ratchet_tx.workers.watch import SupervisorWatch

PROTOCOLS = ("websocket", "raw")
DEFAULT_PROTOCOL = "websocket"
DEFAULT_LISTEN = "tcp:8080"
#: Where the built-in demo listens unless told otherwise: loopback only.
DEMO_LISTEN = "tcp:8080:interface=127.0.0.1"
DEFAULT_APP = "ratchet_tx.examples.chat:Chat"

#: The L{Settings} fields whose options are written by hand below, with
#: their flags: none of them is one value on one flag (repeatable lists,
#: a flag for C{True} where the field also has C{None}, a DeflatePolicy).
HANDWRITTEN_SETTINGS = {
    "versions": "disable-version",
    "subprotocols": "subprotocol",
    "origins": "origin",
    "blocked": "block",
    "secure": "secure-location",
    "deflate": "no-deflate",
}

_SETTINGS_OPTIONS = cli.fieldOptions(Settings, handwritten=HANDWRITTEN_SETTINGS)
_FLOW_OPTIONS = cli.fieldOptions(FlowControl)
_GENERATED = _SETTINGS_OPTIONS + _FLOW_OPTIONS
_WINDOW_BITS = cli.windowBitsBothWays()


class Options(usage.Options):
    """Options of C{twistd ratchet}."""

    synopsis = "[options]"
    longdesc = (
        "Serve a ratchet_tx application over WebSocket (every version, one "
        "port) or plain TCP.  With no --app, --static or --mount, serves the "
        "built-in chat demo, on 127.0.0.1:8080 unless --listen says otherwise: "
        "a web page at / and its WebSocket at /ws."
    )

    optParameters = [
        [
            "app",
            "a",
            None,
            "The application, as MODULE:NAME: an IApplication provider, or a "
            "class or zero-argument factory that makes one.  MODULE is imported "
            "with the current folder first on sys.path.  Served at every path, "
            "or at --path when a web site is served too.",
        ],
        [
            "static",
            None,
            None,
            "Serve the files of this folder at /, and the --app WebSocket "
            "application at --path, on the same port.",
            lambda folder: cli.parseFolder("static", folder),
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
            "access-log",
            None,
            None,
            "Write a line for each connection when it ends (address, version, "
            "path, sub-protocol, duration, messages in and out, close code and "
            "reason) to this file, appending; - for standard output.",
        ],
        [
            "flash-policy-port",
            None,
            None,
            "Serve the Flash socket policy (for web-socket-js pages) on this "
            "port, such as 843, or endpoint, such as tcp:843:interface=192.0.2.1; "
            "the WebSocket ports then answer policy requests too. It allows "
            "the --listen ports, from every --flash-policy-domain. Default: off.",
        ],
        [
            "hub",
            None,
            "local",
            "Where the channels of the hub commands (Subscribe, Publish) live: "
            "'local' (this process) or redis://host:port/db, which joins every "
            "process given the same URL.",
            cli.parseHub,
        ],
        [
            "shutdown-timeout",
            None,
            5.0,
            "Seconds to wait for clients to close when the server stops.",
            cli.numberParser("shutdown-timeout", float, allowZero=True),
        ],
        [
            "workers",
            None,
            1,
            "Serve from this many processes on the same port (tcp: listeners, "
            "SO_REUSEPORT); a worker that dies is restarted.  More than 1 needs "
            "--hub redis://...",
            cli.numberParser("workers", int, allowZero=False),
        ],
        *(option.definition() for option in _GENERATED if not option.isFlag),
        [
            "deflate-window-bits",
            None,
            _WINDOW_BITS[1],
            f"The largest LZ77 window ({_WINDOW_BITS[0]}-{_WINDOW_BITS[1]}) "
            "permessage-deflate may use either way; smaller saves memory with "
            "context takeover.",
            cli.rangeParser("deflate-window-bits", *_WINDOW_BITS),
        ],
        [
            "deflate-min-size",
            None,
            DEFAULT_DEFLATE.minSize,
            "Send messages shorter than this many bytes uncompressed.",
            cli.sizeParser("deflate-min-size", allowZero=True),
        ],
    ]

    optFlags = [
        *(option.definition() for option in _GENERATED if option.isFlag),
        [
            "secure-location",
            None,
            "Tell Hixie-76/75 clients their location is wss:// even on plain "
            "TCP (behind a TLS-terminating proxy).",
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
        [
            "no-keep-large-blocks",
            None,
            "Leave glibc's malloc as it is: by default the server has it keep "
            "freed blocks of up to 32 MiB for reuse (up to 128 MiB of them), "
            "so that large messages cost no page faults.",
        ],
    ]

    optParameters += [
        [
            "session",
            None,
            None,
            "Give the application the web site's session (conn.session), read "
            "from its store: php+redis://HOST:PORT/DB, django-cache+redis://..."
            "?allowPickle=yes, flask-session+redis://..., json+redis://..."
            "?prefix=P, django-signed-cookie, flask-cookie or starlette-cookie "
            "(see the docs' Sessions and authentication).",
        ],
        [
            "session-secret-file",
            None,
            None,
            "A file whose first line is the web framework's secret key, for the "
            "signed-cookie stores (else the environment variable "
            "RATCHET_SESSION_SECRET; never on the command line).",
        ],
    ]
    optFlags += [
        [
            "session-required",
            None,
            "With --session: refuse sockets without a valid session (401), "
            "and with 503 while its store cannot be reached.",
        ],
    ]

    compData = usage.Completions(optActions={"protocol": usage.CompleteList(PROTOCOLS)})

    def __init__(self) -> None:
        super().__init__()
        # Option texts as single-spaced paragraphs, however their source
        # lines are indented: --help wraps them itself.
        self.docs = {name: " ".join((doc or "").split()) for name, doc in self.docs.items()}
        self["listen"] = []
        self["mounts"] = []
        self["origins"] = []
        self["subprotocols"] = []
        self["disabled-versions"] = []
        self["blocked"] = []
        self["flash-policy-domains"] = []

    def parseOptions(self, options: list[str] | None = None) -> None:
        """
        Parse C{options}.  Under twistd (a parent command) a usage error
        ends the program with the error and a hint on stderr: twistd itself
        would print the whole C{--help} text first, on stdout.

        @raise usage.UsageError: on a usage error, without a parent.
        """
        self.arguments = list(sys.argv[1:] if options is None else options)
        try:
            super().parseOptions(options)
        except usage.UsageError as error:
            if self.parent is None:
                raise
            raise cli.usageErrorExit(error) from None

    def opt_listen(self, description: str) -> None:
        """
        A Twisted server endpoint to listen on, e.g. tcp:8080,
        tcp:8080:interface=127.0.0.1, ssl:8443:privateKey=key.pem:certKey=cert.pem,
        unix:/run/chat.sock, systemd:domain=INET:index=0.  Repeatable
        (default: tcp:8080; the demo: tcp:8080:interface=127.0.0.1).
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
        """
        Accept handshakes only from this Origin, such as https://example.com
        (repeatable; default: any); others get 403.
        """
        self["origins"].append(cli.parseOrigin(origin))

    def opt_subprotocol(self, name: str) -> None:
        """
        A WebSocket sub-protocol the application speaks (repeatable; default:
        the application's subprotocols); the client's order of preference
        decides.
        """
        self["subprotocols"].append(name)

    def opt_flash_policy_domain(self, domain: str) -> None:
        """
        A domain whose pages the Flash policy lets connect, such as
        example.com, or ``*.example.com`` for it and its subdomains
        (repeatable; default: every domain).
        """
        self["flash-policy-domains"].append(domain)

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
        if self["protocol"] not in PROTOCOLS:
            raise usage.UsageError(
                f"--protocol must be one of {', '.join(PROTOCOLS)}, not {self['protocol']!r}"
            )
        raw = self["protocol"] == "raw"
        demo = not raw and not (self["app"] or self["static"] or self["mounts"])
        if not self["listen"]:
            self["listen"] = [DEMO_LISTEN if demo else DEFAULT_LISTEN]
        for description in self["listen"]:
            cli.checkEndpoint(description)
        if self["workers"] > 1:
            checkWorkers(self["listen"], self.get("hub"))
        if not self["path"].startswith("/"):
            raise usage.UsageError(f"--path must start with /, not {self['path']!r}")
        if raw and (self["static"] or self["mounts"]):
            raise usage.UsageError("--static and --mount need --protocol websocket")
        self._buildSettings()
        self._buildFlashPolicy()
        self["session-store"] = self._sessionStoreMaker()
        if self["app"] or self["mounts"]:
            cli.currentFolderFirst()
        if raw:
            self["application"] = cli.loadApplication(self["app"] or DEFAULT_APP)
        else:
            self["application"] = cli.loadApplication(self["app"]) if self["app"] else None
        self["mounted"] = [(path, cli.loadApplication(spec)) for path, spec in self["mounts"]]
        self["site"] = bool(self["static"] or self["mounts"] or self["application"] is None)
        accessLog = self["access-log"]
        self["accessLog"] = None if accessLog is None else cli.openAccessLog(accessLog)

    def _sessionStoreMaker(self) -> Any:
        """What makes the --session store, checked now; C{None} without one."""
        if self["session"] is None:
            if self["session-required"] or self["session-secret-file"]:
                raise usage.UsageError(
                    "--session-required and --session-secret-file need --session"
                )
            return None
        try:
            secret = readSecret(self["session-secret-file"], os.environ)
            return parseSessionSpec(self["session"], secret)
        except SessionSpecError as e:
            raise usage.UsageError(str(e)) from None

    def _buildSettings(self) -> None:
        """Set C{self["websocket"]} and C{self["flow"]} from the options."""
        values = cli.fieldValues(self, _GENERATED)
        for option in _GENERATED:
            self[option.flag] = values[option.field]
        versions = ALL_VERSIONS - frozenset(self["disabled-versions"])
        if not versions:
            raise usage.UsageError("--disable-version: every WebSocket version is disabled")
        fields = {f.name for f in dataclasses.fields(Settings)}
        settings = {name: value for name, value in values.items() if name in fields}
        try:
            self["websocket"] = Settings.build(
                versions=versions,
                origins=self["origins"] or None,
                blocked=self["blocked"],
                secure=True if self["secure-location"] else None,
                deflate=self._deflatePolicy(),
                **({"subprotocols": self["subprotocols"]} if self["subprotocols"] else {}),
                **settings,
            )
            self["flow"] = FlowControl(
                **{name: value for name, value in values.items() if name not in fields}
            )
        except ValueError as e:
            raise usage.UsageError(cli.namingFlags(str(e), _GENERATED)) from None

    def _buildFlashPolicy(self) -> None:
        """Set C{self["flash-policy"]} (or C{None}) and its listener's description."""
        self["flash-policy"] = None
        where = self["flash-policy-port"]
        if where is None:
            if self["flash-policy-domains"]:
                raise usage.UsageError("--flash-policy-domain needs --flash-policy-port")
            return
        self["flash-policy-listen"] = f"tcp:{where}" if where.isdigit() else where
        try:
            cli.checkEndpoint(self["flash-policy-listen"])
        except usage.UsageError as e:
            message = str(e).removeprefix("--listen ")
            raise usage.UsageError(f"--flash-policy-port {message}") from None
        ports = [cli.listeningPort(d) for d in self["listen"]]
        allowed = sorted({port for port in ports if port is not None})
        if not allowed:
            raise usage.UsageError(
                "--flash-policy-port: no --listen port to allow (it needs a tcp: or "
                "ssl: port number)"
            )
        try:
            self["flash-policy"] = FlashPolicy.build(
                allowed, self["flash-policy-domains"] or (ANY_DOMAIN,)
            )
        except ValueError as e:
            raise usage.UsageError(f"--flash-policy-domain: {e}") from None

    def _deflatePolicy(self) -> DeflatePolicy:
        if self["no-deflate"]:
            return NO_DEFLATE
        takeover = self["deflate-context-takeover"]
        return replace(
            DEFAULT_DEFLATE,
            serverNoContextTakeover=not takeover,
            clientNoContextTakeover=not takeover,
            serverMaxWindowBits=self["deflate-window-bits"],
            clientMaxWindowBits=self["deflate-window-bits"],
            minSize=self["deflate-min-size"],
        )

    def layerFor(self, app: IApplication) -> WebSocket:
        """
        C{app} in a WebSocket layer with these options' settings (and in a
        session layer inside it, with C{--session}).
        """
        settings = self["websocket"]
        store = self.sessionStore()
        if store is not None:
            app = SessionProvider(app, store, required=self["session-required"])
        if not self["subprotocols"]:
            settings = replace(settings, subprotocols=tuple(getattr(app, "subprotocols", ())))
        return WebSocket(app, settings=settings, flashPolicy=self["flash-policy"])


    def sessionStore(self) -> Any:
        """The --session store, made once (its Redis client connects then)."""
        maker = self.get("session-store")
        if maker is None:
            return None
        if "session-store-made" not in self:
            from twisted.internet import reactor

            self["session-store-made"] = maker(reactor)
        return self["session-store-made"]


def _spansProcesses(hub: object) -> bool:
    """Whether the C{--hub} value is one that joins several processes."""
    if isinstance(hub, str):
        return hub.startswith(("redis://", "rediss://", "unix://"))
    return hub is not None and type(hub).__name__ != "LocalHub"


def checkWorkers(listen: list[str], hub: object) -> None:
    """
    Refuse C{--workers} above 1 where it cannot work: with the local hub
    (each worker would be a world of its own), on listeners other than
    C{tcp:}, or without C{SO_REUSEPORT}.

    @raise usage.UsageError: with the reason, in one line.
    """
    from ratchet_tx.transport.endpoint import REUSE_PORT_SUPPORTED
    from ratchet_tx.workers.listen import checkShareable

    if not _spansProcesses(hub):
        raise usage.UsageError(
            "--workers above 1 needs a hub that spans processes (--hub redis://HOST:PORT/DB): "
            "with the local hub each worker's channels stay in that worker"
        )
    if not REUSE_PORT_SUPPORTED:
        raise usage.UsageError("--workers above 1 needs SO_REUSEPORT and Twisted 26.10 or later")
    for description in listen:
        try:
            checkShareable(description)
        except ValueError as e:
            raise usage.UsageError(f"--listen {description}: {e}") from None


def makeService(options: Options) -> Any:
    """Build the service C{twistd ratchet} runs from its C{options}."""
    from twisted.internet import reactor

    if options["workers"] > 1:
        return _workersService(options, reactor)
    if os.environ.get(WORKER_ENVIRONMENT):
        service = MultiService()
        _singleService(options, reactor).setServiceParent(service)
        SupervisorWatch(reactor).setServiceParent(service)
        return service
    return _singleService(options, reactor)


def _workersService(options: Options, reactor: Any) -> WorkersService:
    parent = options.parent
    reactorName = parent.get("reactor") if parent is not None else None
    subCommand = getattr(parent, "subCommand", None) or "ratchet"

    def command(listen: list[str]) -> list[str]:
        arguments = workerArguments(options, options.arguments, listen)
        return workerCommand(subCommand, arguments, reactorName)

    return WorkersService(
        options["listen"],
        options["workers"],
        command,
        reactor,
        shutdownTimeout=options["shutdown-timeout"],
        listenFailed=cli.listenFailed,
    )


def _singleService(options: Options, reactor: Any) -> cli.CommandLineService:
    if not options["no-keep-large-blocks"]:
        keepLargeBlocks()
    flow = options["flow"]
    app = options["application"]
    hub = cli.makeHub(options["hub"], reactor)
    useHub(hub)
    # After the listeners stopped and the clients closed, so that their
    # goodbyes (presence) still reach Redis.
    reactor.addSystemEventTrigger("during", "shutdown", hub.close)
    servers: list[Server]
    factory: Any
    if options["protocol"] == "raw":
        factory = Server(app, flow=flow)
        servers = [factory]
    elif not options["site"]:
        factory = Server(options.layerFor(app), flow=flow)
        servers = [factory]
    else:
        root: Resource
        servers = []
        if options["static"]:
            root = StaticFiles(options["static"])
        elif not options["mounted"] and app is None:
            from ratchet_tx.demo import demoResource

            root, chat = demoResource(hub, settings=options["websocket"], flow=flow)
            servers.append(chat.serverFactory)
        else:
            root = Resource()
        mounts = list(options["mounted"])
        if app is not None:
            mounts.append((options["path"], app))
        factory, mounted = cli.buildSite(root, mounts, options.layerFor, flow)
        servers += mounted
    accessLog = options["accessLog"]
    if accessLog is not None:
        for server in servers:
            server.accessLog = accessLog
    alsoListen = []
    if options["flash-policy"] is not None:
        policy = FlashPolicyFactory(options["flash-policy"], reactor=reactor)
        alsoListen.append((options["flash-policy-listen"], policy))
    service = cli.CommandLineService(
        factory,
        options["listen"],
        reactor,
        shutdownTimeout=options["shutdown-timeout"],
        servers=servers,
        alsoListen=alsoListen,
    )
    client = getattr(options.sessionStore(), "client", None)
    if IService.providedBy(client):
        client.setServiceParent(service)  # closed at shutdown
    return service
