"""
Sphinx configuration of the ratchet_tx documentation.

The topic pages are reStructuredText here; the API reference is built by
pydoctor from the epytext docstrings (as Twisted builds its own), into
C{api/}, and the pages link into it through intersphinx.  The test suite
builds it all with warnings as errors (tests/test_docs.py)::

    .venv/bin/sphinx-build -W -b html docs docs/_build/html
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE / "_ext")]

import ratchet_tx  # noqa: E402

project = "ratchet_tx"
author = "the ratchet_tx developers"
copyright = f"2026, {author}"
release = version = ratchet_tx.__version__

extensions = [
    "sphinx.ext.intersphinx",
    "pydoctor.sphinx_ext.build_apidocs",
    "ratchet_docs",
]

exclude_patterns = ["_build"]
# Every reference must resolve, into the API reference or the pages.
nitpicky = True
default_role = "py:obj"

# Offline: no inventory is fetched; pydoctor's own is added by its extension.
intersphinx_mapping: dict[str, tuple[str, object]] = {}

pydoctor_url_path = "api/"
pydoctor_args = [
    f"--project-name={project}",
    f"--project-version={release}",
    "--docformat=epytext",
    f"--project-base-dir={HERE.parent}",
    "--html-output={outdir}/api",
    str(HERE.parent / "ratchet_tx"),
]

html_theme = "alabaster"
html_title = "ratchet_tx"

# Room for code lines of up to 100 characters.
html_theme_options = {"page_width": "1160px", "sidebar_width": "220px"}
