"""Long-document question answering: exact answer spans with citations, from your own documents.

`import qa_app` is cheap: it imports no torch. Start from `qa_app.api` (Python API) or the
`qa-app` command line.
"""

__version__ = "0.1.0"
