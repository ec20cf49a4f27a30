"""
Every session store provides L{ISessionStore}, completely.
"""

from __future__ import annotations

import sqlite3

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyClass, verifyObject

from ratchet_tx.session import (
    DjangoDatabaseStore,
    DjangoSignedCookieStore,
    FlaskCookieStore,
    ISessionStore,
    StarletteCookieStore,
)
from tests.session.frameworks import SECRET


class StoreInterfaceTests(SynchronousTestCase):
    def test_everyStore(self) -> None:
        stores = [
            DjangoSignedCookieStore(SECRET),
            FlaskCookieStore(SECRET),
            StarletteCookieStore(SECRET),
            DjangoDatabaseStore(sqlite3.connect, SECRET),
        ]
        for store in stores:
            verifyClass(ISessionStore, type(store))
            verifyObject(ISessionStore, store)
        self.assertEqual(
            [store.cookieName for store in stores], ["sessionid", "session", "session", "sessionid"]
        )


class NoFrameworkImportedTests(SynchronousTestCase):
    """The session package reads the frameworks' formats without them."""

    def test_importsNoFramework(self) -> None:
        import subprocess
        import sys

        frameworks = ["django", "flask", "werkzeug", "starlette", "itsdangerous", "msgpack",
                      "msgspec", "markupsafe", "flask_session", "phpserialize"]
        script = (
            "import sys, ratchet_tx.session, ratchet_tx.session.codecs.msgpack\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {frameworks!r}))"
        )
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             check=True, timeout=60)
        self.assertEqual(out.stdout.strip(), "[]")

    def test_codecsImportNoTwisted(self) -> None:
        """
        The decoders are pure: they import only the standard library, each
        other, and the errors module.
        """
        import ast
        import sys
        from pathlib import Path

        import ratchet_tx.session.codecs as codecs

        folder = Path(codecs.__file__).parent
        allowed = ("ratchet_tx.session.codecs", "ratchet_tx.session.errors")
        files = sorted(folder.glob("*.py")) + [folder.parent / "errors.py"]
        self.assertGreater(len(files), 8)
        for path in files:
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module or ""]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    self.assertTrue(
                        top in sys.stdlib_module_names or top == "__future__"
                        or name.startswith(allowed),
                        f"{path.name} imports {name}",
                    )
