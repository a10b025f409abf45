"""Words of a text for matching: lower-cased `\\w+` tokens, and its content words (stop words dropped).

Pure stdlib, no I/O, no imports from the project: conversation memory (`qa_app.conversation`) and
the baseline reader (`qa_app.readers.baseline`, with its own shorter stop list) share it without
importing each other. It does not normalise answers for scoring (`qa_app.evaluation.metrics`) or
count model tokens.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)
STOP_WORDS = frozenset(
    "a an the of in on at to for by with from and or is are was were be been being what which who whom "
    "whose when where why how did do does done this that these those it its as into than then there "
    "their they he she his her we you i me my our your about also any some much many can could would "
    "should will shall may might must has have had not no yes so if but".split()
)


def words(text: str) -> list[str]:
    """The `\\w+` tokens of `text`, lower-cased, in order (repeats kept)."""
    return _WORD.findall(text.lower())


def content_words(text: str, stop: frozenset[str] = STOP_WORDS) -> list[str]:
    """The words of `text` that are not in `stop`, each once, in first-seen order."""
    return list(dict.fromkeys(w for w in words(text) if w not in stop))
