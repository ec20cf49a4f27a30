"""
Sphinx helpers of the ratchet_tx documentation.

- C{external-names.txt} becomes the intersphinx inventories that pydoctor
  and the pages link names outside ratchet_tx with (the build is offline).
- The C{twistd-options} directive lists the options of C{twistd ratchet},
  from L{ratchet_tx.tap.Options} itself, so the page cannot fall behind.
"""

from __future__ import annotations

import importlib
import inspect
import zlib
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError
from sphinx.util.docutils import SphinxDirective

HERE = Path(__file__).resolve().parent.parent

#: Where each site of C{external-names.txt} documents its names.
SITES = {
    "twisted": "https://docs.twisted.org/en/stable/api/",
    "python": "https://docs.python.org/3/",
}


def locate(name: str) -> tuple[str, Any]:
    """Import the object called C{name}; return its kind and itself."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            target = getattr(target, attribute)
        break
    else:
        raise ConfigError(f"external-names.txt: {name} does not import")
    if inspect.ismodule(target):
        return "module", target
    if inspect.isclass(target):
        return "class", target
    return "function" if callable(target) else "attribute", target


def uri(site: str, name: str, kind: str) -> str:
    """The page of C{name}: pydoctor's layout for Twisted, Sphinx's for Python."""
    if site == "twisted":
        if kind in ("module", "class"):
            return f"{name}.html"
        parent, _, _ = name.rpartition(".")
        return f"{parent}.html#{name.rpartition('.')[2]}"
    module = name if kind == "module" else name.rpartition(".")[0]
    return f"library/{module}.html#{name}"


def writeInventories(app: Sphinx, config: Config) -> None:
    """Write one inventory per site and hand them to pydoctor."""
    entries: dict[str, list[str]] = {site: [] for site in SITES}
    for line in (HERE / "external-names.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        site, name = line.split()
        kind, _ = locate(name)
        entries[site].append(f"{name} py:{kind} 1 {uri(site, name, kind)} -")
    folder = Path(app.doctreedir) / "inventories"
    folder.mkdir(parents=True, exist_ok=True)
    for site, lines in entries.items():
        path = folder / f"{site}.inv"
        header = f"# Sphinx inventory version 2\n# Project: {site}\n# Version: \n"
        header += "# The remainder of this file is compressed using zlib.\n"
        path.write_bytes(header.encode() + zlib.compress("\n".join(lines).encode() + b"\n"))
        config.pydoctor_args.append(f"--intersphinx-file={path}::{SITES[site]}")
        # The pages link these names too.
        config.intersphinx_mapping[site] = (SITES[site], str(path))


class TwistdOptions(SphinxDirective):
    """
    The options of C{twistd ratchet}, as a definition list: those named as
    arguments, in that order, or else all of them.
    """

    optional_arguments = 100

    def run(self) -> list[nodes.Node]:
        from ratchet_tx.tap import Options

        options = Options()
        parameters = {name.rstrip("=") for name in options.longOpt if name.endswith("=")}
        shorts = {long: short for short, long in options.synonyms.items() if len(short) == 1}
        names = [name.removeprefix("--") for name in self.arguments] or [
            name for name in sorted(options.docs) if name not in ("help", "version")
        ]
        lines = []
        for name in names:
            if name not in options.docs:
                raise self.error(f"twistd ratchet has no option --{name}")
            term = f"--{name}=VALUE" if name in parameters else f"--{name}"
            if name in shorts:
                term = f"-{shorts[name]} VALUE, {term}" if name in parameters else term
            help = options.docs[name] or ""
            default = options.defaults.get(name)
            if default is not None:
                help += f" (default: ``{default}``)"
            lines += [f"``{term}``", f"   {help}", ""]
        container = nodes.container()
        self.state.nested_parse(StringList(lines), self.content_offset, container)
        return container.children


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", writeInventories)
    app.add_directive("twistd-options", TwistdOptions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
