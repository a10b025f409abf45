"""The training mix: every example it builds keeps exact gold offsets, and each part does what it says."""

from __future__ import annotations

import json
import random
from pathlib import Path

from qa_app.data.squad import GoldAnswer, QAExample, load_squad
from qa_app.training.mix import (
    MixConfig,
    build_training_mix,
    mined_negative,
    overlapping_paragraphs,
    with_neighbours,
    with_pdf_noise,
)

PARAGRAPHS = [
    "The otter lives near rivers and eats fish, crabs and frogs in the northern forests of the country.",
    "Otters were hunted for their fur until the nineteenth century, when the practice was finally banned by law.",
    "A group of otters is called a romp; on land they are known as a bevy, a lodge or a family of animals.",
    "Sea otters use stones as tools to open shellfish, a behaviour first described by naturalists in 1903.",
]


def example(paragraph: int, answer: str, *, qid: str = "q", impossible: bool = False) -> QAExample:
    context = PARAGRAPHS[paragraph]
    answers = () if impossible else (GoldAnswer(answer, context.index(answer)),)
    return QAExample(id=qid, question=f"What about {answer}?", context=context, answers=answers,
                     is_impossible=impossible, title="Otter_facts", article_index=0, paragraph_index=paragraph)


def assert_offsets_hold(e: QAExample) -> None:
    for a in e.answers:
        assert e.context[a.start : a.end] == a.text


def test_neighbours_surround_the_paragraph_and_move_the_answer() -> None:
    e = example(1, "nineteenth century")
    grown = with_neighbours(e, PARAGRAPHS, random.Random(0), window_chars=10_000)
    assert grown.context == "\n\n".join(PARAGRAPHS)
    assert grown.answers[0].start == e.answers[0].start + len(PARAGRAPHS[0]) + 2
    assert_offsets_hold(grown)
    small = with_neighbours(e, PARAGRAPHS, random.Random(0), window_chars=len(e.context) + 5)
    assert small.context == e.context


def test_pdf_noise_breaks_lines_adds_furniture_and_keeps_answers_whole() -> None:
    e = example(3, "shellfish")
    for seed in range(30):
        noisy = with_pdf_noise(e, random.Random(seed), page=17)
        assert_offsets_hold(noisy)
        assert "\n" not in noisy.answers[0].text and noisy.answers[0].text == "shellfish"
        assert noisy.context.startswith("Otter facts") and noisy.context.endswith("\n17")
        assert noisy.context.count("\n") >= 3  # header, at least one hard break, footer
    hyphenated = [with_pdf_noise(example(1, "fur"), random.Random(s), page=1).context for s in range(40)]
    assert any("-\n" in text for text in hyphenated)


def test_a_mined_negative_asks_a_paragraph_without_the_answer() -> None:
    e = example(0, "fish")
    negative = mined_negative(e, PARAGRAPHS, random.Random(1))
    assert negative is not None and negative.is_impossible and negative.answers == ()
    assert "fish" not in negative.context.lower() and negative.paragraph_index != 0
    assert mined_negative(example(0, "otter"), PARAGRAPHS, random.Random(1)) is None  # every paragraph has it


def squad_file(path: Path, articles: list[tuple[str, list[str], list[tuple[str, str, bool]]]]) -> Path:
    """A SQuAD v2 file: (title, paragraphs, [(question id, answer or "", impossible)] on paragraph 0)."""
    data = []
    for title, paragraphs, questions in articles:
        ps = [{"context": p, "qas": []} for p in paragraphs]
        for qid, answer, impossible in questions:
            answers = [] if impossible else [{"text": answer, "answer_start": paragraphs[0].index(answer)}]
            ps[0]["qas"].append({"id": qid, "question": f"q {qid}?", "is_impossible": impossible, "answers": answers})
        data.append({"title": title, "paragraphs": ps})
    path.write_text(json.dumps({"version": "v2.0", "data": data}), encoding="utf-8")
    return path


def test_the_mix_drops_overlapping_paragraphs_copies_unanswerables_and_keeps_offsets(tmp_path: Path) -> None:
    v1 = load_squad(squad_file(tmp_path / "v1.json", [
        ("Otters", [PARAGRAPHS[0], PARAGRAPHS[1], PARAGRAPHS[3]], [("a", "rivers", False), ("b", "fish", False)]),
        ("Copied", [PARAGRAPHS[2] + " Extra words here.", PARAGRAPHS[3]], [("c", "romp", False)]),
    ]))
    v2 = load_squad(squad_file(tmp_path / "v2.json", [
        ("Reserved", [PARAGRAPHS[2], "Unrelated text about the moon and its many long and cold nights in winter."],
         [("d", "romp", False), ("e", "", True)]),
    ]))
    assert overlapping_paragraphs(v1, v2) == {(1, 0)}
    config = MixConfig(unanswerable_copies=3, mined_negative_share=1.0, long_window_share=0.5, pdf_noise_share=0.5)
    mix = build_training_mix(v1=v1, v2=v2, v2_train=list(v2.examples), config=config)
    ids = [e.id for e in mix.examples]
    assert "c" not in ids and mix.dropped_paragraphs == ["Copied #0"]
    assert ids.count("e") == 3 and ids.count("d") == 1
    assert {"a-mined", "b-mined"} & set(ids)
    assert mix.counts["v1.1 questions"] == 2 and mix.counts["v2 train unanswerable (with copies)"] == 3
    for e in mix.examples:
        assert_offsets_hold(e)
        assert e.is_impossible == (not e.answers)
    again = build_training_mix(v1=v1, v2=v2, v2_train=list(v2.examples), config=config)
    assert [(e.id, e.context) for e in again.examples] == [(e.id, e.context) for e in mix.examples]
