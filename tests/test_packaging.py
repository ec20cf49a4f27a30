"""
The package as users get it: the wheel built from this checkout holds the
library and the twistd plugin and nothing that would break Twisted, and
installed into a fresh virtualenv it makes C{twistd} list C{ratchet}.

The wheel is built once, from a copy of the checkout without its build
leftovers (a stale C{build/} could hide what a clean checkout would build),
and with a C{twisted/plugins/dropin.cache} in it on purpose: Twisted writes
one there whenever it lists plugins from the source tree, and it must never
be shipped.  Building may fetch setuptools from the package index (pip's
build isolation).  The fresh virtualenv gets this environment's packages
through a C{.pth} file, so installing into it needs no network.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from tests.support.twistd import REPO_ROOT

#: Left out of the copy the wheel is built from: version control, build
#: leftovers and caches.
_NOT_SOURCE = {
    ".git",
    "build",
    "dist",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    ".mypy_cache",
}

_BUILD_TIMEOUT = 600
_SUBPROCESS_TIMEOUT = 120


def _ignoreNonSource(directory: str, names: list[str]) -> set[str]:
    ignored = set()
    for name in names:
        path = Path(directory, name)
        if (
            name in _NOT_SOURCE
            or name.endswith(".egg-info")
            or name.startswith("_trial_temp")
            or name.endswith(".so")  # a compiled extension built in place
            or (path / "pyvenv.cfg").exists()  # a virtualenv (.venv, venv, ...)
        ):
            ignored.add(name)
    return ignored


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("timeout", _SUBPROCESS_TIMEOUT)
    done = subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,  # type: ignore[arg-type]
    )
    if done.returncode != 0:
        raise AssertionError(f"{command} exited with {done.returncode}:\n{done.stdout}")
    return done


def _cleanEnvironment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_ROOT_USER_ACTION"] = "ignore"
    env["PIP_NO_INPUT"] = "1"
    return env


@functools.cache
def _workdir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="ratchet-packaging-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@functools.cache
def sourceCopy() -> Path:
    """A copy of the checkout, as a clean clone plus uncommitted work would be."""
    source = _workdir() / "source"
    shutil.copytree(REPO_ROOT, source, ignore=_ignoreNonSource)
    dropinCache = source / "twisted" / "plugins" / "dropin.cache"
    if not dropinCache.exists():
        dropinCache.write_bytes(b"left by Twisted's plugin discovery")
    return source


@functools.cache
def builtWheel() -> Path:
    """The wheel built from L{sourceCopy}."""
    out = _workdir() / "wheelhouse"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(sourceCopy())],
        env=_cleanEnvironment(),
        timeout=_BUILD_TIMEOUT,
    )
    (wheel,) = out.glob("ratchet_tx-*.whl")
    return wheel


def wheelNames() -> list[str]:
    with zipfile.ZipFile(builtWheel()) as wheel:
        return wheel.namelist()


def wheelMetadata() -> str:
    with zipfile.ZipFile(builtWheel()) as wheel:
        (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        return wheel.read(metadata).decode()


def canCompile() -> bool:
    """Whether this machine can build a C extension for this Python."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    headers = Path(sysconfig.get_paths()["include"], "Python.h")
    return shutil.which(compiler) is not None and headers.is_file()


class FreshVenv:
    """A new virtualenv with the wheel installed and this environment's packages visible."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.python = root / "bin" / "python"
        self.cwd = root / "elsewhere"  # outside the checkout: no source tree on sys.path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _run([str(self.python), *args], cwd=self.cwd, env=_cleanEnvironment())

    def twistd(self, *args: str) -> subprocess.CompletedProcess[str]:
        """
        This venv's twistd: Twisted is visible here but installed in the
        parent environment, whose twistd script would run the parent's
        interpreter, so run twistd's entry point with this venv's.
        """
        return self.run("-c", "from twisted.scripts.twistd import run; run()", *args)

    def sitePackages(self) -> Path:
        return Path(
            self.run(
                "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
            ).stdout.strip()
        )


@functools.cache
def freshVenv() -> FreshVenv:
    venv = FreshVenv(_workdir() / "venv")
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv.root)])
    venv.cwd.mkdir()
    parents = [path for path in site.getsitepackages() if os.path.isdir(path)]
    # site.addsitedir also processes the .pth files of the parent's
    # site-packages; the fresh venv's own site-packages stays first on sys.path.
    (venv.sitePackages() / "_parent_environment.pth").write_text(
        "".join(f"import site; site.addsitedir({path!r})\n" for path in parents)
    )
    # pip itself comes from the parent environment; --ignore-installed so a
    # ratchet_tx already installed there does not count as "satisfied".
    venv.run(
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--no-index",
        "--ignore-installed",
        str(builtWheel()),
    )
    return venv


class WheelContentsTests(SynchronousTestCase):
    def test_shipsThePlugin(self) -> None:
        self.assertIn("twisted/plugins/ratchet_plugin.py", wheelNames())

    def test_shipsThePackage(self) -> None:
        names = wheelNames()
        for module in ("__init__.py", "interfaces.py", "tap.py", "examples/chat.py", "py.typed"):
            self.assertIn(f"ratchet_tx/{module}", names)

    def test_shipsEveryFileOfThePackage(self) -> None:
        """
        The package list in pyproject.toml is explicit, and data files need
        package-data: a new subpackage, or a web page, not declared there
        would be missing from the wheel.
        """
        source = sourceCopy()
        files = {
            path.relative_to(source).as_posix()
            for path in (source / "ratchet_tx").rglob("*")
            # C sources are compiled into the wheel, not shipped.
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".c"
        }
        self.assertEqual(sorted(files - set(wheelNames())), [])

    def test_shipsTheSpeedupsWhereTheyBuild(self) -> None:
        """
        Where a C compiler and Python's headers are at hand, the wheel holds
        the compiled speedups; elsewhere it is built without them.
        """
        prefix = "ratchet_tx/websocket/codecs/_speedups"
        compiled = [n for n in wheelNames() if n.startswith(prefix) and n.endswith((".so", ".pyd"))]
        self.assertEqual(len(compiled), 1 if canCompile() else 0, compiled)

    def test_noTwistedPackageInit(self) -> None:
        """An __init__.py there would replace Twisted's own on install."""
        names = wheelNames()
        self.assertNotIn("twisted/__init__.py", names)
        self.assertNotIn("twisted/plugins/__init__.py", names)

    def test_nothingElseInTwisted(self) -> None:
        self.assertEqual(
            [n for n in wheelNames() if n.startswith("twisted/")],
            ["twisted/plugins/ratchet_plugin.py"],
        )

    def test_noDropinCache(self) -> None:
        self.assertTrue((sourceCopy() / "twisted" / "plugins" / "dropin.cache").exists())
        self.assertEqual([n for n in wheelNames() if "dropin.cache" in n], [])

    def test_noTestsOrBytecode(self) -> None:
        names = wheelNames()
        self.assertEqual([n for n in names if n.startswith("tests/")], [])
        self.assertEqual([n for n in names if n.endswith((".pyc", ".pyo"))], [])

    def test_readmeIsTheLongDescription(self) -> None:
        """pyproject.toml names README.rst as the readme; PyPI shows it."""
        # Fails on 642dfea, where README.rst is not committed: setuptools then
        # builds the wheel anyway, silently, with an empty description.
        metadata = wheelMetadata()
        headers, _, body = metadata.partition("\n\n")
        self.assertIn("Description-Content-Type: text/x-rst", headers)
        self.assertIn("ratchet", body.lower(), "README.rst is missing or empty")

    def test_shipsTheLicense(self) -> None:
        """The MIT text pyproject.toml's license promises is in the wheel."""
        licenses = [n for n in wheelNames() if ".dist-info/" in n and n.endswith("/LICENSE")]
        self.assertEqual(len(licenses), 1, wheelNames())
        with zipfile.ZipFile(builtWheel()) as wheel:
            text = wheel.read(licenses[0]).decode("utf-8")
        self.assertTrue(text.startswith("MIT License\n"), text[:80])
        self.assertIn("Copyright (c) 2026 the ratchet_tx developers", text)
        self.assertEqual(text, (REPO_ROOT / "LICENSE").read_text("utf-8"))

    def test_dependsOnTwistedAndZopeInterface(self) -> None:
        metadata = wheelMetadata()
        self.assertRegex(metadata, r"(?mi)^Requires-Dist: twisted\b")
        self.assertRegex(metadata, r"(?mi)^Requires-Dist: zope\.interface\b")


class FreshInstallTests(SynchronousTestCase):
    def test_twistdListsRatchet(self) -> None:
        output = freshVenv().twistd("--help").stdout
        self.assertRegex(output, r"(?m)^\s+ratchet\s+\S")

    def test_twistdRatchetHelpWorks(self) -> None:
        """The installed plugin loads the installed ratchet_tx.tap."""
        output = freshVenv().twistd("ratchet", "--help").stdout
        self.assertIn("--listen=", output)

    def test_pluginIsInstalledWhereTwistedLooksForPlugins(self) -> None:
        venv = freshVenv()
        installed = venv.sitePackages() / "twisted" / "plugins"
        self.assertTrue((installed / "ratchet_plugin.py").is_file())
        self.assertFalse((venv.sitePackages() / "twisted" / "__init__.py").exists())
        searched = json.loads(
            venv.run(
                "-c", "import json, twisted.plugins; print(json.dumps(twisted.plugins.__path__))"
            ).stdout
        )
        self.assertIn(str(installed), searched)

    def test_libraryComesFromTheWheel(self) -> None:
        venv = freshVenv()
        where = venv.run("-c", "import ratchet_tx; print(ratchet_tx.__file__)").stdout.strip()
        self.assertTrue(
            Path(where).is_relative_to(venv.sitePackages()), f"ratchet_tx imported from {where}"
        )

    def test_installedSpeedupsMaskCorrectly(self) -> None:
        """
        The installed package uses its compiled mask where it could be
        built, and it agrees with the pure-Python one.
        """
        script = (
            "import os; from ratchet_tx.websocket.codecs import hybi\n"
            "data = os.urandom(100003)\n"
            "for start in range(9):\n"
            "    for key in (b'\\x00\\x01\\x02\\x03', b'\\xff\\x80\\x7f\\x5a'):\n"
            "        piece = data[start:]\n"
            "        assert hybi.applyMask(piece, key) == hybi.pythonApplyMask(piece, key)\n"
            "print(hybi.SPEEDUPS)\n"
        )
        self.assertEqual(freshVenv().run("-c", script).stdout.strip(), str(canCompile()))

    def test_twistedIsStillTwisted(self) -> None:
        """Installing our plugin folder did not shadow the real Twisted package."""
        where = freshVenv().run("-c", "import twisted; print(twisted.__file__)").stdout.strip()
        self.assertTrue(where.endswith(os.path.join("twisted", "__init__.py")), where)


class PythonVersionTests(SynchronousTestCase):
    """The Python versions pyproject.toml and the documents promise."""

    def test_nothingNeedsANewerPython(self) -> None:
        """
        vermin finds nothing in the package or the plugin that needs a
        Python newer than requires-python (3.10): CI itself runs only one.
        """
        self.assertIn('requires-python = ">=3.10"', (REPO_ROOT / "pyproject.toml").read_text())
        done = subprocess.run(
            [sys.executable, "-c", "import sys, vermin; sys.exit(vermin.main())"]
            + ["--no-tips", "--violations", "--target=3.10-"]
            # vermin takes bytes.decode for Python 2's str.decode.
            + ["--eval-annotations", "--exclude", "str.decode", "ratchet_tx", "twisted"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=_SUBPROCESS_TIMEOUT,
        )
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("Minimum required versions: 3.10", done.stdout)

    def test_readmeSaysTheSame(self) -> None:
        for name in ("README.rst", "docs/getting-started.rst"):
            self.assertIn("Python 3.10 or later", (REPO_ROOT / name).read_text(), name)
