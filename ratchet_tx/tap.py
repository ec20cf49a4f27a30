# -*- test-case-name: tests.test_tap -*-
"""
C{twistd ratchet}: command-line options and the service they build.

    twistd -n ratchet --app mypkg.chat:Chat --listen tcp:8080 --listen ssl:8443:...
"""

from __future__ import annotations

import importlib
from typing import Any

from twisted.internet.endpoints import serverFromString
from twisted.python import usage

from ratchet_tx.interfaces import IApplication
from ratchet_tx.server import Server
from ratchet_tx.service import ServerService

PROTOCOLS = ("raw",)
DEFAULT_PROTOCOL = "raw"
DEFAULT_LISTEN = "tcp:8080"
DEFAULT_APP = "ratchet_tx.examples.chat:Chat"


class Options(usage.Options):
    """Options of C{twistd ratchet}."""

    synopsis = "[options]"
    longdesc = (
        "Serve a ratchet_tx application.  With no --app, serves the built-in "
        "chat example."
    )

    optParameters = [
        [
            "app",
            "a",
            None,
            "The application, as MODULE:NAME: an IApplication provider, or a "
            "class or zero-argument factory that makes one "
            f"(default: {DEFAULT_APP}).",
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
    ]

    def __init__(self) -> None:
        super().__init__()
        self["listen"] = []

    def opt_listen(self, description: str) -> None:
        """
        A Twisted server endpoint to listen on, e.g. tcp:8080,
        tcp:8080:interface=127.0.0.1, ssl:8443:privateKey=key.pem:certKey=cert.pem,
        unix:/run/chat.sock, systemd:domain=INET:index=0.  Repeatable
        (default: tcp:8080).
        """
        self["listen"].append(description)

    opt_l = opt_listen

    def postOptions(self) -> None:
        if not self["listen"]:
            self["listen"] = [DEFAULT_LISTEN]
        if self["protocol"] not in PROTOCOLS:
            raise usage.UsageError(
                f"--protocol must be one of {', '.join(PROTOCOLS)}, not {self['protocol']!r}"
            )
        if self["shutdown-timeout"] < 0:
            raise usage.UsageError("--shutdown-timeout must not be negative")
        self["application"] = loadApplication(self["app"] or DEFAULT_APP)


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
        raise usage.UsageError(f"--app: cannot import {moduleName}: {e}") from None
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
            raise usage.UsageError(f"--app: {spec}() failed: {e!r}") from None
    if not IApplication.providedBy(target):
        raise usage.UsageError(
            f"--app: {spec} does not provide IApplication "
            "(declare it with @implementer(IApplication))"
        )
    return target


def makeService(options: Options) -> ServerService:
    """Build the service C{twistd ratchet} runs from its C{options}."""
    from twisted.internet import reactor

    app: IApplication = options["application"]
    server = Server(app)
    endpoints = [serverFromString(reactor, description) for description in options["listen"]]
    return ServerService(server, endpoints, shutdownTimeout=options["shutdown-timeout"])
