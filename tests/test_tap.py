"""
Tests for L{ratchet_tx.tap} (the options of C{twistd ratchet} and the service
they build) and L{ratchet_tx.service} (closing clients when it stops).  The
pieces the options are made of are tested in L{tests.test_commandline}.

The protocol is always given explicitly (C{--protocol raw}): the default will
become C{websocket}, and these tests must not depend on it.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import sys
import tempfile
import textwrap
from pathlib import Path

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import MultiService
from twisted.internet.defer import fail, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.internet.task import Clock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from ratchet_tx import tap
from ratchet_tx.examples.chat import Chat
from ratchet_tx.examples.echo import Echo
from ratchet_tx.flow import FlowControl, SlowConsumer
from ratchet_tx.interfaces import IApplication
from ratchet_tx.server import Server
from ratchet_tx.service import ServerService
from ratchet_tx.tap import PROTOCOLS, Options, makeService
from ratchet_tx.web import StaticFiles
from ratchet_tx.websocket import Settings
from tests.support import apps
from tests.support.apps import RecordingApplication, StubbornTransport, connectTo

RAW = ("--protocol", "raw")


def parse(*args: str) -> Options:
    options = Options()
    options.parseOptions(list(args))
    return options


class UsageErrorAssertions(SynchronousTestCase):
    def assertUsageError(self, args: tuple[str, ...], *fragments: str) -> str:
        """
        Parsing C{args} fails with a one-line usage error mentioning every
        fragment; returns the message.
        """
        error = self.assertRaises(usage.UsageError, parse, *args)
        message = str(error)
        self.assertEqual(len(message.splitlines()), 1, f"not one line: {message!r}")
        for fragment in fragments:
            self.assertIn(fragment, message)
        return message


class ListenOptionTests(UsageErrorAssertions):
    def test_defaultListen(self) -> None:
        self.assertEqual(parse(*RAW)["listen"], ["tcp:8080"])

    def test_listenIsRepeatableAndKeepsOrder(self) -> None:
        options = parse(
            *RAW, "--listen", "tcp:9000", "--listen", "unix:/tmp/chat.sock", "--listen=tcp:9001"
        )
        self.assertEqual(options["listen"], ["tcp:9000", "unix:/tmp/chat.sock", "tcp:9001"])

    def test_shortListen(self) -> None:
        self.assertEqual(parse(*RAW, "-l", "tcp:9000")["listen"], ["tcp:9000"])

    def test_givenListenReplacesTheDefault(self) -> None:
        self.assertNotIn("tcp:8080", parse(*RAW, "--listen", "tcp:9000")["listen"])

    def test_listenDoesNotLeakBetweenParses(self) -> None:
        parse(*RAW, "--listen", "tcp:9000")
        self.assertEqual(parse(*RAW)["listen"], ["tcp:8080"])

    def test_unknownEndpointType(self) -> None:
        # Regression: --listen used to be parsed only in makeService, whose
        # ValueError twistd showed as a traceback (see tests/test_plugin.py).
        self.assertUsageError((*RAW, "--listen", "carrier-pigeon:9000"), "carrier-pigeon")

    def test_malformedTcpEndpoint(self) -> None:
        # Regression: as test_unknownEndpointType.
        self.assertUsageError((*RAW, "--listen", "tcp:notaport"), "notaport")


class ProtocolOptionTests(UsageErrorAssertions):
    def test_raw(self) -> None:
        self.assertEqual(parse("--protocol", "raw")["protocol"], "raw")

    def test_shortProtocol(self) -> None:
        self.assertEqual(parse("-p", "raw")["protocol"], "raw")

    def test_defaultIsAKnownProtocol(self) -> None:
        self.assertIn(parse()["protocol"], PROTOCOLS)

    def test_unknownProtocol(self) -> None:
        self.assertUsageError(("--protocol", "carrier-pigeon"), "carrier-pigeon", "raw")


class ShutdownTimeoutOptionTests(UsageErrorAssertions):
    def test_seconds(self) -> None:
        self.assertEqual(parse(*RAW, "--shutdown-timeout", "2.5")["shutdown-timeout"], 2.5)

    def test_zeroMeansAbortAtOnce(self) -> None:
        self.assertEqual(parse(*RAW, "--shutdown-timeout", "0")["shutdown-timeout"], 0.0)

    def test_defaultIsPositive(self) -> None:
        self.assertGreater(parse(*RAW)["shutdown-timeout"], 0)

    def test_negative(self) -> None:
        self.assertUsageError((*RAW, "--shutdown-timeout", "-1"), "--shutdown-timeout")

    def test_notANumber(self) -> None:
        self.assertUsageError((*RAW, "--shutdown-timeout", "soon"), "soon")


class UnknownOptionTests(UsageErrorAssertions):
    def test_unknownOption(self) -> None:
        self.assertUsageError((*RAW, "--colour", "blue"), "colour")


class AppOptionTests(UsageErrorAssertions):
    def app(self, spec: str) -> object:
        return parse(*RAW, "--app", spec)["application"]

    def test_defaultIsAnApplication(self) -> None:
        self.assertTrue(IApplication.providedBy(parse(*RAW)["application"]))

    def test_class(self) -> None:
        self.assertIsInstance(self.app("ratchet_tx.examples.chat:Chat"), Chat)

    def test_classGivesAFreshInstanceEachTime(self) -> None:
        spec = "ratchet_tx.examples.chat:Chat"
        self.assertIsNot(self.app(spec), self.app(spec))

    def test_shortApp(self) -> None:
        options = parse(*RAW, "-a", "ratchet_tx.examples.echo:Echo")
        self.assertIsInstance(options["application"], Echo)

    def test_factory(self) -> None:
        self.assertIsInstance(self.app("tests.support.apps:makeEcho"), Echo)

    def test_instance(self) -> None:
        self.assertIs(self.app("tests.support.apps:echoInstance"), apps.echoInstance)

    def test_dottedName(self) -> None:
        self.assertIsInstance(self.app("tests.support.apps:Namespace.Echo"), Echo)

    def test_missingModule(self) -> None:
        self.assertUsageError((*RAW, "--app", "nosuch.module:App"), "nosuch")

    def test_missingAttribute(self) -> None:
        self.assertUsageError((*RAW, "--app", "ratchet_tx.examples.chat:Nope"), "Nope")

    def test_notAnApp(self) -> None:
        self.assertUsageError((*RAW, "--app", "tests.support.apps:notAnApp"), "notAnApp")

    def test_factoryMakingSomethingElse(self) -> None:
        self.assertUsageError(
            (*RAW, "--app", "tests.support.apps:makesNothing"), "makesNothing", "IApplication"
        )

    def test_factoryThatRaises(self) -> None:
        """Even an error message of two lines gives a one-line usage error."""
        self.assertUsageError(
            (*RAW, "--app", "tests.support.apps:explodingFactory"),
            "explodingFactory",
            "the database is down",
        )

    def test_factoryNeedingArguments(self) -> None:
        self.assertUsageError(
            (*RAW, "--app", "ratchet_tx.server:Server"), "ratchet_tx.server:Server"
        )

    def test_notModuleColonName(self) -> None:
        for spec in ("ratchet_tx.examples.chat", "ratchet_tx.examples.chat:", ":Chat"):
            self.assertUsageError((*RAW, "--app", spec), "MODULE:NAME")

    def makeModule(self, name: str, source: str) -> None:
        """Write module C{name} into a directory on C{sys.path} for this test."""
        directory = tempfile.mkdtemp(prefix="ratchet-app-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        Path(directory, f"{name}.py").write_text(textwrap.dedent(source))
        sys.path.insert(0, directory)
        self.addCleanup(sys.path.remove, directory)
        self.addCleanup(sys.modules.pop, name, None)

    def test_moduleWithASyntaxError(self) -> None:
        self.makeModule("ratchet_test_syntax_error", "def broken(:\n")
        self.assertUsageError(
            (*RAW, "--app", "ratchet_test_syntax_error:App"), "ratchet_test_syntax_error"
        )

    def test_moduleFailingToImportWithAMultiLineMessage(self) -> None:
        """
        An import that fails with a message of several lines (as some C
        extensions' do, numpy's among them) still gives a one-line usage error.
        """
        # Regression: loadApplication used to put str(e) in the message,
        # newlines included, so twistd printed a two-line error.
        self.makeModule(
            "ratchet_test_import_error",
            """
            raise ImportError("libfoo.so.1: cannot open shared object file\\n"
                              "hint: apt-get install libfoo1")
            """,
        )
        self.assertUsageError(
            (*RAW, "--app", "ratchet_test_import_error:App"), "ratchet_test_import_error", "libfoo"
        )


class MakeServiceTests(SynchronousTestCase):
    def test_multiServiceWithOneListenerPerListen(self) -> None:
        options = parse(
            *RAW, "--listen", "tcp:0:interface=127.0.0.1", "--listen", "unix:/tmp/ratchet-test.sock"
        )
        service = makeService(options)
        self.assertIsInstance(service, MultiService)
        listeners = list(service)
        self.assertEqual(len(listeners), 2)
        for listener in listeners:
            self.assertIsInstance(listener, StreamServerEndpointService)

    def test_oneListenerByDefault(self) -> None:
        self.assertEqual(len(list(makeService(parse(*RAW)))), 1)

    def test_everyListenerServesTheSameServer(self) -> None:
        options = parse(*RAW, "--listen", "tcp:0", "--listen", "tcp:0")
        service = makeService(options)
        (factory,) = {listener.factory for listener in service}
        self.assertIsInstance(factory, Server)

    def test_rawServesTheApplicationItself(self) -> None:
        options = parse(*RAW, "--app", "tests.support.apps:echoInstance")
        (listener,) = makeService(options)
        self.assertIs(listener.factory.app, apps.echoInstance)

    def test_shutdownTimeoutIsPassedOn(self) -> None:
        service = makeService(parse(*RAW, "--shutdown-timeout", "7"))
        self.assertEqual(service.shutdownTimeout, 7.0)

    def test_doesNotListenUntilStarted(self) -> None:
        """twistd binds the ports (maybe as root) when it starts the service."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        service = makeService(parse(*RAW, "--listen", f"tcp:{port}:interface=127.0.0.1"))
        self.assertFalse(service.running)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))  # would fail if makeService had bound it


@implementer(IListeningPort)
class FakePort:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def startListening(self) -> None:
        pass

    def stopListening(self) -> None:
        self.events.append("stopped listening")

    def getHost(self) -> None:
        return None


@implementer(IStreamServerEndpoint)
class FakeEndpoint:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def listen(self, factory: Server):
        self.events.append("listening")
        return succeed(FakePort(self.events))


@implementer(IStreamServerEndpoint)
class BusyEndpoint:
    def listen(self, factory: Server):
        return fail(CannotListenError("127.0.0.1", 8080, OSError("address in use")))


class ServerServiceTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.events: list[str] = []
        self.clock = Clock()
        self.app = RecordingApplication(
            onClose=lambda conn: self.events.append(f"closed #{conn.id}")
        )
        self.server = Server(self.app)
        self.service = ServerService(
            self.server,
            [FakeEndpoint(self.events), FakeEndpoint(self.events)],
            shutdownTimeout=3,
            clock=self.clock,
        )

    def test_listensOnEveryEndpoint(self) -> None:
        self.service.startService()
        self.assertEqual(self.events, ["listening", "listening"])

    def test_stopClosesEveryClientAfterListeningStops(self) -> None:
        self.service.startService()
        a, _ = connectTo(self.server)
        b, _ = connectTo(self.server)
        self.successResultOf(self.service.stopService())
        self.assertEqual(self.events[:4], ["listening"] * 2 + ["stopped listening"] * 2)
        closed = sorted([f"closed #{a.connection.id}", f"closed #{b.connection.id}"])
        self.assertEqual(sorted(self.events[4:]), closed)
        self.assertEqual(self.server.protocols, set())

    def test_stopWaitsForClientsUpToTheShutdownTimeout(self) -> None:
        self.service.startService()
        slow, transport = connectTo(self.server, StubbornTransport())
        stopped = self.service.stopService()
        self.clock.advance(2.9)
        self.assertNoResult(stopped)
        self.clock.advance(0.1)
        self.assertTrue(transport.aborted)
        self.successResultOf(stopped)
        self.assertEqual(self.events[-1], f"closed #{slow.connection.id}")

    def test_stopWithNoClients(self) -> None:
        self.service.startService()
        self.successResultOf(self.service.stopService())

    def test_portInUseStopsTheStart(self) -> None:
        """A port that cannot be bound fails startService (and so twistd) loudly."""
        service = ServerService(Server(Echo()), [BusyEndpoint()], clock=self.clock)
        self.assertRaises(CannotListenError, service.startService)


class DemoListenTests(SynchronousTestCase):
    def test_demoListensOnLoopback(self) -> None:
        """The demo, with no --listen, is on 127.0.0.1 only."""
        self.assertEqual(parse()["listen"], ["tcp:8080:interface=127.0.0.1"])

    def test_demoListensWhereTold(self) -> None:
        self.assertEqual(parse("--listen", "tcp:9000")["listen"], ["tcp:9000"])

    def test_anApplicationListensOnEveryInterface(self) -> None:
        options = parse("--app", "ratchet_tx.examples.echo:Echo")
        self.assertEqual(options["listen"], ["tcp:8080"])


class GeneratedOptionTests(UsageErrorAssertions):
    """The options generated from the fields of Settings and FlowControl."""

    def test_everySettingHasAnOption(self) -> None:
        generated = {option.field for option in tap._SETTINGS_OPTIONS}
        fields = {f.name for f in dataclasses.fields(Settings) if f.init}
        self.assertEqual(generated | set(tap.HANDWRITTEN_SETTINGS), fields)
        self.assertEqual(generated & set(tap.HANDWRITTEN_SETTINGS), set())

    def test_handwrittenOptionsExist(self) -> None:
        """Each handwritten field names a real flag (its help texts refer to it)."""
        options = Options()
        for flag in tap.HANDWRITTEN_SETTINGS.values():
            self.assertIn(flag, options.synonyms)

    def test_defaultsAreTheSettingsDefaults(self) -> None:
        options = parse()
        self.assertEqual(options["websocket"], Settings())
        self.assertEqual(options["flow"], FlowControl())

    def test_valuesReachTheSettings(self) -> None:
        settings = parse(
            "--max-message-size",
            "4M",
            "--max-handshake-size",
            "8K",
            "--handshake-timeout",
            "2.5",
            "--ping-interval",
            "0",
            "--hixie-idle-timeout",
            "60",
            "--max-connections",
            "100",
            "--trusted-proxies",
            "1",
            "--origin",
            "https://example.com",
            "--require-origin",
        )["websocket"]
        self.assertEqual(settings.maxMessageSize, 4 * 1024**2)
        self.assertIsNone(settings.maxFrameSize, "the frame limit follows the message limit")
        self.assertEqual(settings.maxHandshakeSize, 8 * 1024)
        self.assertEqual(settings.handshakeTimeout, 2.5)
        self.assertIsNone(settings.pingInterval)
        self.assertEqual(settings.hixieIdleTimeout, 60.0)
        self.assertEqual(settings.maxConnections, 100)
        self.assertEqual(settings.trustedProxies, 1)
        self.assertEqual(settings.origins, frozenset({"https://example.com"}))
        self.assertTrue(settings.requireOrigin)

    def test_frameSizeOfItsOwn(self) -> None:
        settings = parse("--max-frame-size", "64K")["websocket"]
        self.assertEqual(settings.maxFrameSize, 65536)
        self.assertEqual(settings.maxMessageSize, Settings().maxMessageSize)

    def test_flowValues(self) -> None:
        flow = parse("--slow-consumer", "drop", "--high-water-mark", "1M", "--max-buffered", "8M")[
            "flow"
        ]
        self.assertEqual(
            flow, FlowControl(1024**2, 8 * 1024**2, slowConsumer=SlowConsumer.DROP)
        )

    def test_parsedValuesAreStored(self) -> None:
        """Every generated option holds its parsed value, given or not."""
        options = parse("--max-message-size", "2M")
        self.assertEqual(options["max-message-size"], 2 * 1024**2)
        self.assertEqual(options["max-handshake-size"], Settings().maxHandshakeSize)
        self.assertIs(options["slow-consumer"], SlowConsumer.QUEUE)

    def test_settingsErrorNamesTheFlags(self) -> None:
        message = self.assertUsageError(("--high-water-mark", "8M"), "--max-buffered")
        self.assertIn("--high-water-mark", message)
        self.assertNotIn("highWaterMark", message)

    def test_badValues(self) -> None:
        for args, fragments in [
            (("--slow-consumer", "maybe"), ("--slow-consumer", "queue, drop, close")),
            (("--ping-interval", "-5"), ("--ping-interval", "0: never")),
            (("--handshake-timeout", "abc"), ("--handshake-timeout", "'abc'")),
            (("--max-connections", "-1"), ("--max-connections", "'-1'")),
            (("--deflate-window-bits", "20"), ("--deflate-window-bits", "9 to 15")),
            (("--deflate-window-bits", "8"), ("--deflate-window-bits", "9 to 15")),
            (("--deflate-min-size", "-1"), ("--deflate-min-size",)),
            (("--origin", "not-a-url"), ("--origin", "'not-a-url'")),
            (("--static", "/nonexistent"), ("--static /nonexistent",)),
        ]:
            self.assertUsageError(args, *fragments)

    def test_windowBitsEdges(self) -> None:
        for bits in (9, 15):
            deflate = parse("--deflate-window-bits", str(bits))["websocket"].deflate
            windows = (deflate.serverMaxWindowBits, deflate.clientMaxWindowBits)
            self.assertEqual(windows, (bits, bits))


class UnderTwistdTests(SynchronousTestCase):
    """Parsed as twistd's sub-command (with a parent), errors end the program."""

    def test_usageErrorExits(self) -> None:
        options = Options()
        options.parent = usage.Options()
        exit = self.assertRaises(SystemExit, options.parseOptions, ["--ping-interval", "-5"])
        first, hint = str(exit).splitlines()
        self.assertTrue(first.startswith("twistd ratchet: --ping-interval"), first)
        self.assertIn("twistd ratchet --help", hint)

    def test_withoutParentRaises(self) -> None:
        self.assertRaises(usage.UsageError, Options().parseOptions, ["--ping-interval", "-5"])


class StaticSiteTests(SynchronousTestCase):
    def test_staticFolderIsServed(self) -> None:
        folder = tempfile.mkdtemp(prefix="ratchet-static-")
        self.addCleanup(shutil.rmtree, folder, ignore_errors=True)
        options = parse("--static", folder, "--app", "ratchet_tx.examples.echo:Echo")
        (listener,) = makeService(options)
        root = listener.factory.resource
        self.assertIsInstance(root, StaticFiles)
        self.assertEqual(root.path, folder)
        self.assertNotIn(b"content-security-policy", root.headers)
        self.assertIn(b"ws", root.children)
