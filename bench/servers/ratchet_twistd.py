"""
twistd, for the benchmark's ratchet_tx servers, run with the benchmark venv's
Python and the snapshot of ratchet_tx on PYTHONPATH:

    python ratchet_twistd.py -n --pidfile= ratchet --app ... --listen tcp:9000

The ratchet_tx of the snapshot decides which TCP transport its `tcp:`
listeners use (its own write-through transport since issue 15; Twisted's in
revisions before it, which `--baseline` compares against).
"""

import sys

from twisted.scripts.twistd import run

if __name__ == "__main__":
    sys.argv[0] = "twistd"
    run()
