"""Servers no one here wrote, for the client's interop tests."""
