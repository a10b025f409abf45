"""Conversation memory: what a follow-up question can borrow from the turns before it.

Deterministic. A question "leans on" the conversation when it has a pronoun or a determiner that
points back ("it", "that", "its"), starts with "and" / "what about", or has very few content words.
For such a question retrieval (`qa_app.retrieval.conversational`) also searches for the question
plus the content words of the most recent turns (`history_query`) and looks near the last cited
answer; readers that gain from it (`reads_history_query` in the registry) read the history query too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from qa_app.text import content_words, words

_LEANING = frozenset(
    "he she it they him her his hers its their theirs them this that these those there then "
    "former latter one ones same other another second first".split()
)
MIN_CONTENT_WORDS = 3


@dataclass(frozen=True)
class Turn:
    """One earlier turn: what was asked, what was answered and, when known, where the answer was
    cited (document id and the index of the chunk holding it)."""

    question: str
    answer: str = ""
    doc_id: str = ""
    chunk: int = -1  # index of the chunk holding the cited answer; -1 = not known

    @classmethod
    def from_answer(cls, answer: Any) -> "Turn":
        """The turn of an `Answer` (question, text and where its best answer was cited)."""
        cited = answer.citations[0] if answer.found and answer.citations else None
        return cls(question=answer.question, answer=answer.text, doc_id=cited.doc_id if cited else "",
                   chunk=cited.chunk if cited else -1)

    @property
    def cited(self) -> bool:
        return bool(self.doc_id) and self.chunk >= 0


def leans_on_history(question: str) -> bool:
    tokens = words(question)
    if not tokens:
        return False
    if tokens[0] in ("and", "also") or question.lower().startswith(("what about", "how about")):
        return True
    if any(w in _LEANING for w in tokens):
        return True
    return len(content_words(question)) < MIN_CONTENT_WORDS


def history_query(question: str, history: Sequence[Turn], turns: int = 1, max_carried: int = 12) -> str:
    """The question plus the content words of the last `turns` turns, most recent turn first, words
    the question already has left out, at most `max_carried` of them."""
    own = set(content_words(question))
    carried: list[str] = []
    for turn in reversed(history[-turns:] if turns > 0 else []):
        for w in content_words(f"{turn.question} {turn.answer}"):
            if w not in own and w not in carried:
                carried.append(w)
    carried = carried[:max_carried]
    return f"{question} {' '.join(carried)}".strip() if carried else question


def retrieval_query(question: str, history: Sequence[Turn], max_carried: int = 12) -> str:
    """The history query of the last turn when the question leans on history, else the question."""
    if not history or not leans_on_history(question):
        return question
    return history_query(question, history, turns=1, max_carried=max_carried)
