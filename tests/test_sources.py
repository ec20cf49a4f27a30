"""
The package's sources keep the project's conventions: every module that
names its tests (C{# -*- test-case-name: ... -*-}, for trial) names test
modules that exist; no object reaches into another's private attributes
but where listed here, with the reason; and the package's modules import
one another without a circle.
"""

from __future__ import annotations

import ast
import re
from importlib.util import find_spec
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

import ratchet_tx

PACKAGE = Path(ratchet_tx.__file__).resolve().parent
HEADER = re.compile(r"#\s*-\*-\s*test-case-name:\s*(?P<names>[\w.,\s]+?)\s*-\*-")


class TestCaseNameTests(SynchronousTestCase):
    def test_namedTestModulesExist(self) -> None:
        missing = []
        named = 0
        for path in sorted(PACKAGE.rglob("*.py")):
            match = HEADER.search(path.read_text(encoding="utf-8").split("\n", 1)[0])
            if match is None:
                continue
            for name in match["names"].split(","):
                named += 1
                if find_spec(name.strip()) is None:
                    missing.append(f"{path.relative_to(PACKAGE)}: {name.strip()}")
        self.assertGreater(named, 20)
        self.assertEqual(missing, [])


#: The private attributes reached through something other than C{self},
#: C{cls} or C{super()}: (module, expression) and why.
PRIVATE_REACHES = {
    ("websocket/adapter.py", "conn._protocol"): "sendToMany: a classmethod over its own class",
    ("websocket/adapter.py", "conn._out"): "sendToMany: a classmethod over its own class",
    ("websocket/codecs/http.py", "other._items"): "__eq__ with another instance of its class",
    ("websocket/codecs/hybi.py", "keys._restart"): "the module's fork hook, over its own class",
    ("websocket/codecs/deflate.py", "zlib._Compress"): "a type annotation: zlib has no public name",
    ("websocket/codecs/deflate.py", "zlib._Decompress"): "a type annotation, as above",
    ("session/codecs/itsdangerous.py", "hashlib._Hash"): "a type annotation, as above",
    ("web.py", "channel._dataBuffer"): "Twisted's HTTPChannel has no public API for it",
    ("service.py", "listener._raiseSynchronously"): "Twisted's only switch for bind errors",
    ("commandline.py", "listener._raiseSynchronously"): "the same",
    ("transport/tcp.py", "server._realPortNumber"): "Twisted's Server transport's own repr uses it",
    ("transport/tcp.py", "transport._logContext"): "a descriptor over its own class's instances",
    ("transport/tcp.py", "transport._peerRest"): "a descriptor over its own class's instances",
}


def _privateReaches(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        if not node.attr.startswith("_") or node.attr.startswith("__"):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
            continue
        if isinstance(owner, ast.Call) and ast.unparse(owner.func) == "super":
            continue
        found.add(ast.unparse(node))
    return found


class PrivateAttributeTests(SynchronousTestCase):
    def test_noReachIntoAnotherObjectsPrivateParts(self) -> None:
        unlisted = []
        for path in sorted(PACKAGE.rglob("*.py")):
            module = path.relative_to(PACKAGE).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for expression in sorted(_privateReaches(tree)):
                if (module, expression) not in PRIVATE_REACHES:
                    unlisted.append(f"{module}: {expression}")
        self.assertEqual(unlisted, [])

    def test_theCheckSeesAReach(self) -> None:
        tree = ast.parse("def f(other):\n    return other._secret, self._mine, super()._x")
        self.assertEqual(_privateReaches(tree), {"other._secret"})


def _imports(path: Path, module: str) -> set[str]:
    """The C{ratchet_tx} modules C{module} (at C{path}) imports at its top level."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
    return {name for name in found if name == "ratchet_tx" or name.startswith("ratchet_tx.")}


class ImportCircleTests(SynchronousTestCase):
    def test_theWebSocketPackageHasNoImportCircle(self) -> None:
        """
        The WebSocket modules import each other without a circle at import
        time (imports under C{TYPE_CHECKING} or inside functions are not
        counted: they run later or never).
        """
        graph: dict[str, set[str]] = {}
        for path in sorted((PACKAGE / "websocket").rglob("*.py")):
            relative = path.relative_to(PACKAGE.parent).with_suffix("")
            parts = list(relative.parts)
            if parts[-1] == "__init__":
                parts.pop()
            module = ".".join(parts)
            graph[module] = _imports(path, module)
        self.assertGreater(len(graph), 10)
        circles = []
        visiting: list[str] = []
        done: set[str] = set()

        def visit(module: str) -> None:
            if module in done or module not in graph:
                return
            if module in visiting:
                circles.append(visiting[visiting.index(module) :] + [module])
                return
            visiting.append(module)
            for imported in sorted(graph[module]):
                if imported != module and not module.startswith(imported + "."):
                    visit(imported)
            visiting.pop()
            done.add(module)

        for module in sorted(graph):
            visit(module)
        self.assertEqual(circles, [])
