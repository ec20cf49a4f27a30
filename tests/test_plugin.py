"""
Tests for the C{twistd ratchet} plugin (C{twisted/plugins/ratchet_plugin.py}):
Twisted finds it, it is cheap to import, and C{twistd ratchet} explains
itself and refuses bad options in one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from twisted.application.service import IServiceMaker
from twisted.plugin import getPlugins
from twisted.trial.unittest import SynchronousTestCase

import twisted.plugins
from ratchet_tx import tap
from tests.support.twistd import (
    REPO_ROOT,
    TwistdProcess,
    connect,
    recvUntil,
    runTwistd,
    twistdEnvironment,
)

PLUGIN_DIR = REPO_ROOT / "twisted" / "plugins"
PLUGIN_FILE = PLUGIN_DIR / "ratchet_plugin.py"


def ratchetPlugins() -> list[IServiceMaker]:
    return [p for p in getPlugins(IServiceMaker) if p.tapname == "ratchet"]


def importInFreshInterpreter(code: str) -> dict[str, object]:
    """
    Run C{code} in a new interpreter with the checkout on C{PYTHONPATH}, then
    report which of the interesting modules it imported.
    """
    script = textwrap.dedent(code) + textwrap.dedent(
        """
        import json, sys
        print(json.dumps({
            "reactor": "twisted.internet.reactor" in sys.modules,
            "ratchet_tx": sorted(m for m in sys.modules
                                 if m == "ratchet_tx" or m.startswith("ratchet_tx.")),
        }))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=twistdEnvironment(),
        cwd=str(REPO_ROOT.parent),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise AssertionError(f"the import failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


class LayoutTests(SynchronousTestCase):
    def test_pluginFileExists(self) -> None:
        self.assertTrue(PLUGIN_FILE.is_file())

    def test_noPackageInitInTwisted(self) -> None:
        """
        twisted/ and twisted/plugins/ are not packages of ours: an __init__.py
        there would shadow Twisted itself (and break plugin discovery).
        """
        self.assertFalse((REPO_ROOT / "twisted" / "__init__.py").exists())
        self.assertFalse((PLUGIN_DIR / "__init__.py").exists())


class DiscoveryTests(SynchronousTestCase):
    def test_sourceTreePluginFolderIsSearched(self) -> None:
        self.assertIn(str(PLUGIN_DIR), twisted.plugins.__path__)

    def test_getPluginsFindsRatchet(self) -> None:
        self.assertTrue(ratchetPlugins(), "no 'ratchet' IServiceMaker plugin found")

    def test_pluginRunsTheTapModule(self) -> None:
        plugin = ratchetPlugins()[0]
        self.assertIs(plugin.options, tap.Options)
        self.assertIs(plugin.makeService, tap.makeService)

    def test_pluginDescribesItself(self) -> None:
        self.assertIn("ratchet_tx", ratchetPlugins()[0].description)


class ImportCostTests(SynchronousTestCase):
    """
    Twisted imports every plugin module whenever it lists plugins, and the
    reactor must stay uninstalled until twistd picks one (--reactor).
    """

    def test_pluginDoesNotImportTheReactor(self) -> None:
        imported = importInFreshInterpreter(f"import runpy; runpy.run_path({str(PLUGIN_FILE)!r})")
        self.assertFalse(imported["reactor"])

    def test_pluginDoesNotImportRatchetTx(self) -> None:
        imported = importInFreshInterpreter(f"import runpy; runpy.run_path({str(PLUGIN_FILE)!r})")
        self.assertEqual(imported["ratchet_tx"], [])

    def test_pluginImportedByNameDoesNotImportTheReactor(self) -> None:
        imported = importInFreshInterpreter("import twisted.plugins.ratchet_plugin")
        self.assertFalse(imported["reactor"])

    def test_libraryDoesNotImportTheReactor(self) -> None:
        """A program can import ratchet_tx first and install its reactor after."""
        imported = importInFreshInterpreter(
            "import ratchet_tx, ratchet_tx.tap, ratchet_tx.examples.chat, ratchet_tx.examples.echo"
        )
        self.assertFalse(imported["reactor"])


class TwistdCommandTests(SynchronousTestCase):
    """C{twistd} itself, run in a subprocess with the checkout on PYTHONPATH."""

    def assertOneLineError(
        self, args: tuple[str, ...], *fragments: str, env: dict[str, str] | None = None
    ) -> str:
        """
        C{twistd -n ratchet <args>} exits with 1, printing nothing on stdout
        (no usage text) and, on stderr, the error first, in one line that
        mentions every fragment, then the hint to run C{twistd ratchet
        --help}; no traceback.  Returns the error line.
        """
        done = runTwistd("-n", "--pidfile=", "ratchet", *args, env=env, separateStderr=True)
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertEqual(done.stdout, "")
        lines = done.stderr.splitlines()
        self.assertEqual(len(lines), 2, f"not an error line and a hint:\n{done.stderr}")
        error, hint = lines
        self.assertTrue(error.startswith("twistd ratchet: "), error)
        for fragment in fragments:
            self.assertIn(fragment, error)
        self.assertIn("twistd ratchet --help", hint)
        return error

    def test_twistdListsRatchet(self) -> None:
        done = runTwistd("--help")
        self.assertEqual(done.returncode, 0, done.stdout)
        self.assertRegex(done.stdout, r"(?m)^\s+ratchet\s+\S")

    def test_ratchetHelpDocumentsEveryOption(self) -> None:
        done = runTwistd("ratchet", "--help")
        self.assertEqual(done.returncode, 0, done.stdout)
        for option in ("--app=", "--listen=", "--protocol=", "--shutdown-timeout="):
            self.assertIn(option, done.stdout)
        self.assertIn("MODULE:NAME", done.stdout)
        self.assertIn("raw", done.stdout)

    def test_helpSaysTheCurrentFolderComesFirst(self) -> None:
        done = runTwistd("ratchet", "--help")
        self.assertIn("current folder first on sys.path", " ".join(done.stdout.split()))

    def test_missingAppModule(self) -> None:
        self.assertOneLineError(("--protocol", "raw", "--app", "nosuch:thing"), "nosuch")

    def test_missingAppAttribute(self) -> None:
        self.assertOneLineError(
            ("--protocol", "raw", "--app", "ratchet_tx.examples.chat:Nope"), "Nope"
        )

    def test_unknownProtocol(self) -> None:
        self.assertOneLineError(("--protocol", "carrier-pigeon"), "carrier-pigeon", "raw")

    def test_unknownOption(self) -> None:
        self.assertOneLineError(("--protocol", "raw", "--colour=blue"), "--colour")

    def test_unknownEndpointType(self) -> None:
        # Regression: --listen used to be parsed only in makeService, after
        # option parsing, so a bad one ended twistd with a traceback.
        self.assertOneLineError(
            ("--protocol", "raw", "--listen", "carrier-pigeon:9000"), "carrier-pigeon"
        )

    def test_malformedTcpEndpoint(self) -> None:
        # Regression: as test_unknownEndpointType (int("notaport") raised).
        self.assertOneLineError(("--protocol", "raw", "--listen", "tcp:notaport"), "notaport")

    def test_slowConsumerNotAPolicy(self) -> None:
        # Regression: "'maybe' is not a valid SlowConsumer", after the usage.
        self.assertOneLineError(
            ("--slow-consumer", "maybe"), "--slow-consumer", "'maybe'", "queue, drop, close"
        )

    def test_negativePingInterval(self) -> None:
        # Regression: "pingInterval must be positive or None", while --help
        # said 0 means never.
        self.assertOneLineError(("--ping-interval", "-5"), "--ping-interval", "'-5'", "0: never")

    def test_deflateWindowBitsOutOfRange(self) -> None:
        # Regression: "serverMaxWindowBits must be an int from 8 to 15", where
        # the flag takes 9 to 15 (it sets the client's window too).
        self.assertOneLineError(("--deflate-window-bits", "20"), "--deflate-window-bits", "9 to 15")

    def test_handshakeTimeoutNotANumber(self) -> None:
        # Regression: "Parameter type enforcement failed".
        self.assertOneLineError(
            ("--handshake-timeout", "abc"), "--handshake-timeout", "'abc'", "seconds"
        )

    def test_sizeNotASize(self) -> None:
        self.assertOneLineError(("--max-message-size", "lots"), "--max-message-size", "16M")

    def test_staticFolderMissing(self) -> None:
        # Regression: twistd started and served 404s.
        self.assertOneLineError(("--static", "/nonexistent"), "--static /nonexistent")

    def test_originNotAnOrigin(self) -> None:
        # Regression: accepted, then every browser was refused with 403.
        self.assertOneLineError(
            ("--origin", "not-a-url"), "--origin", "'not-a-url'", "https://example.com"
        )

    def test_tlsEndpointWithoutTheTlsExtras(self) -> None:
        """
        An ssl: endpoint where pyOpenSSL is missing (here hidden behind a
        package that fails to import, as a missing one does) says what to
        install, not ModuleNotFoundError.
        """
        with tempfile.TemporaryDirectory(prefix="ratchet-no-tls-") as folder:
            package = Path(folder, "OpenSSL")
            package.mkdir()
            (package / "__init__.py").write_text(
                "raise ModuleNotFoundError(\"No module named 'OpenSSL'\", name='OpenSSL')\n"
            )
            env = twistdEnvironment()
            env["PYTHONPATH"] = os.pathsep.join([folder, env["PYTHONPATH"]])
            self.assertOneLineError(
                ("--listen", "ssl:8443:privateKey=key.pem:certKey=cert.pem"),
                "--listen ssl:8443",
                "pip install 'ratchet_tx[tls]'",
                "pip install '.[tls]'",
                env=env,
            )


#: An application in a module of its own, as a user writes it.
MYCHAT = """
from zope.interface import implementer
from ratchet_tx import IApplication, SendMessage

@implementer(IApplication)
class Chat:
    def onOpen(self, conn):
        pass

    def onMessage(self, conn, message):
        return SendMessage(conn, b"mychat: " + message)

    def onClose(self, conn):
        pass

    def onError(self, conn, failure):
        pass
"""


class CurrentFolderTests(SynchronousTestCase):
    def test_appFromTheCurrentFolder(self) -> None:
        """
        C{--app mychat:Chat} run from the folder holding C{mychat.py} serves
        it (twistd itself does not put the current folder on sys.path).
        """
        with TwistdProcess.start(
            "--protocol", "raw", "--app", "mychat:Chat", files={"mychat.py": MYCHAT}
        ) as proc:
            with connect(proc.port) as client:
                client.sendall(b"hello")
                self.assertEqual(recvUntil(client, b"mychat: hello"), b"mychat: hello")
