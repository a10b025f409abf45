"""QA datasets: loading SQuAD-format files, the project's fixed split, and article documents.

This package reads data files and validates them; it does not score answers (see
`qa_app.evaluation`) and does not index anything.
"""
