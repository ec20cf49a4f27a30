"""
Fuzzing of ratchet_tx: the targets (L{fuzz.targets}), shared with the
property tests, and a long-running harness (C{python -m fuzz.run}).  See
C{fuzz/README.md}.
"""
