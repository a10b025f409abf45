"""The conversational benchmark's dialogues: which rules rewrite a follow-up, and how dialogues are cut."""

from __future__ import annotations

import pytest

from qa_app.data.squad import GoldAnswer, QAExample
from qa_app.evaluation.dialogue import (
    build_dialogues,
    make_dependent,
    replace_answers,
    replace_subject,
    subject_forms,
    what_about,
)


def example(qid: str, question: str, answer: str, article: int = 0, title: str = "Normans",
            paragraph: int = 0) -> QAExample:
    context = f"Some text holding {answer} somewhere."
    return QAExample(id=qid, question=question, context=context,
                     answers=(GoldAnswer(text=answer, start=context.index(answer)),), is_impossible=False,
                     title=title, article_index=article, paragraph_index=paragraph)


@pytest.mark.parametrize(("title", "forms"), [
    ("Normans", ("Norman", "Normans")),
    ("Sky_(United_Kingdom)", ("Sky", "Skys")),
    ("Fresno,_California", ("Fresno", "Fresnos")),
    ("Scottish_Parliament", ("Scottish Parliament", "Scottish Parliaments")),
    ("Civil_disobedience", ("Civil disobedience", "Civil disobediences")),
])
def test_subject_forms(title: str, forms: tuple[str, str]) -> None:
    assert subject_forms(title) == forms


@pytest.mark.parametrize(("question", "title", "expected"), [
    ("When did the Normans conquer England?", "Normans", "When did they conquer England?"),
    ("What was Warsaw's Old Town listed as in 1980?", "Warsaw", "What was its Old Town listed as in 1980?"),
    ("Who elects the Scottish Parliament?", "Scottish_Parliament", "Who elects it?"),
    ("Where does the Rhine begin?", "Rhine", "Where does it begin?"),
    ("Who defeated the Normans?", "Normans", "Who defeated them?"),
    ("What religion were the Normans?", "Normans", "What religion were they?"),
    ("Who was the Normans' main enemy in Italy?", "Normans", "Who was their main enemy in Italy?"),
    ("Scottish Parliament members are elected how?", "Scottish_Parliament", "It members are elected how?"),
    ("What is the capital of France?", "Rhine", "What is the capital of France?"),
    ("Where is Rhinebeck?", "Rhine", "Where is Rhinebeck?"),  # whole words only
])
def test_replace_subject(question: str, title: str, expected: str) -> None:
    assert replace_subject(question, title) == expected


def test_replace_answers_names_earlier_answers_by_pronoun_and_leaves_short_ones() -> None:
    assert replace_answers("When did Rollo sign the treaty?", ["Rollo"]) == "When did it sign the treaty?"
    assert replace_answers("Who signed the Treaty of Saint-Clair?", ["treaty of saint-clair"]) == "Who signed it?"
    assert replace_answers("What happened in 10 AD?", ["10"]) == "What happened in 10 AD?"
    assert replace_answers("When did Rollover happen?", ["Rollo"]) == "When did Rollover happen?"


def test_what_about_needs_four_shared_leading_words_and_something_left() -> None:
    previous = "How many people live in Warsaw?"
    assert what_about("How many people live in Warsaw's metro area?", previous) == "What about Warsaw's metro area?"
    assert what_about("How many people work in Warsaw?", previous) == "How many people work in Warsaw?"
    assert what_about("How many people live in Warsaw?", previous) == "How many people live in Warsaw?"


def test_make_dependent_records_the_rules_and_keeps_untouched_turns_self_contained() -> None:
    first = example("q1", "Who led the Normans?", "Rollo")
    turn = make_dependent(example("q2", "When did Rollo lead the Normans?", "911"), [first], first.question)
    assert turn.asked == "When did it lead them?" and turn.rules == ("subject", "answer")
    assert turn.kind == "dependent"
    plain = make_dependent(example("q3", "What is a duchy?", "a territory"), [first], first.question)
    assert plain.asked == "What is a duchy?" and plain.kind == "self-contained" and plain.rules == ()


def test_build_dialogues_cuts_runs_per_article_and_ends_each_with_a_topic_shift() -> None:
    normans = [example(f"n{i}", f"Question {i} about the Normans?", f"answer{i}") for i in range(7)]
    rhine = [example(f"r{i}", f"Question {i} about the Rhine?", f"answer{i}", article=1, title="Rhine")
             for i in range(3)]
    dialogues = build_dialogues([*normans, *rhine], turns=3)
    assert [d.id for d in dialogues] == ["n0+3", "n3+3", "r0+3"]  # n6 does not fill a dialogue
    first, second, third = dialogues
    assert [t.kind for t in first.turns] == ["first", "dependent", "dependent", "topic-shift"]
    assert first.turns[0].asked == "Question 0 about the Normans?"
    assert first.turns[1].asked == "Question 1 about them?"
    assert first.turns[-1].example.id == "r0" and second.turns[-1].example.id == "r0"
    assert third.turns[-1].example.id == "n0"  # wraps around to the first article
    assert build_dialogues([*normans, *rhine], turns=3) == dialogues  # deterministic


def test_build_dialogues_skips_unanswerable_questions_and_needs_two_turns() -> None:
    unanswerable = QAExample(id="u", question="Who?", context="x", answers=(), is_impossible=True, title="Normans",
                             article_index=0, paragraph_index=0)
    assert build_dialogues([unanswerable, example("a", "A?", "aaa")], turns=2) == []
    with pytest.raises(ValueError):
        build_dialogues([], turns=1)
