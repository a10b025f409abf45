"""Long-document question answering: exact answer spans with citations, from your own documents.

`import qa_app` is cheap: it imports no torch. Start from the `qa-app` command line
(`qa_app.cli`) or, from Python, from `qa_app.wiring.App`, the composition root: build it from
`qa_app.config.load_settings()`, then use `app.indexer` to index files and `app.pipeline().ask(...)`
to ask. docs/ARCHITECTURE.md describes every stage.
"""

__version__ = "0.1.0"
