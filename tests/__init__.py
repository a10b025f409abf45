"""Test suite; a package so that tests/indexing does not shadow the real indexing package."""
