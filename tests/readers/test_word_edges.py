"""Answer spans snapped to whole words (qa_app/readers/word_edges.py)."""

from __future__ import annotations

import pytest

from qa_app.readers.word_edges import MAX_GROWTH, snap_to_words


def snapped(text: str, cut: str, occurrence: int = 0) -> str:
    """The snapped answer for the model's cut `cut` (its `occurrence`-th place in `text`)."""
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(cut, start + 1)
    s, e = snap_to_words(text, start, start + len(cut))
    return text[s:e]


@pytest.mark.parametrize(("text", "cut", "expected"), [
    ("Use the option --with-internal-tzcode when you configure.", "internal-tzcode", "--with-internal-tzcode"),
    ("Data go into R/sysdata.rda, not into data/.", "sysdata", "R/sysdata.rda"),
    ("Profiles are written to Rprof.out.", "Rprof", "Rprof.out"),  # the full stop ends the sentence
    ("Then #define MATHLIB_STANDALONE first", "MATHLIB", "MATHLIB_STANDALONE"),
    ("Run ./configure MAKE=gmake instead", "gmake", "MAKE=gmake"),
    ("It needs R (>= 4.0) at least", "R (>= 4.0", "R (>= 4.0)"),  # the bracket the answer opened stays
    ("turn off the ‘App Nap’ feature", "App Nap’", "App Nap"),  # an unmatched closing quote goes
    ("The capital is Paris, on the Seine.", "Paris,", "Paris"),
    ("The capital is Paris, on the Seine.", "Paris", "Paris"),  # whole words stay as they are
    ("in (1990) it rained", "1990", "1990"),  # brackets around the answer are shed again
])
def test_edges_move_to_whole_words_and_shed_enclosing_punctuation(text: str, cut: str, expected: str) -> None:
    assert snapped(text, cut) == expected


def test_a_newline_is_a_word_edge_and_empty_or_invalid_spans_are_left_alone() -> None:
    text = "set R_LIBS\nto the path"
    assert snapped(text, "LIBS") == "R_LIBS"
    assert snap_to_words(text, 3, 3) == (3, 3)
    assert snap_to_words(text, 5, 2) == (5, 2)
    assert snap_to_words("...", 1, 2) == (0, 1)  # never shrinks to nothing


def test_a_word_longer_than_the_growth_limit_keeps_the_models_edge() -> None:
    text = "see " + "x" * (MAX_GROWTH + 10) + "abc" + "y" * (MAX_GROWTH + 10) + " end"
    start = text.index("abc")
    assert snap_to_words(text, start, start + 3) == (start, start + 3)
