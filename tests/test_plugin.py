"""
Tests for the C{twistd ratchet} plugin (C{twisted/plugins/ratchet_plugin.py}):
Twisted finds it, it is cheap to import, and C{twistd ratchet} explains
itself and refuses bad options in one line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from twisted.application.service import IServiceMaker
from twisted.plugin import getPlugins
from twisted.trial.unittest import SynchronousTestCase

import twisted.plugins
from ratchet_tx import tap
from tests.support.twistd import REPO_ROOT, runTwistd, twistdEnvironment

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

    def assertOneLineError(self, args: tuple[str, ...], *fragments: str) -> str:
        """
        C{twistd -n ratchet <args>} exits non-zero without a traceback, on one
        line that mentions every fragment; returns that line.
        """
        done = runTwistd("-n", "--pidfile=", "ratchet", *args)
        self.assertNotEqual(done.returncode, 0, done.stdout)
        self.assertNotIn("Traceback", done.stdout)
        errorLines = [line for line in done.stdout.splitlines() if fragments[0] in line]
        self.assertEqual(len(errorLines), 1, f"the error is not one line:\n{done.stdout}")
        for fragment in fragments[1:]:
            self.assertIn(fragment, errorLines[0])
        return errorLines[0]

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

    def test_missingAppModule(self) -> None:
        self.assertOneLineError(("--protocol", "raw", "--app", "nosuch:thing"), "nosuch")

    def test_missingAppAttribute(self) -> None:
        self.assertOneLineError(
            ("--protocol", "raw", "--app", "ratchet_tx.examples.chat:Nope"), "Nope"
        )

    def test_unknownProtocol(self) -> None:
        self.assertOneLineError(("--protocol", "carrier-pigeon"), "carrier-pigeon", "raw")

    def test_unknownOption(self) -> None:
        self.assertOneLineError(("--protocol", "raw", "--colour=blue"), "colour")

    def test_unknownEndpointType(self) -> None:
        # Regression: --listen used to be parsed only in makeService, after
        # option parsing, so a bad one ended twistd with a traceback.
        self.assertOneLineError(
            ("--protocol", "raw", "--listen", "carrier-pigeon:9000"), "carrier-pigeon"
        )

    def test_malformedTcpEndpoint(self) -> None:
        # Regression: as test_unknownEndpointType (int("notaport") raised).
        self.assertOneLineError(("--protocol", "raw", "--listen", "tcp:notaport"), "notaport")
