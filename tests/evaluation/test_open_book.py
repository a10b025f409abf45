"""Open-book evaluation: retrieval recall on hand-made windows, error attribution, the cached index,
and `qa-app eval ... --mode open` end to end with fakes (hashing encoder, regex tokenizer,
in-memory store, a scripted reader)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from indexing.stores import InMemoryStore, StoreSignature
from qa_app.cli import main
from qa_app.config import ChunkingConfig, Settings, load_settings
from qa_app.data.squad import ArticleDoc, QAExample, load_squad
from qa_app.evaluation.open_book import (
    IndexedArticle,
    answer_questions,
    corpus_articles,
    index_key,
    open_settings,
    question_type,
    summarize_records,
)
from qa_app.evaluation.outcomes import attribute
from qa_app.evaluation.results import CAUSES
from qa_app.evaluation.retrieval_hits import ChunkSpans, first_gold_position, mean_reciprocal_rank, recall_at
from qa_app.types import Answer, Chunk, Growth, Hit, Window
from qa_app.wiring import App
from tests.evaluation.scripted import ScriptedReader
from tests.fakes import HashingEncoder
from tests.ui.fake_wiring import CountingTokenizer

# ---------------------------------------------------------------- a tiny SQuAD v2 file

RHINE = ["The Rhine flows from the Swiss Alps to the North Sea. Basel lies on the Rhine.",
         "Barges carry coal and grain along the river through Germany."]
WARSAW = ["Warsaw is the capital of Poland. The Vistula runs through Warsaw.",
          "The Palace of Culture and Science is the tallest building in the city."]
OXYGEN = ["Oxygen was discovered by Joseph Priestley in 1774. It is a chemical element.",
          "Plants release oxygen during photosynthesis."]


def _qa(qid: str, question: str, context: str, answer: str | None) -> dict[str, Any]:
    if answer is None:
        return {"id": qid, "question": question, "answers": [], "is_impossible": True}
    return {"id": qid, "question": question, "is_impossible": False,
            "answers": [{"text": answer, "answer_start": context.index(answer)}]}


def _article(title: str, paragraphs: list[str], qas: list[list[dict[str, Any]]]) -> dict[str, Any]:
    return {"title": title, "paragraphs": [{"context": p, "qas": q} for p, q in zip(paragraphs, qas)]}


def write_dataset(path: Path) -> Path:
    data = {"version": "v2.0", "data": [
        _article("Rhine", RHINE, [[_qa("r1", "Where does the Rhine flow to?", RHINE[0], "North Sea"),
                                   _qa("r2", "What is the capital of Basel?", RHINE[0], None)], []]),
        _article("Warsaw", WARSAW, [[_qa("w1", "What is the capital of Poland?", WARSAW[0], "Warsaw")],
                                    [_qa("w2", "Who built the <script>alert(1)</script> palace?", WARSAW[1], None)]]),
        _article("Oxygen", OXYGEN, [[_qa("o1", "Who discovered oxygen?", OXYGEN[0], "Joseph Priestley")], []]),
    ]}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# What the scripted reader answers (it answers only when the text is in a window it was given).
SCRIPT = {
    "Where does the Rhine flow to?": "North Sea",  # right
    "What is the capital of Basel?": "Rhine",  # an answer to an unanswerable question
    "What is the capital of Poland?": "Vistula",  # wrong span although the gold was read
    "Who built the <script>alert(1)</script> palace?": "",  # right to abstain
    "Who discovered oxygen?": "",  # wrong abstention
}


def app_factory(store: Any, reader: Any) -> Any:
    def make(settings: Settings) -> App:
        return App(settings, encoder=HashingEncoder(), tokenizer=CountingTokenizer(), store=store,
                   readers={"scripted": reader})
    return make


def memory_store() -> InMemoryStore:
    return InMemoryStore(signature=StoreSignature.for_encoder("fake/hashing-64", 64, ChunkingConfig()))


def run_cli(argv: list[str], make_app: Any, capsys: Any) -> tuple[int, str]:
    code = main(argv, make_app=make_app)
    return code, capsys.readouterr().out


@pytest.fixture
def dataset_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no ./qa-app.toml of the developer's checkout
    return write_dataset(tmp_path / "tiny.json")


REQUIRED = ("exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "total", "recall@1", "recall@5",
            "recall@10", "mrr", "hit_recall@1", "hit_recall@5", "hit_recall@10", "hit_mrr", "latency_ms", "errors",
            "model", "reader", "config_hash", "dataset_sha256", "seed", "split", "corpus", "questions", "date",
            "noans_note", "window")


# ---------------------------------------------------------------- retrieval recall on hand-made windows

def test_first_gold_position_needs_the_whole_span_at_its_gold_offset_in_the_right_document() -> None:
    gold = [(100, 110)]
    ranges = [("other", 0, 500),  # right offsets, wrong document
              ("doc", 0, 105),  # cuts the answer
              ("doc", 105, 300),  # starts inside the answer
              ("doc", 90, 110)]  # holds it exactly
    assert first_gold_position(ranges, "doc", gold) == 4
    assert first_gold_position(ranges[:3], "doc", gold) is None
    assert first_gold_position([("doc", 0, 50), ("doc", 95, 120)], "doc", [(10, 60), (100, 110)]) == 2
    assert first_gold_position([], "doc", gold) is None


def test_recall_at_k_and_mrr() -> None:
    positions = [1, 3, None, 7]
    assert recall_at(positions, 1) == 0.25
    assert recall_at(positions, 5) == 0.5
    assert recall_at(positions, 10) == 0.75
    assert mean_reciprocal_rank(positions) == pytest.approx((1 + 1 / 3 + 1 / 7) / 4)
    assert recall_at([], 5) == 0.0 and mean_reciprocal_rank([]) == 0.0


def test_chunk_spans_expand_a_hit_to_its_initial_window() -> None:
    chunks = [Chunk(doc_id="d", index=i, text="x", start=i * 10, end=i * 10 + 12, page=1) for i in range(5)]
    spans = ChunkSpans(chunks)
    assert spans.window_of(chunks[2], 1) == (10, 42)
    assert spans.window_of(chunks[0], 1) == (0, 22)  # no chunk before the first
    assert spans.window_of(chunks[4], 2) == (20, 52)
    assert spans.window_of(chunks[3], 0) == (30, 42)


# ---------------------------------------------------------------- error attribution

def test_attribute_names_each_cause() -> None:
    assert attribute(has_answer=True, exact=1, answered=True, gold_in_windows=False) == "correct"
    assert attribute(has_answer=True, exact=0, answered=True, gold_in_windows=False) == "retrieval_miss"
    assert attribute(has_answer=True, exact=0, answered=False, gold_in_windows=False) == "retrieval_miss"
    assert attribute(has_answer=True, exact=0, answered=True, gold_in_windows=True) == "reader_miss"
    assert attribute(has_answer=True, exact=0, answered=False, gold_in_windows=True) == "wrong_abstention"
    assert attribute(has_answer=False, exact=0, answered=True, gold_in_windows=False) == "false_answer"
    assert attribute(has_answer=False, exact=1, answered=False, gold_in_windows=False) == "correct"


def test_question_type_is_the_first_wh_word() -> None:
    assert question_type("In what year did it end?") == "what"
    assert question_type("Whom did he marry?") == "who"
    assert question_type("How many, and which ones?") == "how"
    assert question_type("Name the river.") == "other"


class ScriptedPipeline:
    """Returns prepared answers (hand-made windows) instead of retrieving and reading."""

    def __init__(self, answers: dict[str, Answer]) -> None:
        self._answers = answers

    def ask(self, question: str) -> Answer:
        return self._answers[question]


class ListRetriever:
    def __init__(self, hits: dict[str, list[Hit]]) -> None:
        self._hits = hits

    def retrieve(self, query: str, k: int) -> list[Hit]:
        return self._hits.get(query, [])[:k]


def _example(qid: str, question: str, context: str, answer: str | None, paragraph: int = 1) -> QAExample:
    from qa_app.data.squad import GoldAnswer

    answers = () if answer is None else (GoldAnswer(answer, context.index(answer)),)
    return QAExample(id=qid, question=question, context=context, answers=answers, is_impossible=answer is None,
                     title="T", article_index=0, paragraph_index=paragraph)


def test_answer_questions_attributes_every_cause_from_the_windows_read() -> None:
    p0, p1 = "First paragraph about nothing.", "Ada Lovelace wrote the first program in 1843."
    article = ArticleDoc(index=0, title="T", text=p0 + "\n\n" + p1, paragraph_starts=(0, len(p0) + 2))
    base = len(p0) + 2
    ada = (base, base + len("Ada Lovelace"))  # gold span of "Who wrote ..." in the article

    def win(start: int, end: int, rank: int, doc: str = "D", growth: tuple[Growth, ...] = ()) -> Window:
        return Window(doc_id=doc, source="T.txt", title="T", text=article.text[start:end], start=start, end=end,
                      first_chunk=0, last_chunk=0, rank=rank, growth=growth)

    holding = win(base, len(article.text), rank=2, growth=(Growth("right", 1, "edge"),))
    missing = win(0, len(p0), rank=1)
    questions = {
        "q-right": ("Who wrote the first program?", "Ada Lovelace", [missing, holding]),
        "q-retrieval": ("Who wrote it, really?", "", [missing]),
        "q-reader": ("Who wrote the program then?", "1843", [holding, missing]),
        "q-abstain": ("Who wrote the program again?", "", [missing, holding]),
        "q-noans": ("When did Ada sing?", "1843", [holding]),
    }
    answers, examples = {}, []
    for qid, (question, text, windows) in questions.items():
        answers[question] = Answer(question=question, text=text, score=0.5, windows=tuple(windows),
                                   timings_ms={"retrieve": 1.0, "read": 2.0}, no_answer_margin=1.0 if text else -2.0)
        examples.append(_example(qid, question, p1, None if qid == "q-noans" else "Ada Lovelace"))
    chunk = Chunk(doc_id="D", index=1, text=p1, start=base, end=len(article.text), page=1)
    hits = {"Who wrote the first program?": [Hit(chunk=chunk, score=1.0, rank=1)]}
    records = answer_questions(ScriptedPipeline(answers), ListRetriever(hits), examples,
                               {0: IndexedArticle(doc_id="D", article=article)}, ChunkSpans([chunk]),
                               width=1, candidates=30, count_tokens=lambda t: len(t.split()))
    by_id = {r.id: r for r in records}
    assert {qid: r.cause for qid, r in by_id.items()} == {
        "q-right": "correct", "q-retrieval": "retrieval_miss", "q-reader": "reader_miss",
        "q-abstain": "wrong_abstention", "q-noans": "false_answer"}
    assert by_id["q-right"].window_position == 2  # windows are taken in rank order, not list order
    assert by_id["q-reader"].window_position == 2
    assert by_id["q-retrieval"].window_position is None
    assert by_id["q-right"].hit_position == 1 and by_id["q-reader"].hit_position is None
    assert by_id["q-noans"].window_position is None and by_id["q-noans"].hit_position is None
    assert by_id["q-right"].growth_steps == 1 and by_id["q-retrieval"].growth_steps == 0
    assert by_id["q-right"].tokens_read == len(p0.split()) + len(p1.split())
    assert by_id["q-right"].na_score == -1.0 and by_id["q-right"].qtype == "who"
    assert holding.start <= ada[0] and ada[1] <= holding.end and not missing.end >= ada[1]

    summary = summarize_records(records)
    errors = summary["errors"]
    assert errors["total"] == 4 and errors["counts"] == {c: 1 for c in CAUSES}
    assert sum(errors[c] for c in CAUSES) == pytest.approx(1.0)
    assert summary["recall@1"] == 0.0 and summary["recall@5"] == 0.75  # 3 of 4 answerable held by a window
    assert summary["mrr"] == pytest.approx((1 / 2 + 1 / 2 + 1 / 2) / 4)
    assert summary["hit_recall@1"] == 0.25
    assert summary["HasAns_exact"] == 25.0 and summary["NoAns_exact"] == 0.0 and summary["total"] == 5
    assert summary["latency_ms"]["read"]["p50"] == 2.0 and "end_to_end" in summary["latency_ms"]
    assert summary["window"]["growth_steps"] == 4  # every question but q-retrieval read the grown window
    assert summary["by_question_type"]["who"]["count"] == 4


# ---------------------------------------------------------------- corpus and cache

def test_cache_key_and_settings(tmp_path: Path) -> None:
    settings = load_settings(overrides={"data_dir": str(tmp_path)}, environ={})
    key = index_key("sha", "all", settings.chunking, "enc")
    assert key == index_key("sha", "all", settings.chunking, "enc")
    assert len({key, index_key("sha", "test", settings.chunking, "enc"), index_key("other", "all", settings.chunking, "enc"),
                index_key("sha", "all", ChunkingConfig(chunk_tokens=100), "enc"),
                index_key("sha", "all", settings.chunking, "enc2")}) == 5
    opened = open_settings(settings, "sha", "all", "enc")
    assert Path(opened.store.data_dir).parent == tmp_path / "eval-cache"
    assert opened.retrieval.top_k == 10 and opened.store.collection != settings.store.collection
    assert open_settings(settings.replace(top_k=20), "sha", "all", "enc").retrieval.top_k == 20


def test_corpus_articles_small_file_and_unknown_corpus(dataset_path: Path) -> None:
    from qa_app.errors import ConfigError

    dataset = load_squad(dataset_path)
    assert corpus_articles(dataset, "all", "all") == [0, 1, 2]
    assert corpus_articles(dataset, "test", "all") == [0, 1, 2]  # no fixed split in a 3-article file
    with pytest.raises(ConfigError):
        corpus_articles(dataset, "some", "all")


# ---------------------------------------------------------------- the command

def test_cli_open_mode_prints_one_json_object_with_the_required_keys(
    dataset_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reader, store = ScriptedReader(SCRIPT), memory_store()
    out_dir, html_path = tmp_path / "out", tmp_path / "report.html"
    code, out = run_cli(["eval", str(dataset_path), "--mode", "open", "--corpus", "all", "--reader", "scripted",
                         "--json", "--out", str(out_dir), "--report", str(html_path)], app_factory(store, reader), capsys)
    assert code == 0
    report = json.loads(out, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    missing = [k for k in REQUIRED if k not in report]
    assert not missing
    assert report["mode"] == "open" and report["corpus"] == "all" and report["questions"] == 5
    assert report["split"] == "all"  # a user's file is scored in full unless a split is asked for
    assert report["total"] == 5 and report["HasAns_total"] == 3 and report["NoAns_total"] == 2
    # every article is one chunk here, so the 10 windows read hold every gold answer
    assert report["recall@10"] == 1.0 and report["hit_recall@10"] == 1.0
    assert report["exact"] == pytest.approx(40.0)  # r1 and w2 right
    # the same reader on the same questions with only their own paragraph: r1 right, w1 and o1 wrong
    gold = report["gold_same_questions"]
    assert gold["HasAns_exact"] == pytest.approx(100 / 3, abs=0.01) and gold["NoAns_exact"] == pytest.approx(50.0)
    assert gold["open_HasAns_exact_share"] == pytest.approx(report["HasAns_exact"] / gold["HasAns_exact"], abs=1e-3)
    assert report["errors"]["counts"] == {"retrieval_miss": 0, "reader_miss": 1, "wrong_abstention": 1,
                                          "false_answer": 1}
    for stage in ("retrieve", "windows", "read", "total", "end_to_end"):
        assert set(report["latency_ms"][stage]) >= {"p50", "p95"}
    assert report["retrieval"]["top_k"] >= 10
    assert report["index"]["added"] == 3 and len(store.documents()) == 3
    assert sorted(d.source for d in store.documents()) == ["Oxygen.txt", "Rhine.txt", "Warsaw.txt"]
    assert len(reader.questions) >= 5
    rows = (out_dir / "scripted-open-all-all-predictions.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 5 and json.loads(rows[0])["cause"] in ("correct", *CAUSES)
    assert json.loads((out_dir / "scripted-open-all-all-metrics.json").read_text())["dataset_sha256"] == report["dataset_sha256"]
    page = html_path.read_text(encoding="utf-8")
    assert 'id="recall-curve"' in page and "<script>" not in page


def test_second_run_reuses_the_cached_index(dataset_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = memory_store()
    factory = app_factory(store, ScriptedReader(SCRIPT))
    argv = ["eval", str(dataset_path), "--mode", "open", "--reader", "scripted", "--json"]
    first = json.loads(run_cli(argv, factory, capsys)[1])
    second = json.loads(run_cli(argv, factory, capsys)[1])
    assert first["index"]["added"] == 3
    assert "added" not in second["index"] and second["index"]["unchanged"] == 3
    assert first["exact"] == second["exact"] and first["config_hash"] == second["config_hash"]


def test_cached_chroma_index_survives_between_runs(dataset_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def factory(settings: Settings) -> App:  # the real embedded Chroma store in the data dir
        return App(settings, encoder=HashingEncoder(dimension=384), tokenizer=CountingTokenizer(),
                   readers={"scripted": ScriptedReader(SCRIPT)})

    argv = ["eval", str(dataset_path), "--mode", "open", "--reader", "scripted", "--json", "--limit", "2"]
    first = json.loads(run_cli(argv, factory, capsys)[1])
    second = json.loads(run_cli(argv, factory, capsys)[1])
    assert first["index"]["added"] == 3 and second["index"]["unchanged"] == 3
    assert Path(second["index"]["dir"]).is_dir() and "eval-cache" in second["index"]["dir"]
    assert second["questions"] == 2


def test_compare_windows_runs_fixed_and_dynamic_on_the_same_questions(
    dataset_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reader = ScriptedReader(SCRIPT)
    code, out = run_cli(["eval", str(dataset_path), "--mode", "open", "--reader", "scripted", "--json",
                         "--compare-windows"], app_factory(memory_store(), reader), capsys)
    assert code == 0
    compare = json.loads(out)["compare_windows"]
    assert compare["fixed"]["dynamic"] is False and compare["fixed"]["window_chunks"] == 1
    assert compare["dynamic"]["dynamic"] is True
    for entry in compare.values():
        assert {"exact", "f1", "tokens_read_per_question", "latency_ms"} <= set(entry)
    asked = [q for q in reader.questions if q == "Who discovered oxygen?"]
    assert len(asked) >= 2  # asked once per window setting


def test_cli_open_mode_text_output_and_one_reader_only(dataset_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    factory = app_factory(memory_store(), ScriptedReader(SCRIPT))
    code, out = run_cli(["eval", str(dataset_path), "--mode", "open", "--reader", "scripted"], factory, capsys)
    assert code == 0 and "EM 40.00" in out and "reader_miss" in out
    code = main(["eval", str(dataset_path), "--mode", "open", "--reader", "scripted,other"], make_app=factory)
    assert code == 2 and "one reader" in capsys.readouterr().err
