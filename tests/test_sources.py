"""
The package's sources keep the project's conventions: every module that
names its tests (C{# -*- test-case-name: ... -*-}, for trial) names test
modules that exist.
"""

from __future__ import annotations

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
