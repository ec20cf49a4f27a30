"""
Tests of the server under abuse: slow consumers, hostile handshakes and
frames, connection limits, fuzzed input, leaks.

Each module says what it attacks and what bounds it checks.  Figures measured
on real processes (RSS, file descriptors) are compared with the tolerances
named at the top of L{tests.abuse.support}.
"""
