"""Conversation memory: follow-ups borrow the previous turn's content words for retrieval."""

from __future__ import annotations

from qa_app.conversation import Turn, leans_on_history, retrieval_query
from qa_app.text import content_words

HISTORY = [Turn(question="Where does the Rhine river rise?", answer="in the Swiss Alps")]


def test_follow_up_with_a_pronoun_carries_the_previous_terms() -> None:
    query = retrieval_query("How long is it?", HISTORY)
    assert query.startswith("How long is it?")
    for word in ("rhine", "river", "rise", "swiss", "alps"):
        assert word in query.lower().split()


def test_self_contained_question_is_unchanged() -> None:
    question = "Which planet has the brightest rings of ice?"
    assert not leans_on_history(question)
    assert retrieval_query(question, HISTORY) == question


def test_without_history_the_question_is_the_query() -> None:
    assert retrieval_query("How long is it?", []) == "How long is it?"


def test_questions_starting_with_and_or_what_about_lean_on_history() -> None:
    assert leans_on_history("And the Danube river delta region?")
    assert leans_on_history("What about the Danube river delta region?")
    assert "rhine" in retrieval_query("And the Danube river delta region?", HISTORY).lower()


def test_short_questions_lean_on_history() -> None:
    assert leans_on_history("Why?")
    assert "rhine" in retrieval_query("Why?", HISTORY).lower()


def test_only_the_last_turn_is_carried_and_own_words_are_not_repeated() -> None:
    history = [Turn("Where do alpacas graze?", "the Andes"), *HISTORY]
    query = retrieval_query("Does the river flow north?", history)
    words = query.lower().split()
    assert "andes" not in words and "alpacas" not in words
    assert words.count("river") == 1


def test_carried_words_are_limited() -> None:
    long_turn = Turn(question=" ".join(f"topic{i}" for i in range(40)), answer="")
    query = retrieval_query("What is it?", [long_turn], max_carried=5)
    assert query == "What is it? topic0 topic1 topic2 topic3 topic4"


def test_nothing_to_carry_leaves_the_question() -> None:
    assert retrieval_query("What is it?", [Turn(question="what is it", answer="")]) == "What is it?"


def test_deterministic() -> None:
    queries = {retrieval_query("Who built it there?", HISTORY) for _ in range(5)}
    assert len(queries) == 1


def test_content_words_drop_stop_words_and_repeats_in_order() -> None:
    assert content_words("The river, the RIVER and the Alps") == ["river", "alps"]


def test_content_words_take_another_stop_list() -> None:
    # the baseline reader passes its own, shorter list and compares the words as a set
    assert content_words("Can the river not rise?") == ["river", "rise"]
    assert content_words("Can the river not rise?", frozenset({"the"})) == ["can", "river", "not", "rise"]
