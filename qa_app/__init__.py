"""Long-document question answering: exact answer spans with citations, from your own documents.

`import qa_app` is cheap: it imports no torch. Start from the `qa-app` command line
(`qa_app.cli`) or, from Python, from the public API `qa_app.api` (`qa_app.api.open(...)`).
docs/ARCHITECTURE.md describes every stage.
"""

__version__ = "0.1.0"
