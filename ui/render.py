"""HTML and table rows for answers: pure functions, no Streamlit, no decisions about answers.

Every character that comes from a document (text, titles, file names, tokens) goes through
`escape_text` before it reaches `st.markdown(..., unsafe_allow_html=True)`: HTML is escaped and the
characters Streamlit's Markdown would act on (links, images, `$` maths, `:color[...]` directives,
emphasis) become numeric entities, so a document can neither run script nor fetch a URL. The only
markup in the output is ours (`<div>`, `<mark>`, `<span>`, `<br>`), and a block never contains a
blank line, so Markdown treats it as one raw HTML block.
"""

from __future__ import annotations

from typing import Any, Sequence

from qa_app.types import Answer, Citation, TokenProbs, Window

CONTEXT_CHARS = 300
PASSAGE_CHARS = 400
HEATMAP_TOKENS = 160  # tokens shown around the most likely answer

# Characters Markdown (CommonMark, GFM, Streamlit's directives and maths) may interpret.
_MARKDOWN_ACTIVE = "\\`*_{}[]()#!|~:$<>&\"'"
_ENTITIES = {ord(c): f"&#{ord(c)};" for c in _MARKDOWN_ACTIVE}
_LABEL_ESCAPES = {ord(c): "\\" + c for c in "\\`*_{}[]()#+-.!|~:$<>&"}


def escape_text(text: str) -> str:
    """Document text as inert HTML: every markup-relevant character is an entity, newlines are <br>."""
    return text.translate(_ENTITIES).replace("\r\n", "\n").replace("\n", "<br>")


def escape_label(text: str) -> str:
    """Document-derived text for a Streamlit label or caption (they parse a Markdown subset)."""
    return " ".join(text.split()).translate(_LABEL_ESCAPES)


def block(inner_html: str, css_class: str) -> str:
    """One raw HTML block; `inner_html` must already be escaped (no newlines survive)."""
    return f'<div class="{css_class}">{inner_html.replace(chr(10), "<br>")}</div>'


def _containing_window(citation: Citation, windows: Sequence[Window]) -> Window | None:
    for w in windows:
        if w.doc_id == citation.doc_id and w.start <= citation.start and citation.end <= w.end:
            return w
    return None


def highlighted_passage(citation: Citation, windows: Sequence[Window], chars: int = CONTEXT_CHARS) -> str:
    """The passage around a cited span with the span in <mark>, built from character offsets."""
    w = _containing_window(citation, windows)
    if w is None:
        return block(f"<mark>{escape_text(citation.quote)}</mark>", "qa-passage")
    a, b = citation.start - w.start, citation.end - w.start
    lo, hi = max(0, a - chars), min(len(w.text), b + chars)
    prefix = "…" if lo > 0 else ""
    suffix = "…" if hi < len(w.text) else ""
    inner = (f"{prefix}{escape_text(w.text[lo:a])}<mark>{escape_text(w.text[a:b])}</mark>"
             f"{escape_text(w.text[b:hi])}{suffix}")
    return block(inner, "qa-passage")


def passage_html(window: Window, chars: int = PASSAGE_CHARS) -> str:
    """The start of a window's text, escaped (for "closest passages")."""
    text = window.text[:chars] + ("…" if len(window.text) > chars else "")
    return block(escape_text(text), "qa-passage")


def answer_html(answer: Answer) -> str:
    return block(f"<strong>{escape_text(answer.text)}</strong>", "qa-answer")


def answer_caption(answer: Answer) -> str:
    """Source, page, section, confidence and reader, for `st.caption` (document text escaped)."""
    c = answer.citations[0]
    section = f" · section {escape_label(c.section)}" if c.section.strip() else ""
    return (f"{escape_label(c.source)}, page {c.page}{section} · confidence {answer.score:.0%}"
            f" · reader {escape_label(answer.reader)}")


def describe_growth(window: Window) -> str:
    """How reader-driven growth changed a window, in words ("" when it did not grow)."""
    reasons = {"edge": "answer touched the edge", "null": "no answer although ranked high"}
    steps = [f"+{g.chunks_added} chunk{'s' if g.chunks_added != 1 else ''} {g.side} ({reasons.get(g.reason, g.reason)})"
             for g in window.growth]
    return "; ".join(steps)


def window_rows(answer: Answer) -> list[dict[str, Any]]:
    """One row per window the reader read: rank, retrieval score, where it is, how it grew."""
    cited = answer.citations[0] if answer.citations else None
    rows = []
    for w in answer.windows:
        holds = cited is not None and w.doc_id == cited.doc_id and w.start <= cited.start < w.end
        rows.append({
            "rank": w.rank, "document": w.source, "page": w.page, "retrieval score": round(w.score, 4),
            "chunks": f"{w.first_chunk}-{w.last_chunk}", "characters": f"{w.start}-{w.end}",
            "grew": describe_growth(w) or "no", "answer here": "yes" if holds else "",
        })
    return rows


def alternative_rows(answer: Answer) -> list[dict[str, Any]]:
    rows = []
    for alt in answer.alternatives:
        c = alt.citations[0] if alt.citations else None
        rows.append({"answer": alt.text, "confidence": round(alt.score, 4),
                     "document": c.source if c else "", "page": c.page if c else None,
                     "section": c.section if c else ""})
    return rows


def timings_caption(answer: Answer) -> str:
    parts = [f"{name} {ms:.0f} ms" for name, ms in answer.timings_ms.items()]
    return " · ".join(parts)


def _focus(tp: TokenProbs, limit: int) -> range:
    """Token indices to show: `limit` tokens centred on the most likely start/end."""
    n = len(tp.tokens)
    if n <= limit:
        return range(n)
    peak = max(range(n), key=lambda i: tp.start[i] + tp.end[i])
    lo = min(max(0, peak - limit // 2), n - limit)
    return range(lo, lo + limit)


def token_heatmap_html(tp: TokenProbs, which: str, limit: int = HEATMAP_TOKENS) -> str:
    """The window's tokens shaded by their start ("start") or end ("end") probability.

    Tokens keep the spacing of the document (a space where their offsets are not adjacent);
    each token's probability is in its tooltip. Token text is escaped like all document text.
    """
    probs = tp.start if which == "start" else tp.end
    rgb = "46,160,67" if which == "start" else "31,111,235"
    shown = _focus(tp, limit)
    top = max((probs[i] for i in shown), default=0.0) or 1.0
    parts = ["…" if shown.start > 0 else ""]
    previous_end: int | None = None
    for i in shown:
        start, end = tp.offsets[i]
        if previous_end is not None and start > previous_end:
            parts.append(" ")
        previous_end = end
        alpha = min(1.0, probs[i] / top)
        parts.append(f'<span style="background-color: rgba({rgb},{alpha:.2f}); border-radius: 2px" '
                     f'title="{probs[i]:.3f}">{escape_text(tp.tokens[i])}</span>')
    if shown.stop < len(tp.tokens):
        parts.append("…")
    return block("".join(parts), f"qa-heatmap qa-heatmap-{which}")


def top_token_rows(tp: TokenProbs, k: int = 5) -> list[dict[str, Any]]:
    """The k most likely start and end tokens with their probabilities."""
    rows = []
    for which, probs in (("start", tp.start), ("end", tp.end)):
        best = sorted(range(len(probs)), key=lambda i: probs[i], reverse=True)[:k]
        rows += [{"boundary": which, "token": tp.tokens[i], "probability": round(probs[i], 4),
                  "offset": tp.offsets[i][0]} for i in best]
    return rows
