# -*- test-case-name: tests.test_commandline -*-
"""
What C{twistd ratchet}'s options are made of (L{ratchet_tx.tap} holds only
the options and C{makeService}): values such as sizes and seconds, the
application named by C{MODULE:NAME}, endpoint descriptions checked before
twistd starts, options generated from the settings dataclasses, the web
site, and the service that listens.

Options generated from a dataclass
==================================

L{fieldOptions} turns the fields of a settings dataclass
(L{ratchet_tx.websocket.Settings}, L{ratchet_tx.flow.FlowControl}) into
options, so that a new setting cannot be forgotten on the command line: the
flag is the field's name in kebab case (C{maxMessageSize} becomes
C{--max-message-size}), the default is the field's, and the help is the
field's C{@ivar} documentation.  The field's type decides what the option
takes::

    field type                         command line
    ---------------------------------  ------------------------------------
    bool (default False)               a flag
    int                                a whole number
    int with metadata {"unit": "bytes"}  a size: 65536, 64K, 16M, 1G
    float                              a number of seconds
    int | None, float | None           the same, and 0 means None
    an Enum                            one of its values

A number must be more than 0, or 0 or more when the default is 0.  A field
of any other type (or one without documentation) makes L{fieldOptions}
raise, so whoever adds it either gives it one of these types or writes its
option by hand and names it in C{handwritten}.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import re
import sys
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import Enum
from typing import Any, Union, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

from twisted.application.internet import StreamServerEndpointService
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IProtocolFactory, IReactorCore
from twisted.logger import Logger
from twisted.python import usage
from twisted.web.resource import Resource
from twisted.web.server import Site

from ratchet_tx.accesslog import AccessLog
from ratchet_tx.flow import FlowControl
from ratchet_tx.interfaces import IApplication
from ratchet_tx.server import Server
from ratchet_tx.service import ServerService
from ratchet_tx.transport import serverFromString
from ratchet_tx.web import WebSocketResource
from ratchet_tx.websocket.codecs.deflate import MAX_WINDOW_BITS, MIN_WINDOW_BITS, DeflatePolicy
from ratchet_tx.websocket.layer import WebSocket

log = Logger()

#: The command, as error messages and hints name it.
COMMAND = "twistd ratchet"

#: What follows every usage error.
HELP_HINT = f"Run '{COMMAND} --help' for every option and its default."

#: How the Twisted TLS extras are installed, for an installed package and
#: from a checkout.
TLS_INSTALL_HINT = "pip install 'ratchet_tx[tls]' (from a checkout: pip install '.[tls]')"

#: The modules Twisted's TLS needs (its C{tls} extra).
_TLS_MODULES = frozenset({"OpenSSL", "service_identity", "cryptography", "idna"})

_SIZE_SUFFIXES = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}

_ZERO_MEANS_NONE = re.compile(r"C\{None\}:?\s*([^.;]+)")


# Values.


def _rejected(flag: str, takes: str, value: object) -> usage.UsageError:
    return usage.UsageError(f"--{flag} takes {takes}, not {value!r}")


def parseSize(option: str, value: object, allowZero: bool = False) -> int:
    """
    Parse a byte count such as C{65536}, C{64K}, C{16M} or C{1G} (a C{B},
    C{KB} or C{KiB} spelling is accepted too).

    @param option: the option's name without dashes, for the message.
    @raise usage.UsageError: if C{value} is not a size, or not more than 0
        (0 or more with C{allowZero}).
    """
    bound = "0 or more" if allowZero else "more than 0"
    takes = f"a size in bytes such as 65536, 64K or 16M ({bound})"
    text = str(value).strip().upper().removesuffix("B").removesuffix("I")
    number, suffix = text, ""
    if text and text[-1] in "KMG":
        number, suffix = text[:-1], text[-1]
    try:
        size = int(number) * _SIZE_SUFFIXES[suffix]
    except ValueError:
        raise _rejected(option, takes, value) from None
    if size < 0 or (size == 0 and not allowZero):
        raise _rejected(option, takes, value)
    return size


def formatSize(size: int) -> str:
    """C{size} bytes the way L{parseSize} reads them, shortest first: C{1M}, C{64K}."""
    for suffix in ("G", "M", "K"):
        unit = _SIZE_SUFFIXES[suffix]
        if size and size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


def numberParser(
    option: str, kind: type[int] | type[float], allowZero: bool, zeroMeans: str | None = None
) -> Callable[[str], Any]:
    """
    The parser of a numeric option: whole numbers (C{int}) or seconds
    (C{float}), for L{twisted.python.usage.Options}' C{optParameters}.

    @param allowZero: whether 0 is accepted.
    @param zeroMeans: if given, 0 is accepted and parses as C{None}; this
        says what that means ("never", "no limit").
    @return: a callable parsing one command-line value, raising
        L{usage.UsageError} with the option's name and what it takes.
    """
    noun = "a whole number" if kind is int else "a number of seconds"
    if zeroMeans is not None:
        takes = f"{noun}, 0 or more (0: {zeroMeans})"
    else:
        takes = f"{noun}, {'0 or more' if allowZero else 'more than 0'}"

    def parse(value: str) -> Any:
        number = _number(kind, option, takes, value)
        if number == 0 and zeroMeans is not None:
            return None
        if number < 0 or (number == 0 and not allowZero):
            raise _rejected(option, takes, value)
        return number

    return parse


def _number(kind: type[int] | type[float], option: str, takes: str, value: str) -> float:
    """C{value} as a finite C{kind}, or the usage error saying what C{option} takes."""
    try:
        number = kind(value)
    except ValueError:
        raise _rejected(option, takes, value) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise _rejected(option, takes, value)
    return number


def sizeParser(
    option: str, allowZero: bool = False, zeroMeansNone: bool = False
) -> Callable[[str], int | None]:
    """
    The parser of a size option, as L{numberParser} for numbers.

    @param zeroMeansNone: 0 is accepted and parses as C{None} (the field's
        own default, e.g. "the message limit" for the frame limit).
    """

    def parse(value: str) -> int | None:
        size = parseSize(option, value, allowZero or zeroMeansNone)
        return None if size == 0 and zeroMeansNone else size

    return parse


def rangeParser(option: str, low: int, high: int) -> Callable[[str], int]:
    """The parser of an option that takes a whole number from C{low} to C{high}."""
    takes = f"a whole number from {low} to {high}"

    def parse(value: str) -> int:
        number = int(_number(int, option, takes, value))
        if not low <= number <= high:
            raise _rejected(option, takes, value)
        return number

    return parse


def windowBitsBothWays() -> tuple[int, int]:
    """
    The permessage-deflate windows (as base-2 logarithms, lowest and highest)
    that a L{DeflatePolicy} accepts for the server and the client at once,
    as one C{--deflate-window-bits} sets them.
    """
    allowed = []
    for bits in range(MIN_WINDOW_BITS, MAX_WINDOW_BITS + 1):
        try:
            DeflatePolicy(serverMaxWindowBits=bits, clientMaxWindowBits=bits)
        except ValueError:
            continue
        allowed.append(bits)
    return min(allowed), max(allowed)


def choiceParser(option: str, choices: type[Enum]) -> Callable[[str], Enum]:
    """The parser of an option that takes one of the values of C{choices}."""
    takes = "one of " + ", ".join(str(member.value) for member in choices)

    def parse(value: str) -> Enum:
        try:
            return choices(value)
        except ValueError:
            raise _rejected(option, takes, value) from None

    return parse


def parseOrigin(origin: str) -> str:
    """
    Check that C{origin} is what a browser sends in C{Origin}: a scheme, a
    host and maybe a port, with no path (not even C{/}).

    @raise usage.UsageError: if it is not.
    """
    takes = "an origin such as https://example.com or http://localhost:8080"
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018  # raises for a port that is not a number
    except ValueError:
        raise _rejected("origin", takes, origin) from None
    if not parts.scheme or not parts.hostname or "@" in parts.netloc:
        raise _rejected("origin", takes, origin)
    if parts.path or parts.query or parts.fragment or origin.endswith(("?", "#")):
        raise _rejected("origin", takes + " (no path, not even a trailing /)", origin)
    return origin


def parseFolder(option: str, folder: str) -> str:
    """
    Check that C{folder} is a directory.

    @raise usage.UsageError: if it is not.
    """
    if not os.path.isdir(folder):
        what = "is not a folder" if os.path.exists(folder) else "no such folder"
        raise usage.UsageError(f"--{option} {folder}: {what}")
    return folder


# Applications.


def currentFolderFirst(path: list[str] | None = None) -> None:
    """
    Put the current folder first on C{sys.path} (or C{path}), so that
    C{--app mychat:Chat} finds the C{mychat.py} beside the user, as
    gunicorn and uvicorn do.  twistd itself no longer does it.
    """
    if path is None:
        path = sys.path
    here = os.getcwd()
    if path[:1] not in ([here], [""]):
        path.insert(0, here)


def openAccessLog(path: str) -> AccessLog:
    """
    The L{AccessLog} of C{--access-log}: C{path} opened for appending, one
    line at a time, or standard output for C{-}.

    @raise usage.UsageError: the file cannot be opened.
    """
    if path == "-":
        return AccessLog(sys.stdout)
    try:
        out = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - lives as long as the server
    except OSError as e:
        raise usage.UsageError(f"--access-log {path}: {e.strerror or e}") from None
    return AccessLog(out)


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
        raise usage.UsageError(f"--app: cannot import {moduleName}: {oneLine(e)}") from None
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
            raise usage.UsageError(f"--app: {spec}() failed: {oneLine(e)}") from None
    if not IApplication.providedBy(target):
        raise usage.UsageError(
            f"--app: {spec} does not provide IApplication "
            "(declare it with @implementer(IApplication))"
        )
    return target


def oneLine(error: BaseException) -> str:
    """An exception as one line, C{Type: message}: a usage error is one line."""
    text = " ".join(str(error).split()) or type(error).__name__
    return f"{type(error).__name__}: {text}"


# Endpoints.


def listeningPort(description: str) -> int | None:
    """
    The port number a C{tcp:} or C{ssl:} endpoint description listens on
    (C{None} for others, and for port 0).
    """
    kind, _, rest = description.partition(":")
    if kind not in ("tcp", "ssl"):
        return None
    positional = [p for p in rest.split(":") if p and "=" not in p]
    named = dict(p.split("=", 1) for p in rest.split(":") if "=" in p)
    text = named.get("port", positional[0] if positional else "")
    return int(text) if text.isdigit() and int(text) > 0 else None


def checkEndpoint(description: str) -> None:
    """
    Parse an endpoint description now, so a typo is a usage error rather
    than a traceback once twistd is running.

    @raise usage.UsageError: if C{description} does not parse, or needs the
        TLS extras and they are not installed.
    """
    try:
        serverFromString(_ParseOnly(), description)
    except ImportError as e:
        if (e.name or "").partition(".")[0] not in _TLS_MODULES:
            raise usage.UsageError(f"--listen {description}: {oneLine(e)}") from None
        raise usage.UsageError(
            f"--listen {description}: TLS needs Twisted's TLS extras ({e.name} is "
            f"missing): {TLS_INSTALL_HINT}"
        ) from None
    except Exception as e:
        if isinstance(e, IndexError) and description.partition(":")[0] == "systemd":
            # Twisted looks the socket up in LISTEN_FDS as it parses.
            raise usage.UsageError(
                f"--listen {description}: systemd passed no such socket (run it from "
                "a systemd .socket unit, which sets LISTEN_FDS)"
            ) from None
        raise usage.UsageError(f"--listen {description}: {oneLine(e)}") from None


class _ParseOnly:
    """Stands in for the reactor while an endpoint is only parsed."""


class ListenFailed(Exception):
    """
    An endpoint of a L{CommandLineService} could not listen; the message
    says which one and why, in one line (short: daemonized, twistd reports
    the first 100 bytes of it to the shell).
    """


class CommandLineService(ServerService):
    """
    The L{ServerService} of C{twistd ratchet}: built from endpoint
    descriptions, and when one cannot listen (a port in use, a port below
    1024 without root) twistd ends with one line naming it on stderr
    instead of a traceback.

    twistd starts a service inside its own C{try}, which removes the pid file
    (and, daemonized, reports the exception's line to the waiting parent)
    before re-raising; the traceback only appears when the exception leaves
    the program.  So this raises L{ListenFailed} as usual, and installs a
    C{sys.excepthook} that prints a L{ListenFailed} that reaches the top as
    its message alone (any other exception goes to the previous hook).

    @ivar descriptions: the endpoint descriptions, in the order of the
        listeners.
    """

    def __init__(
        self,
        factory: IProtocolFactory,
        descriptions: Sequence[str],
        reactor: IReactorCore,
        shutdownTimeout: float = 5.0,
        servers: Iterable[Server] | None = None,
        alsoListen: Sequence[tuple[str, IProtocolFactory]] = (),
    ) -> None:
        """
        @param alsoListen: more listeners, as C{(description, factory)}
            (the Flash policy port).
        """
        self.descriptions = list(descriptions)
        endpoints = [serverFromString(reactor, description) for description in descriptions]
        super().__init__(factory, endpoints, shutdownTimeout=shutdownTimeout, servers=servers)
        for description, other in alsoListen:
            listener = StreamServerEndpointService(serverFromString(reactor, description), other)
            listener._raiseSynchronously = True
            listener.setServiceParent(self)
            self.descriptions.append(description)
        self._listening = False

    def privilegedStartService(self) -> None:
        if self._listening:
            return
        self._listening = True
        # The listeners come first, in the order of the descriptions; what
        # follows them (the session store's Redis client) is no listener.
        children = list(self)
        listeners = children[: len(self.descriptions)]
        for description, listener in zip(self.descriptions, listeners, strict=True):
            try:
                listener.privilegedStartService()
            except CannotListenError as e:
                raise listenFailed(description, e) from None
        for other in children[len(self.descriptions) :]:
            other.privilegedStartService()

    def startService(self) -> None:
        self.privilegedStartService()
        super().startService()


def listenFailed(description: str, error: CannotListenError) -> ListenFailed:
    """
    The L{ListenFailed} for C{description}, logged, and printed as one line
    without a traceback should it end the program.
    """
    failed = ListenFailed(f"{description}: {_reason(error)}")
    log.error("Cannot listen on {failed}", failed=failed)
    _printAtTopWithoutTraceback(ListenFailed, "cannot listen on ")
    return failed


def _reason(error: CannotListenError) -> str:
    cause = error.socketError
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror[:1].lower() + cause.strerror[1:]
    return str(cause)


def _printAtTopWithoutTraceback(exceptionType: type[BaseException], prefix: str) -> None:
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: types.TracebackType | None):
        if isinstance(value, exceptionType):
            # twistd -n has replaced sys.stderr with its log by now.
            print(f"{COMMAND}: {prefix}{value}", file=sys.__stderr__)
        else:
            previous(kind, value, tb)

    sys.excepthook = hook


# Usage errors.


def usageErrorExit(error: usage.UsageError) -> SystemExit:
    """
    The exit for a usage error of C{twistd ratchet}: the error first, in one
    line, then L{HELP_HINT}; Python prints it on stderr and exits with 1
    (twistd's status for usage errors).
    """
    return SystemExit(f"{COMMAND}: {error}\n{HELP_HINT}")


# Options generated from dataclasses.


@dataclasses.dataclass(frozen=True)
class FieldOption:
    """
    A command-line option generated from a field of a settings dataclass.

    @ivar field: the field's name (C{maxMessageSize}).
    @ivar flag: the option's name without dashes (C{max-message-size}).
    @ivar default: the default as C{--help} shows it; a default that is a
        C{str} is parsed like a given value (L{fieldValues} does it).
    @ivar help: the help text.
    @ivar parse: what parses a given value; C{None} for a flag.
    """

    field: str
    flag: str
    default: Any
    help: str
    parse: Callable[[str], Any] | None

    @property
    def isFlag(self) -> bool:
        """Whether this option is a flag (it takes no value)."""
        return self.parse is None

    def definition(self) -> list[Any]:
        """The option as L{usage.Options}' C{optFlags} or C{optParameters} want it."""
        if self.isFlag:
            return [self.flag, None, self.help]
        return [self.flag, None, self.default, self.help, self.parse]


def flagName(fieldName: str) -> str:
    """A field's name as a command-line flag: C{maxMessageSize} -> C{max-message-size}."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", fieldName).lower()


def fieldDocumentation(cls: type) -> dict[str, str]:
    """The C{@ivar} texts of C{cls}'s docstring, each joined into one line."""
    docs: dict[str, str] = {}
    current: str | None = None
    for line in (inspect.getdoc(cls) or "").splitlines():
        start = re.match(r"@ivar (\w+):\s*(.*)", line)
        if start:
            current = start.group(1)
            docs[current] = start.group(2)
        elif current is not None and line.startswith(" ") and line.strip():
            docs[current] += " " + line.strip()
        else:
            current = None
    return docs


def _plainText(epytext: str, flags: Mapping[str, str], noneAsZero: bool) -> str:
    """Epytext as a command line's help: fields named by their flags."""
    if noneAsZero:
        epytext = epytext.replace("C{None}", "0")

    def replace(match: re.Match[str]) -> str:
        name = match.group(2)
        if match.group(1) == "C" and name in flags:
            return f"--{flags[name]}"
        return name

    text = " ".join(re.sub(r"([CLIB])\{([^{}]*)\}", replace, epytext).split())
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _optionalOf(hint: Any) -> tuple[Any, bool]:
    """C{X | None} as C{(X, True)}; any other type as C{(type, False)}."""
    if get_origin(hint) in (Union, types.UnionType):
        args = [arg for arg in get_args(hint) if arg is not type(None)]
        if len(args) == 1 and len(get_args(hint)) == 2:
            return args[0], True
    return hint, False


def fieldOptions(cls: type, handwritten: Mapping[str, str] | None = None) -> list[FieldOption]:
    """
    The options for the fields of the dataclass C{cls}, in field order (see
    the module docstring for the rules).

    @param handwritten: the fields whose options are written by hand
        (several flags for one field, or one that is not one-to-one), with
        the flag that help texts name them by.
    @raise TypeError: for a field that is neither handwritten nor of a type
        these rules cover, or that has no C{@ivar} documentation.
    """
    handwritten = handwritten or {}
    skip = set(handwritten)
    hints = get_type_hints(cls)
    docs = fieldDocumentation(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init and f.name not in skip]
    unknown = skip - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise TypeError(f"{cls.__name__} has no fields {sorted(unknown)}")
    flags = {**handwritten, **{f.name: flagName(f.name) for f in fields}}
    options = []
    for f in fields:
        flag = flags[f.name]
        kind, optional = _optionalOf(hints[f.name])
        doc = docs.get(f.name)
        if not doc:
            raise TypeError(
                f"{cls.__name__}.{f.name} has no @ivar documentation: it is the --{flag} help"
            )
        text = _plainText(doc, flags, noneAsZero=optional)
        default: Any = f.default
        parse: Callable[[str], Any] | None
        if kind is bool and not optional and default is False:
            parse = None
        elif isinstance(kind, type) and issubclass(kind, Enum) and not optional:
            parse = choiceParser(flag, kind)
            values = ", ".join(str(member.value) for member in kind)
            text += f" One of: {values}."
            default = default.value
        elif kind is int and f.metadata.get("unit") == "bytes":
            parse = sizeParser(flag, allowZero=default == 0, zeroMeansNone=optional)
            text += " Suffixes K, M, G."
            default = None if default is None else formatSize(default)
        elif kind in (int, float):
            zeroMeans = None
            if optional:
                found = _ZERO_MEANS_NONE.search(doc)
                zeroMeans = found.group(1).strip() if found else "none"
            parse = numberParser(flag, kind, allowZero=default == 0, zeroMeans=zeroMeans)
            default = None if default is None else _formatNumber(default)
        else:
            raise TypeError(
                f"{cls.__name__}.{f.name} ({hints[f.name]}) has no generated option: give it "
                "a type the rules in ratchet_tx.commandline cover, or write its option by "
                "hand and name it in handwritten"
            )
        options.append(FieldOption(f.name, flag, default, text, parse))
    return options


def namingFlags(message: str, generated: Iterable[FieldOption]) -> str:
    """C{message} (a settings error) with each field named by its flag, as typed."""
    for option in generated:
        message = re.sub(rf"\b{option.field}\b", f"--{option.flag}", message)
    return message


def _formatNumber(number: float) -> str:
    return str(int(number)) if number == int(number) else str(number)


def fieldValues(options: Mapping[str, Any], generated: Iterable[FieldOption]) -> dict[str, Any]:
    """
    The values of the generated options in parsed C{options}, by field name:
    defaults (which the parser never saw) parsed, flags as C{bool}s.
    """
    values = {}
    for option in generated:
        value = options[option.flag]
        if option.isFlag:
            value = bool(value)
        elif isinstance(value, str):
            assert option.parse is not None
            value = option.parse(value)
        values[option.field] = value
    return values


# The web site.


def buildSite(
    root: Resource,
    mounts: Iterable[tuple[str, IApplication]],
    layer: Callable[[IApplication], WebSocket],
    flow: FlowControl,
) -> tuple[Site, list[Server]]:
    """
    A web site: C{root}, with each application of C{mounts} served over
    WebSocket at its path.

    @param mounts: C{(path, application)} pairs; a path such as
        C{/chat/room} makes the intermediate resources it needs.
    @param layer: wraps an application in its WebSocket layer.
    @param flow: the flow control of every mounted application.
    @return: the site, and the L{Server} of every mounted application (whose
        clients to close on shutdown).
    """
    servers = []
    for path, app in mounts:
        resource = WebSocketResource(layer(app), flow=flow)
        putChildAtPath(root, path, resource)
        servers.append(resource.serverFactory)
    return Site(root), servers


def putChildAtPath(root: Resource, path: str, child: Resource) -> None:
    """Put C{child} at C{path} (C{/a/b}) below C{root}, making C{/a} if needed."""
    segments = [segment.encode("utf-8") for segment in path.strip("/").split("/")]
    parent = root
    for segment in segments[:-1]:
        existing = parent.children.get(segment)
        if existing is None:
            existing = Resource()
            parent.putChild(segment, existing)
        parent = existing
    parent.putChild(segments[-1], child)


def parseHub(value: str) -> str:
    """
    Check C{--hub}: C{local}, or a C{redis://} or C{unix://} URL that
    L{ratchet_tx.redis.parseRedisURL} reads.
    """
    if value == "local":
        return value
    from ratchet_tx.redis.url import parseRedisURL

    try:
        parseRedisURL(value)
    except ValueError as e:
        raise usage.UsageError(f"--hub takes 'local' or a redis:// URL: {e}") from None
    return value


def makeHub(value: str, reactor: Any) -> Any:
    """The hub C{--hub} names (see L{parseHub})."""
    from ratchet_tx.hub import LocalHub, RedisHub

    if value == "local":
        return LocalHub()
    return RedisHub(value, reactor=reactor)
