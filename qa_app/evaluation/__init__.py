"""Evaluation of answers against gold data: official SQuAD v2.0 EM/F1 semantics.

The metric core is pure (stdlib only, no I/O); running a reader over a dataset and writing
reports live in their own modules.
"""
