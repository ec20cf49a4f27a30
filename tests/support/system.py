"""
The Debian packages the tests need (C{tests/system-packages.txt}, which
C{scripts/test} reads too), and the check a test makes before it uses one::

    requirePackage("chromium", "the browser tests")

A missing package fails the test with the line that installs it: a test never
skips for want of a system component.  To add one, add its line to
C{tests/system-packages.txt} (the package, then a shell command that succeeds
when it is there) and call L{requirePackage} where it is used.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

#: The list, beside the tests.
PACKAGES_FILE = Path(__file__).resolve().parents[1] / "system-packages.txt"

#: How long a check may take.
_CHECK_TIMEOUT = 30


@dataclass(frozen=True)
class SystemPackage:
    """
    A Debian package the tests need.

    @ivar name: the package's name, as apt-get takes it.
    @ivar check: a shell command that succeeds when it is installed.
    """

    name: str
    check: str

    def installed(self) -> bool:
        """Whether the check succeeds."""
        try:
            done = subprocess.run(
                ["sh", "-c", self.check],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=_CHECK_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0


class MissingSystemPackage(AssertionError):
    """A test needs a Debian package that is not installed (a failure, not a skip)."""


def systemPackages() -> dict[str, SystemPackage]:
    """The packages of L{PACKAGES_FILE}, by name, in its order."""
    packages = {}
    for line in PACKAGES_FILE.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, check = line.strip().partition(" ")
        packages[name] = SystemPackage(name, check.strip())
    return packages


def installLine(names: list[str]) -> str:
    """What installs C{names}."""
    return "apt-get install " + " ".join(names) + " (or run scripts/test as root)"


def requirePackage(name: str, neededBy: str) -> None:
    """
    Fail the calling test unless the Debian package C{name} is installed.

    @param neededBy: who needs it, for the message ("the browser tests").
    @raise MissingSystemPackage: it is missing; the message says how to
        install it.
    @raise KeyError: C{name} is not in L{PACKAGES_FILE}, so C{scripts/test}
        would not install it.
    """
    package = systemPackages()[name]
    if not package.installed():
        raise MissingSystemPackage(
            f"{neededBy} need Debian's {name}, which is missing: {installLine([name])}"
        )


def missingPackages() -> list[str]:
    """The names of the packages whose check fails."""
    return [name for name, package in systemPackages().items() if not package.installed()]

