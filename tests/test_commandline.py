"""
Tests for L{ratchet_tx.commandline}: the values, applications, endpoints,
generated options, site and listening service of C{twistd ratchet}.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from enum import Enum
from unittest import mock

from twisted.internet.defer import fail
from twisted.internet.endpoints import _SystemdParser
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IStreamServerEndpoint
from twisted.internet.testing import MemoryReactor
from twisted.python import usage
from twisted.python.systemd import ListenFDs
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from zope.interface import implementer

from ratchet_tx import commandline as cli
from ratchet_tx.examples.echo import Echo
from ratchet_tx.flow import FlowControl
from ratchet_tx.server import Server
from ratchet_tx.web import WebSocketResource
from ratchet_tx.websocket import Settings, WebSocket


class SizeTests(SynchronousTestCase):
    def test_plainAndSuffixed(self) -> None:
        for text, size in [
            ("65536", 65536),
            ("64K", 65536),
            ("64k", 65536),
            ("64KB", 65536),
            ("64KiB", 65536),
            ("16M", 16 * 1024**2),
            ("1G", 1024**3),
            (" 2M ", 2 * 1024**2),
        ]:
            self.assertEqual(cli.parseSize("max-message-size", text), size, text)

    def test_notASize(self) -> None:
        for text in ("lots", "", "1.5M", "M", "16T"):
            error = self.assertRaises(usage.UsageError, cli.parseSize, "max-message-size", text)
            self.assertIn("--max-message-size", str(error))
            self.assertIn(repr(text), str(error))
            self.assertIn("64K", str(error))

    def test_zero(self) -> None:
        error = self.assertRaises(usage.UsageError, cli.parseSize, "max-message-size", "0")
        self.assertIn("more than 0", str(error))
        self.assertEqual(cli.parseSize("deflate-min-size", "0", allowZero=True), 0)

    def test_negative(self) -> None:
        self.assertRaises(usage.UsageError, cli.parseSize, "x", "-1K", allowZero=True)

    def test_formatRoundTrips(self) -> None:
        for size in (1, 1000, 1024, 16384, 65536, 1024**2, 3 * 1024**3, 1025):
            self.assertEqual(cli.parseSize("x", cli.formatSize(size)), size)
        self.assertEqual(cli.formatSize(1024**2), "1M")
        self.assertEqual(cli.formatSize(64 * 1024), "64K")
        self.assertEqual(cli.formatSize(1025), "1025")


class NumberTests(SynchronousTestCase):
    def test_seconds(self) -> None:
        parse = cli.numberParser("close-timeout", float, allowZero=False)
        self.assertEqual(parse("2.5"), 2.5)
        for text in ("0", "-1", "soon", "nan", "inf"):
            error = self.assertRaises(usage.UsageError, parse, text)
            self.assertEqual(
                str(error),
                f"--close-timeout takes a number of seconds, more than 0, not {text!r}",
            )

    def test_zeroAllowed(self) -> None:
        parse = cli.numberParser("trusted-proxies", int, allowZero=True)
        self.assertEqual(parse("0"), 0)
        self.assertEqual(parse("2"), 2)
        error = self.assertRaises(usage.UsageError, parse, "1.5")
        self.assertIn("a whole number, 0 or more", str(error))

    def test_zeroMeansNone(self) -> None:
        parse = cli.numberParser("ping-interval", float, allowZero=False, zeroMeans="never")
        self.assertIsNone(parse("0"))
        self.assertEqual(parse("30"), 30.0)
        error = self.assertRaises(usage.UsageError, parse, "-5")
        self.assertIn("0 or more (0: never)", str(error))


class RangeTests(SynchronousTestCase):
    def test_range(self) -> None:
        parse = cli.rangeParser("deflate-window-bits", 9, 15)
        self.assertEqual([parse("9"), parse("15")], [9, 15])
        for text in ("8", "16", "x", "9.5"):
            error = self.assertRaises(usage.UsageError, parse, text)
            self.assertEqual(
                str(error), f"--deflate-window-bits takes a whole number from 9 to 15, not {text!r}"
            )

    def test_windowBitsBothWays(self) -> None:
        """The server may compress with 8 bits, the client not: 9 to 15 both ways."""
        self.assertEqual(cli.windowBitsBothWays(), (9, 15))


class Colour(Enum):
    RED = "red"
    GREEN = "green"


class ChoiceTests(SynchronousTestCase):
    def test_choice(self) -> None:
        parse = cli.choiceParser("colour", Colour)
        self.assertIs(parse("green"), Colour.GREEN)
        error = self.assertRaises(usage.UsageError, parse, "blue")
        self.assertEqual(str(error), "--colour takes one of red, green, not 'blue'")


class OriginTests(SynchronousTestCase):
    def test_origins(self) -> None:
        for origin in (
            "https://example.com",
            "http://localhost:8080",
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
            "chrome-extension://abcdef",
        ):
            self.assertEqual(cli.parseOrigin(origin), origin)

    def test_notOrigins(self) -> None:
        for text in (
            "not-a-url",
            "example.com",
            "https://",
            "https://example.com/",
            "https://example.com/chat",
            "https://example.com?x",
            "https://example.com#x",
            "https://user@example.com",
            "http://localhost:port",
            "",
        ):
            error = self.assertRaises(usage.UsageError, cli.parseOrigin, text)
            self.assertIn("--origin", str(error))
            self.assertIn(repr(text), str(error))


class FolderTests(SynchronousTestCase):
    def test_folder(self) -> None:
        folder = tempfile.mkdtemp(prefix="ratchet-folder-")
        self.addCleanup(shutil.rmtree, folder)
        self.assertEqual(cli.parseFolder("static", folder), folder)

    def test_missing(self) -> None:
        error = self.assertRaises(usage.UsageError, cli.parseFolder, "static", "/nonexistent")
        self.assertEqual(str(error), "--static /nonexistent: no such folder")

    def test_file(self) -> None:
        error = self.assertRaises(usage.UsageError, cli.parseFolder, "static", __file__)
        self.assertIn("is not a folder", str(error))


class CurrentFolderFirstTests(SynchronousTestCase):
    def test_putsTheCurrentFolderFirst(self) -> None:
        path = ["/usr/lib/python3", os.getcwd()]
        cli.currentFolderFirst(path)
        self.assertEqual(path, [os.getcwd(), "/usr/lib/python3", os.getcwd()])

    def test_alreadyFirst(self) -> None:
        for first in (os.getcwd(), ""):
            path = [first, "/usr/lib/python3"]
            cli.currentFolderFirst(path)
            self.assertEqual(path, [first, "/usr/lib/python3"])


class EndpointTests(SynchronousTestCase):
    def test_fine(self) -> None:
        cli.checkEndpoint("tcp:8080:interface=127.0.0.1")
        cli.checkEndpoint("unix:/tmp/ratchet.sock")

    def test_tlsExtrasMissing(self) -> None:
        """An ImportError of Twisted's TLS dependencies says what to install."""
        missing = ModuleNotFoundError("No module named 'OpenSSL'", name="OpenSSL")
        with mock.patch.object(cli, "serverFromString", side_effect=missing):
            error = self.assertRaises(usage.UsageError, cli.checkEndpoint, "ssl:8443")
        self.assertIn("--listen ssl:8443", str(error))
        self.assertIn(cli.TLS_INSTALL_HINT, str(error))

    def test_systemdWithoutASocket(self) -> None:
        """Outside systemd, a systemd: endpoint says why it cannot be used."""
        self.patch(_SystemdParser, "_sddaemon", ListenFDs([]))
        description = "systemd:domain=INET:index=0"
        error = self.assertRaises(usage.UsageError, cli.checkEndpoint, description)
        self.assertIn("LISTEN_FDS", str(error))
        self.assertNotIn("IndexError", str(error))

    def test_systemdWithASocket(self) -> None:
        self.patch(_SystemdParser, "_sddaemon", ListenFDs([3], ("chat.socket",)))
        cli.checkEndpoint("systemd:domain=INET:index=0")

    def test_otherImportError(self) -> None:
        missing = ModuleNotFoundError("No module named 'systemd'", name="systemd")
        with mock.patch.object(cli, "serverFromString", side_effect=missing):
            error = self.assertRaises(usage.UsageError, cli.checkEndpoint, "systemd:index=0")
        self.assertNotIn("tls", str(error))
        self.assertIn("systemd", str(error))


@dataclass(frozen=True)
class Knobs:
    """
    A settings dataclass of every kind of field.

    @ivar loud: turn it up (see C{volume}).
    @ivar volume: how loud, in C{decibels}.
    @ivar buffer: bytes to keep.
    @ivar delay: seconds to wait; C{None}: never.
    @ivar limit: the most; C{None}: no limit.
    @ivar retries: how often to retry.
    @ivar colour: the L{Colour}.
    @ivar listed: handwritten elsewhere.
    """

    loud: bool = False
    volume: int = 11
    buffer: int = field(default=65536, metadata={"unit": "bytes"})
    delay: float | None = 2.5
    limit: int | None = None
    retries: int = 0
    colour: Colour = Colour.RED
    listed: tuple[str, ...] = ()


class FieldOptionTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.options = {
            option.field: option for option in cli.fieldOptions(Knobs, {"listed": "item"})
        }

    def test_everyFieldButTheHandwritten(self) -> None:
        self.assertEqual(
            list(self.options), ["loud", "volume", "buffer", "delay", "limit", "retries", "colour"]
        )

    def test_flagNames(self) -> None:
        self.assertEqual(cli.flagName("maxConnectionsPerAddress"), "max-connections-per-address")
        self.assertEqual(self.options["loud"].flag, "loud")

    def test_boolIsAFlag(self) -> None:
        loud = self.options["loud"]
        self.assertTrue(loud.isFlag)
        self.assertEqual(loud.definition(), ["loud", None, "Turn it up (see --volume)."])

    def test_int(self) -> None:
        volume = self.options["volume"]
        self.assertEqual(volume.default, "11")
        self.assertEqual(volume.help, "How loud, in decibels.")
        assert volume.parse is not None
        self.assertEqual(volume.parse("3"), 3)
        self.assertRaises(usage.UsageError, volume.parse, "0")

    def test_bytes(self) -> None:
        buffer = self.options["buffer"]
        self.assertEqual(buffer.default, "64K")
        self.assertIn("Suffixes K, M, G", buffer.help)
        assert buffer.parse is not None
        self.assertEqual(buffer.parse("1M"), 1024**2)

    def test_optionalZeroIsNone(self) -> None:
        delay, limit = self.options["delay"], self.options["limit"]
        self.assertEqual(delay.help, "Seconds to wait; 0: never.")
        self.assertEqual(delay.default, "2.5")
        self.assertIsNone(limit.default)
        assert delay.parse is not None and limit.parse is not None
        self.assertIsNone(delay.parse("0"))
        self.assertIsNone(limit.parse("0"))
        self.assertIn("0: no limit", str(self.assertRaises(usage.UsageError, limit.parse, "-1")))

    def test_zeroDefaultAllowsZero(self) -> None:
        retries = self.options["retries"]
        assert retries.parse is not None
        self.assertEqual(retries.parse("0"), 0)

    def test_enum(self) -> None:
        colour = self.options["colour"]
        self.assertEqual(colour.default, "red")
        self.assertIn("One of: red, green.", colour.help)
        assert colour.parse is not None
        self.assertIs(colour.parse("green"), Colour.GREEN)

    def test_valuesParseDefaults(self) -> None:
        generated = list(self.options.values())
        parsed = {"loud": 1, "volume": 3, "buffer": "64K", "delay": None}
        parsed.update({"limit": None, "retries": "0", "colour": Colour.GREEN})
        self.assertEqual(
            cli.fieldValues(parsed, generated),
            {
                "loud": True,
                "volume": 3,
                "buffer": 65536,
                "delay": None,
                "limit": None,
                "retries": 0,
                "colour": Colour.GREEN,
            },
        )

    def test_unknownTypeIsRefused(self) -> None:
        """A field no rule covers must be handwritten: it cannot be forgotten."""
        error = self.assertRaises(TypeError, cli.fieldOptions, Knobs)
        self.assertIn("Knobs.listed", str(error))

    def test_undocumentedFieldIsRefused(self) -> None:
        @dataclass
        class Undocumented:
            """Nothing about C{x}."""

            x: int = 1

        error = self.assertRaises(TypeError, cli.fieldOptions, Undocumented)
        self.assertIn("Undocumented.x", str(error))
        self.assertIn("@ivar", str(error))

    def test_handwrittenMustExist(self) -> None:
        self.assertRaises(TypeError, cli.fieldOptions, Knobs, {"listed": "l", "nosuch": "n"})


class RealSettingsTests(SynchronousTestCase):
    """The generated options agree with the dataclasses they come from."""

    def test_defaultsParseToTheFieldDefaults(self) -> None:
        for cls, handwritten in [
            (Settings, {"versions", "subprotocols", "origins", "blocked", "secure", "deflate"}),
            (FlowControl, set()),
        ]:
            defaults = cls()
            for option in cli.fieldOptions(cls, dict.fromkeys(handwritten, "x")):
                (value,) = cli.fieldValues({option.flag: option.default}, [option]).values()
                self.assertEqual(value, getattr(defaults, option.field), option.flag)

    def test_acceptsWhatTheSettingsAccept(self) -> None:
        """
        For -1, 0 and 1, an option accepts a value exactly when the field
        does (0 given to an optional field being None).
        """
        handwritten = dict.fromkeys(
            ("versions", "subprotocols", "origins", "blocked", "secure", "deflate"), "x"
        )
        for cls, fields in [(Settings, handwritten), (FlowControl, {})]:
            for option in cli.fieldOptions(cls, fields):
                if option.parse is None or option.field == "slowConsumer":
                    continue
                for text in ("-1", "0", "1"):
                    try:
                        value = option.parse(text)
                    except usage.UsageError:
                        parsed, value = False, int(text)
                    else:
                        parsed = True
                    base = {"highWaterMark": 1, "maxBuffered": 1} if cls is FlowControl else {}
                    try:
                        cls(**{**base, option.field: value})
                    except ValueError:
                        accepted = False
                    else:
                        accepted = True
                    self.assertEqual(parsed, accepted, f"--{option.flag} {text}")


@implementer(IStreamServerEndpoint)
class BusyEndpoint:
    def listen(self, factory: object):
        return fail(CannotListenError("127.0.0.1", 8080, OSError(98, "Address already in use")))


class CommandLineServiceTests(SynchronousTestCase):
    def service(self, *descriptions: str) -> cli.CommandLineService:
        return cli.CommandLineService(Server(Echo()), descriptions, MemoryReactor())

    def test_oneListenerPerDescription(self) -> None:
        service = self.service("tcp:8080", "tcp:8081:interface=127.0.0.1")
        self.assertEqual(len(list(service)), 2)
        self.assertEqual(service.descriptions, ["tcp:8080", "tcp:8081:interface=127.0.0.1"])

    def test_listensWhenStarted(self) -> None:
        reactor = MemoryReactor()
        service = cli.CommandLineService(Server(Echo()), ["tcp:8080"], reactor)
        self.assertEqual(reactor.tcpServers, [])
        service.privilegedStartService()
        service.startService()
        self.assertEqual([port for port, *_ in reactor.tcpServers], [8080])

    def test_portInUse(self) -> None:
        """
        A port that cannot be bound raises L{ListenFailed} naming the
        description; left uncaught, it prints as one line on stderr.
        """
        service = self.service("tcp:8080")
        (listener,) = service
        listener.endpoint = BusyEndpoint()
        self.addCleanup(setattr, sys, "excepthook", sys.excepthook)
        error = self.assertRaises(cli.ListenFailed, service.startService)
        self.assertEqual(str(error), "tcp:8080: address already in use")
        self.assertEqual(len(self.flushLoggedErrors()), 0)
        stderr = io.StringIO()
        with mock.patch.object(sys, "__stderr__", stderr):
            sys.excepthook(cli.ListenFailed, error, None)
        self.assertEqual(
            stderr.getvalue(), "twistd ratchet: cannot listen on tcp:8080: address already in use\n"
        )

    def test_otherExceptionsKeepTheirTraceback(self) -> None:
        service = self.service("tcp:8080")
        (listener,) = service
        listener.endpoint = BusyEndpoint()
        previous = mock.Mock()
        self.patch(sys, "excepthook", previous)
        self.assertRaises(cli.ListenFailed, service.startService)
        error = ValueError("x")
        sys.excepthook(ValueError, error, None)
        previous.assert_called_once_with(ValueError, error, None)


class NamingFlagsTests(SynchronousTestCase):
    def test_fieldsBecomeFlags(self) -> None:
        generated = cli.fieldOptions(FlowControl)
        message = cli.namingFlags("maxBuffered must be at least highWaterMark", generated)
        self.assertEqual(message, "--max-buffered must be at least --high-water-mark")


class UsageErrorExitTests(SynchronousTestCase):
    def test_errorThenHint(self) -> None:
        exit = cli.usageErrorExit(usage.UsageError("--colour takes one of red, green"))
        self.assertEqual(
            str(exit).splitlines(),
            [
                "twistd ratchet: --colour takes one of red, green",
                "Run 'twistd ratchet --help' for every option and its default.",
            ],
        )


class SiteTests(SynchronousTestCase):
    def test_mountsAtTheirPaths(self) -> None:
        root = Resource()
        echo, other = Echo(), Echo()
        site, servers = cli.buildSite(
            root, [("/ws", echo), ("/rooms/lobby", other)], WebSocket, FlowControl()
        )
        self.assertIs(site.resource, root)
        ws = root.children[b"ws"]
        lobby = root.children[b"rooms"].children[b"lobby"]
        self.assertIsInstance(ws, WebSocketResource)
        self.assertIs(ws.layer.app, echo)
        self.assertIs(lobby.layer.app, other)
        self.assertEqual(servers, [ws.serverFactory, lobby.serverFactory])

    def test_sharedParent(self) -> None:
        root = Resource()
        cli.buildSite(root, [("/a/b", Echo()), ("/a/c", Echo())], WebSocket, FlowControl())
        self.assertEqual(sorted(root.children[b"a"].children), [b"b", b"c"])
