"""C{python -m ratchet_tx.client URL}: see L{ratchet_tx.client.cli}."""

from ratchet_tx.client.cli import main

main()
