"""Tests for L{ratchet_tx.redis}: the codec, the client and the subscriber."""
