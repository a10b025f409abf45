"""Reliability tests: bad input, crashes, concurrency and the Chroma server (issue 7)."""
