"""Slow tier: real embedder and the shipped readers (run with `make test-slow` or `-m slow`)."""
