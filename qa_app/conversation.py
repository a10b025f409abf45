"""Conversation memory: turn a follow-up question into a self-contained retrieval query.

Deterministic: when a question leans on the conversation (pronouns, "and ...", very few content
words), the content words of the previous question and its answer are carried into the query.
The reader still reads the question as asked; only retrieval uses the expanded query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from qa_app.text import content_words, words

_LEANING = frozenset(
    "he she it they him her his hers its their theirs them this that these those there then "
    "former latter one ones same other another second first".split()
)
MIN_CONTENT_WORDS = 3


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str = ""


def leans_on_history(question: str) -> bool:
    tokens = words(question)
    if not tokens:
        return False
    if tokens[0] in ("and", "also", "what about", "how about") or question.lower().startswith(("what about", "how about")):
        return True
    if any(w in _LEANING for w in tokens):
        return True
    return len(content_words(question)) < MIN_CONTENT_WORDS


def retrieval_query(question: str, history: Sequence[Turn], max_carried: int = 12) -> str:
    """The query used for retrieval: the question, plus carried context when it leans on history."""
    if not history or not leans_on_history(question):
        return question
    last = history[-1]
    own = set(content_words(question))
    carried = [w for w in content_words(f"{last.question} {last.answer}") if w not in own][:max_carried]
    return f"{question} {' '.join(carried)}".strip() if carried else question
