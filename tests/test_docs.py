"""
The documentation, README.rst and docs/: the Sphinx site (with pydoctor's
API reference) builds without a single warning, every Python code block runs
as written, and every C{twistd ratchet} command line in them is accepted, or
fails with exactly the error the page shows.

Code blocks run one by one, each in a fresh interpreter from an empty folder,
with a L{MemoryReactorClock} installed as the reactor: a block that listens
and runs the reactor then finishes, and the test checks it listened on the
ports it names.  A block ending in C{unittest.main()} runs its tests.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

import docutils.core
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.tap import Options
from tests.support.twistd import REPO_ROOT, runTwistd, twistdEnvironment

DOCS = REPO_ROOT / "docs"

#: Every document with code in it.
DOCUMENTS = [REPO_ROOT / "README.rst", *sorted(DOCS.glob("*.rst"))]

_BUILD_TIMEOUT = 600
_BLOCK_TIMEOUT = 60

#: Runs one code block: argv is the block's file, then where to report.
_RUNNER = """
import json, runpy, sys
from twisted.internet.main import installReactor
from twisted.internet.testing import MemoryReactorClock

reactor = MemoryReactorClock()
installReactor(reactor)
block, report = sys.argv[1:]
sys.argv = [block]
try:
    runpy.run_path(block, run_name="__main__")
finally:
    with open(report, "w") as f:
        json.dump({"ran": reactor.hasRun, "ports": [p for p, *_ in reactor.tcpServers]}, f)
"""


@dataclass(frozen=True)
class Block:
    """A code block of a document, at a line of it."""

    path: Path
    line: int
    language: str
    text: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(REPO_ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """
    The code blocks of the reStructuredText file C{path}: C{.. code-block::
    LANGUAGE} directives, and literal blocks after a paragraph ending in
    C{::} (language C{""}).
    """
    lines = path.read_text().splitlines()
    found = []
    index = 0
    while index < len(lines):
        line = lines[index]
        directive = re.match(r"(\s*)\.\. code-block:: *(\w+)\s*$", line)
        literal = line.rstrip().endswith("::") and not line.lstrip().startswith("..")
        index += 1
        if not (directive or literal):
            continue
        indent = len(line) - len(line.lstrip())
        start = index
        body: list[str] = []
        while index < len(lines) and (
            not lines[index].strip() or len(lines[index]) - len(lines[index].lstrip()) > indent
        ):
            if body or (lines[index].strip() and not lines[index].lstrip().startswith(":")):
                body.append(lines[index])
            index += 1
        if body:
            language = directive.group(2) if directive else ""
            found.append(Block(path, start + 1, language, textwrap.dedent("\n".join(body))))
    return found


def pythonBlocks() -> list[Block]:
    """The Python code blocks of every document."""
    return [b for document in DOCUMENTS for b in blocks(document) if b.language == "python"]


def runBlock(block: Block) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    """Run C{block} as a program; return the process and the reactor's report."""
    with tempfile.TemporaryDirectory(prefix="ratchet-docs-block-") as folder:
        (Path(folder) / "example.py").write_text(block.text + "\n")
        (Path(folder) / "runner.py").write_text(_RUNNER)
        done = subprocess.run(
            [sys.executable, "runner.py", "example.py", "report.json"],
            cwd=folder,
            env=twistdEnvironment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_BLOCK_TIMEOUT,
        )
        report = Path(folder, "report.json")
        return done, json.loads(report.read_text()) if report.exists() else {}


class CodeBlockTests(SynchronousTestCase):
    def test_everyPythonBlockIsFound(self) -> None:
        for document in DOCUMENTS:
            declared = document.read_text().count(".. code-block:: python")
            found = [b for b in blocks(document) if b.language == "python"]
            self.assertEqual(len(found), declared, document)
        self.assertGreaterEqual(len([b for b in pythonBlocks() if "README" in str(b)]), 3)

    def test_onlyPythonBlocksDeclareALanguage(self) -> None:
        """A block in another language would not be run: keep them literal blocks."""
        for document in DOCUMENTS:
            for block in blocks(document):
                self.assertIn(block.language, ("python", ""), block)

    def test_pythonBlocksRun(self) -> None:
        failures = []
        for block in pythonBlocks():
            done, report = runBlock(block)
            problems = []
            if done.returncode != 0:
                problems.append(f"exit status {done.returncode}")
            if "reactor.run()" in block.text:
                if not report.get("ran"):
                    problems.append("the reactor did not run")
                named = sorted(int(port) for port in re.findall(r"tcp:(\d+)", block.text))
                if sorted(report.get("ports", [])) != named:  # type: ignore[call-overload]
                    problems.append(f"listened on {report.get('ports')}, not {named}")
            if "unittest.main()" in block.text and not re.search(
                r"Ran [1-9]\d* tests?.*\n+OK", done.stderr, re.S
            ):
                problems.append("its tests did not all pass")
            if problems:
                failures.append(f"{block}: {', '.join(problems)}\n{done.stdout}{done.stderr}")
        self.assertEqual(failures, [], "\n\n".join(failures))


def twistdCommands(block: Block) -> list[tuple[list[str], list[str]]]:
    """
    The C{twistd ... ratchet ...} commands of a literal block, as the
    arguments after C{ratchet}, each with the output the block shows after
    it when it is a C{$ } prompt line.
    """
    joined = block.text.replace("\\\n", " ").splitlines()
    commands = []
    for index, line in enumerate(joined):
        prompt = line.startswith("$ ")
        for part in line.removeprefix("$ ").split("&&"):
            words = shlex.split(part.removeprefix("ExecStart="), comments=True)
            if not words or not words[0].endswith("twistd") or "ratchet" not in words:
                continue
            output = []
            if prompt:
                for after in joined[index + 1 :]:
                    if after.startswith("$ ") or not after.strip():
                        break
                    output.append(after)
            commands.append((words[words.index("ratchet") + 1 :], output))
    return commands


def allTwistdCommands() -> list[tuple[Block, list[str], list[str]]]:
    return [
        (block, args, output)
        for document in DOCUMENTS
        for block in blocks(document)
        if block.language == ""
        for args, output in twistdCommands(block)
    ]


#: The application the documents call mypkg.chat:Chat, and mychat:Chat.
_MYCHAT = "from ratchet_tx.examples.chat import Chat\n"


class CommandLineTests(SynchronousTestCase):
    def setUp(self) -> None:
        """A folder with what the commands name: mychat.py, mypkg, TLS files, public/."""
        from tests.integration.test_tls import makeCertificate

        folder = Path(tempfile.mkdtemp(prefix="ratchet-docs-commands-"))
        self.addCleanup(shutil.rmtree, folder, ignore_errors=True)
        (folder / "mychat.py").write_text(_MYCHAT)
        (folder / "mypkg").mkdir()
        (folder / "mypkg" / "__init__.py").write_text("")
        (folder / "mypkg" / "chat.py").write_text(_MYCHAT)
        (folder / "public").mkdir()
        _, certificate = makeCertificate(folder)
        shutil.copy(certificate, folder / "chain.pem")
        here = os.getcwd()
        os.chdir(folder)
        self.addCleanup(os.chdir, here)
        self.patch(sys, "path", list(sys.path))
        for name in ("mychat", "mypkg", "mypkg.chat"):
            self.addCleanup(sys.modules.pop, name, None)

    def test_commandsAreFound(self) -> None:
        self.assertGreaterEqual(len(allTwistdCommands()), 10)

    def test_commandsParse(self) -> None:
        """Every command line without shown output is accepted as it stands."""
        from twisted.internet.endpoints import _SystemdParser
        from twisted.python.systemd import ListenFDs

        # As under a systemd .socket unit.
        self.patch(_SystemdParser, "_sddaemon", ListenFDs([3], ("chat.socket",)))
        failures = []
        for block, args, output in allTwistdCommands():
            if output:
                continue
            try:
                Options().parseOptions(args)
            except Exception as e:
                failures.append(f"{block}: twistd ratchet {shlex.join(args)}: {e}")
        self.assertEqual(failures, [], "\n".join(failures))

    def test_shownErrorsAreTheErrors(self) -> None:
        """A command shown with its output prints exactly that, on stderr."""
        shown = [(block, args, output) for block, args, output in allTwistdCommands() if output]
        self.assertNotEqual(shown, [])
        for block, args, output in shown:
            done = runTwistd("-n", "--pidfile=", "ratchet", *args, separateStderr=True)
            self.assertEqual(done.stderr.splitlines(), output, block)


@functools.cache
def builtSite() -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The documentation, built once with warnings as errors."""
    output = Path(tempfile.mkdtemp(prefix="ratchet-docs-"))
    atexit.register(shutil.rmtree, output, True)
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
        + [str(DOCS), str(output / "html")],
        env=twistdEnvironment(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=_BUILD_TIMEOUT,
    )
    return output / "html", done


class SiteTests(SynchronousTestCase):
    def page(self, name: str) -> str:
        html, done = builtSite()
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        return (html / name).read_text("utf-8")

    def test_buildsWithoutWarnings(self) -> None:
        _, done = builtSite()
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertNotIn("WARNING", done.stderr)

    def test_apiReferenceFromTheDocstrings(self) -> None:
        settings = self.page("api/ratchet_tx.websocket.Settings.html")
        self.assertIn("maxMessageSize", settings)
        self.assertIn("the largest message accepted", settings)
        self.assertIn("ratchet_tx.Server", self.page("api/ratchet_tx.Server.html"))

    def test_pagesLinkIntoTheApi(self) -> None:
        self.assertIn('href="api/ratchet_tx.SendMessage.html"', self.page("getting-started.html"))

    def test_everyOptionIsDocumented(self) -> None:
        page = self.page("command-line.html")
        for name in Options().docs:
            if name not in ("help", "version"):
                self.assertIn(f"--{name}", page)

    def test_changelogIsIncluded(self) -> None:
        self.assertIn("Unreleased", self.page("changelog.html"))


class ReadmeTests(SynchronousTestCase):
    def test_validReStructuredText(self) -> None:
        """PyPI shows README.rst: it must not have a warning either."""
        for name in ("README.rst", "CHANGELOG.rst"):
            docutils.core.publish_doctree(
                (REPO_ROOT / name).read_text(),
                settings_overrides={"halt_level": 2, "report_level": 2},
            )
