"""Retrieval: find chunks for a query (dense, sparse, hybrid) and grow them into windows."""
