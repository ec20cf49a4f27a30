"""
README.rst's "Consuming sockets" example, run as written on the real reactor
(L{tests.test_docs} runs it on a memory reactor, where nothing connects): it
serves, connects, and prints what the section says it prints.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from tests.support.twistd import REPO_ROOT, twistdEnvironment
from tests.test_docs import blocks

#: The section's example: the block that imports connect.
MARKER = "from ratchet_tx.client import connect"


class ConsumingSocketsTests(SynchronousTestCase):
    def test_exampleRunsAsItSays(self) -> None:
        [block] = [b for b in blocks(REPO_ROOT / "README.rst") if MARKER in b.text]
        with tempfile.TemporaryDirectory(prefix="ratchet-readme-client-") as folder:
            (Path(folder) / "example.py").write_text(block.text + "\n")
            done = subprocess.run(
                [sys.executable, "example.py"],
                cwd=folder,
                env=twistdEnvironment(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=60,
            )
        self.assertEqual((done.returncode, done.stderr), (0, ""))
        lines = done.stdout.splitlines()
        self.assertEqual(len(lines), 3, done.stdout)
        self.assertRegex(lines[0], r"^connected to ws://127\.0\.0\.1:\d+/echo in hixie-76$")
        self.assertEqual(lines[1:], ["the server says: hello", "closed with 1000"])
        readme = (REPO_ROOT / "README.rst").read_text()
        shown = re.sub(r"\s+", " ", readme)
        self.assertIn("``connected to ws://127.0.0.1:PORT/echo in hixie-76``", shown)
        self.assertIn("``the server says: hello`` and ``closed with 1000``", shown)
