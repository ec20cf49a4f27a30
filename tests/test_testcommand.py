"""
The test command (C{scripts/test}, the README's second command, which
C{.ci/run} runs) and L{tests.support.system}, the Debian packages the tests
need: one list, read by both.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from tests.support import system
from tests.support.twistd import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "test"


def readmeCommands() -> list[str]:
    """The commands of the README's first two literal blocks (before the rule)."""
    head = (REPO_ROOT / "README.rst").read_text().split("\n----\n")[0]
    return re.findall(r"::\n\n    (.+)\n", head)


class SystemPackagesTests(SynchronousTestCase):
    def useList(self, text: str) -> None:
        folder = Path(tempfile.mkdtemp(prefix="ratchet-packages-"))
        self.addCleanup(shutil.rmtree, folder)
        (folder / "packages.txt").write_text(text)
        self.patch(system, "PACKAGES_FILE", folder / "packages.txt")

    def test_theList(self) -> None:
        packages = system.systemPackages()
        self.assertIn("chromium", packages)
        for name, package in packages.items():
            self.assertEqual(package.name, name)
            self.assertTrue(package.check, name)

    def test_parsing(self) -> None:
        self.useList("# comment\n\nalpha   true\nbeta    test -x /bin/sh && true\n")
        self.assertEqual(
            system.systemPackages(),
            {
                "alpha": system.SystemPackage("alpha", "true"),
                "beta": system.SystemPackage("beta", "test -x /bin/sh && true"),
            },
        )

    def test_missingFailsWithTheInstallLine(self) -> None:
        """A missing package fails the test (an AssertionError), never skips it."""
        self.useList("present true\nabsent false\n")
        system.requirePackage("present", "the tests")
        error = self.assertRaises(
            system.MissingSystemPackage, system.requirePackage, "absent", "the frobnication tests"
        )
        self.assertIsInstance(error, AssertionError)
        self.assertIn("the frobnication tests need Debian's absent", str(error))
        self.assertIn("apt-get install absent", str(error))
        self.assertEqual(system.missingPackages(), ["absent"])

    def test_unlisted(self) -> None:
        """A package scripts/test would not install cannot be required."""
        self.useList("present true\n")
        self.assertRaises(KeyError, system.requirePackage, "elsewhere", "the tests")


class ScriptTests(SynchronousTestCase):
    def runScript(self, *args: str, packages: str | None = None, uid: int | None = None):
        """Run scripts/test with a packages list of its own and a fake uid."""
        env = dict(os.environ)
        folder = Path(tempfile.mkdtemp(prefix="ratchet-script-"))
        self.addCleanup(shutil.rmtree, folder)
        if packages is not None:
            (folder / "packages.txt").write_text(packages)
            env["RATCHET_TX_SYSTEM_PACKAGES"] = str(folder / "packages.txt")
        if uid is not None:
            (folder / "id").write_text(f"#!/bin/sh\necho {uid}\n")
            (folder / "id").chmod(0o755)
            env["PATH"] = f"{folder}{os.pathsep}{env['PATH']}"
        return subprocess.run(
            [str(SCRIPT), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def test_readmeCommandIsTheScript(self) -> None:
        self.assertEqual(readmeCommands()[1], "scripts/test")

    def test_ciRunsTheReadmeCommand(self) -> None:
        lines = (REPO_ROOT / ".ci" / "run").read_text().splitlines()
        self.assertIn(readmeCommands()[1], lines)

    def test_checkAgreesWithTheTests(self) -> None:
        done = self.runScript("--check")
        self.assertEqual(done.returncode == 0, system.missingPackages() == [], done.stderr)

    def test_checkNamesWhatIsMissing(self) -> None:
        done = self.runScript("--check", packages="present true\nabsent false\nother  exit 3\n")
        self.assertEqual(done.returncode, 1)
        self.assertEqual(done.stdout, "")
        self.assertIn("apt-get install absent other\n", done.stderr)
        self.assertNotIn("present", done.stderr)

    def test_checkWithNothingMissing(self) -> None:
        done = self.runScript("--check", packages="# all here\npresent true\n")
        self.assertEqual((done.returncode, done.stdout, done.stderr), (0, "", ""))

    def test_notRootSaysWhatToInstallAndStops(self) -> None:
        """Without root it installs nothing, creates no venv and runs no test."""
        done = self.runScript("tests/nothing-here", packages="absent false\n", uid=1000)
        self.assertEqual(done.returncode, 1)
        self.assertIn("apt-get install absent", done.stderr)
        self.assertNotIn("pytest", done.stdout)
