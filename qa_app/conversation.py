"""Conversation memory: turn a follow-up question into a self-contained retrieval query.

Deterministic: when a question leans on the conversation (pronouns, "and ...", very few content
words), the content words of the previous question and its answer are carried into the query.
The reader still reads the question as asked; only retrieval uses the expanded query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

_WORD = re.compile(r"\w+", re.UNICODE)
_LEANING = frozenset(
    "he she it they him her his hers its their theirs them this that these those there then "
    "former latter one ones same other another second first".split()
)
_STOP = frozenset(
    "a an the of in on at to for by with from and or is are was were be been being what which who whom "
    "whose when where why how did do does done this that these those it its as into than then there "
    "their they he she his her we you i me my our your about also any some much many can could would "
    "should will shall may might must has have had not no yes so if but".split()
)
MIN_CONTENT_WORDS = 3


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str = ""


def content_words(text: str) -> list[str]:
    seen: list[str] = []
    for word in _WORD.findall(text.lower()):
        if word not in _STOP and word not in seen:
            seen.append(word)
    return seen


def leans_on_history(question: str) -> bool:
    words = _WORD.findall(question.lower())
    if not words:
        return False
    if words[0] in ("and", "also", "what about", "how about") or question.lower().startswith(("what about", "how about")):
        return True
    if any(w in _LEANING for w in words):
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
