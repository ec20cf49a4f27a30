"""
Tests in a real browser: headless Chromium driven over the DevTools protocol
(L{tests.support.browser}) against servers in subprocesses.
"""
