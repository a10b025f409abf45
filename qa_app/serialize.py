"""Answers and index outcomes as plain JSON-ready dicts (the CLI's --json contract)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from qa_app.conversation import Turn
from qa_app.types import Answer, Citation, Window

CONTEXT_CHARS = 200


def context_around(citation: Citation, windows: tuple[Window, ...], chars: int = CONTEXT_CHARS) -> str:
    """The passage around a cited span, from the window it was read in."""
    for w in windows:
        if w.doc_id == citation.doc_id and w.start <= citation.start and citation.end <= w.end:
            a, b = citation.start - w.start, citation.end - w.start
            return w.text[max(0, a - chars) : b + chars]
    return citation.quote


PREVIEW_CHARS = 160  # of each window read, shown with "not found"


def answer_entry(answer: Answer, windows: tuple[Window, ...]) -> dict[str, Any]:
    c = answer.citations[0]
    return {"text": answer.text, "score": round(answer.score, 4), "source": c.source, "page": c.page,
            "section": c.section, "start": c.start, "end": c.end, "doc_id": c.doc_id, "chunk": c.chunk,
            "context": context_around(c, windows)}


def answer_to_json(answer: Answer) -> dict[str, Any]:
    """`{"question", "answers": [...], "timings_ms"}`; an empty `answers` list means not found."""
    answers = []
    if answer.found and answer.citations:
        answers.append(answer_entry(answer, answer.windows))
        answers.extend(answer_entry(alt, answer.windows) for alt in answer.alternatives if alt.citations)
    return {
        "question": answer.question,
        "answers": answers,
        "query": answer.query,
        "stayed_in": answer.stayed_in,
        "reader": answer.reader,
        "no_answer_score": round(answer.score, 4) if not answer.found else None,
        "windows": [{"source": w.source, "page": w.page, "start": w.start, "end": w.end, "rank": w.rank,
                     "score": round(w.score, 4), "growth": [asdict(g) for g in w.growth],
                     "preview": w.text[:PREVIEW_CHARS]} for w in answer.windows],
        "timings_ms": {k: round(v, 1) for k, v in answer.timings_ms.items()},
    }


def turn_from_json(answer: dict[str, Any]) -> Turn:
    """The conversation turn of an answer in its JSON form (the CLI chat keeps its history so, local or remote)."""
    best = answer["answers"][0] if answer.get("answers") else None
    if best is None:
        return Turn(question=answer["question"])
    return Turn(question=answer["question"], answer=best["text"], doc_id=best.get("doc_id", ""),
                chunk=best.get("chunk", -1))
