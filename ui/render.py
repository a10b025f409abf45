"""HTML for answers: document text is always escaped; only our own <mark> tags are markup."""

from __future__ import annotations

import html

from qa_app.types import Answer, Citation, Window

CONTEXT_CHARS = 300


def highlighted_passage(citation: Citation, windows: tuple[Window, ...], chars: int = CONTEXT_CHARS) -> str:
    """The passage around a cited span with the span in <mark>; every document character escaped."""
    for w in windows:
        if w.doc_id == citation.doc_id and w.start <= citation.start and citation.end <= w.end:
            a, b = citation.start - w.start, citation.end - w.start
            lo, hi = max(0, a - chars), min(len(w.text), b + chars)
            before, span, after = w.text[lo:a], w.text[a:b], w.text[b:hi]
            prefix = "…" if lo > 0 else ""
            suffix = "…" if hi < len(w.text) else ""
            return (f"{prefix}{html.escape(before)}<mark>{html.escape(span)}</mark>"
                    f"{html.escape(after)}{suffix}").replace("\n", "<br>")
    return f"<mark>{html.escape(citation.quote)}</mark>"


def passage_html(window: Window, chars: int = 400) -> str:
    text = window.text[:chars] + ("…" if len(window.text) > chars else "")
    return html.escape(text).replace("\n", "<br>")


def answer_caption(answer: Answer) -> str:
    c = answer.citations[0]
    return f"{c.source}, page {c.page} · confidence {answer.score:.0%} · reader {answer.reader}"
