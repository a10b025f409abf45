"""Evaluation on the user's own documents (`qa-app eval QUESTIONS --collection NAME`): questions asked
through the real pipeline over a tiny indexed collection, with a scripted reader whose answers the
tests choose; page@1, source@1, abstention, follow-ups with their conversation, the outputs of the
command, and `qa-app eval user.json` scoring every question of a user's SQuAD file by default."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Sequence

import pytest

from indexing.stores import InMemoryStore, StoreSignature
from qa_app.cli import main
from qa_app.config import ENCODER_DIMENSION, Settings
from qa_app.conversation import Turn
from qa_app.data.questions import Question, QuestionSet
from qa_app.errors import QAError, QuestionError
from qa_app.evaluation.collection import (
    ask_questions,
    evaluate_collection,
    expected_sources,
    record_of,
    same_document,
)
from qa_app.evaluation.report import render_collection_report
from qa_app.evaluation.results import CollectionReport
from qa_app.evaluation.run import default_split, eval_mode
from qa_app.types import Answer, Citation
from qa_app.wiring import App
from tests.evaluation import scripted
from tests.fakes import HashingEncoder
from tests.ui.fake_wiring import CountingTokenizer

# ---------------------------------------------------------------- a tiny collection: two documents with pages

MANUAL = ("TL-7 tide logger manual. Chapter one covers the installation of the logger.\f"
          "The sink function sends all console output to a file. Call sink() again to restore the console.\f"
          "Chapter three lists the error codes.")
HISTORY = ("Freedonia was founded in 1901 by Rufus Firefly.\f"
           "The capital of Freedonia is Fredville, on the river.")

# what the scripted reader answers (only when a window it reads holds that text; "" = abstain)
SCRIPT = {
    "Which function sends console output to a file?": "sink",  # right, right page
    "And how do I restore the console?": "sink()",  # a right follow-up
    "Who founded Freedonia?": "Fredville",  # wrong answer from the wrong page of the right document
    "What is the capital of Freedonia?": "",  # wrong abstention
    "And when was it founded?": "1901",  # a right follow-up of an abstained turn
    "What does chapter one cover?": "installation",  # right, no source or page expected
    "Where is the spare battery kept?": "",  # its answer is in no document: a retrieval miss
    "What colour is the cheese of the moon?": "",  # unanswerable, rightly "not found"
    "Who wrote the TL-7 manual?": "TL-7",  # unanswerable, answered anyway
}

QUESTIONS = [
    {"id": "m1", "question": "Which function sends console output to a file?", "answers": ["sink"],
     "source": "manual.txt", "page": 2, "follows": None},
    {"id": "m2", "question": "And how do I restore the console?", "answers": ["sink()"], "source": "manual.txt",
     "page": 2, "follows": "m1"},
    {"id": "h1", "question": "Who founded Freedonia?", "answers": ["Rufus Firefly"], "source": "history.txt", "page": 1,
     "follows": None},
    {"id": "h2", "question": "What is the capital of Freedonia?", "answers": ["Fredville"], "source": "history.txt",
     "page": 2, "follows": None},
    {"id": "h3", "question": "And when was it founded?", "answers": ["1901"], "source": "history.txt", "page": 1,
     "follows": "h2"},
    {"id": "c1", "question": "What does chapter one cover?", "answers": ["the installation"]},
    {"id": "b1", "question": "Where is the spare battery kept?", "answers": ["in the lid"]},
    {"id": "x1", "question": "What colour is the cheese of the moon?", "answers": [], "source": None, "page": None},
    {"id": "x2", "question": "Who wrote the TL-7 manual?", "answers": [], "source": "manual.txt"},
]


class ScriptedReader(scripted.ScriptedReader):
    """The scripted reader of `tests.evaluation.scripted`, abstaining with a finite null-logit difference."""

    abstain_logit_diff = -2.0


def factory(reader: Any, store: Any = None) -> Any:
    """The real wiring with a fake encoder and the scripted reader; `store` None = embedded Chroma."""
    def make(settings: Settings) -> App:
        return App(settings, encoder=HashingEncoder(dimension=ENCODER_DIMENSION), tokenizer=CountingTokenizer(),
                   store=store, readers={"scripted": reader})
    return make


def memory_store() -> InMemoryStore:
    return InMemoryStore(signature=StoreSignature.for_encoder(f"fake/hashing-{ENCODER_DIMENSION}", ENCODER_DIMENSION,
                                                              Settings().chunking))


def index(app: App) -> None:
    for name, text in (("manual.txt", MANUAL), ("history.txt", HISTORY)):
        assert app.indexer.index_bytes(text.encode(), name).status == "added"


def question_set(rows: list[dict[str, Any]] = QUESTIONS) -> QuestionSet:
    qs = tuple(Question(id=r["id"], question=r["question"], answers=tuple(r["answers"]), source=r.get("source"),
                        page=r.get("page"), follows=r.get("follows")) for r in rows)
    return QuestionSet(questions=qs, source="questions.jsonl", sha256="0" * 64, format="jsonl")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no ./qa-app.toml of the developer's checkout
    for name in ("QA_DATA_DIR", "QA_COLLECTION", "QA_READER"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def run_collection(tmp_path: Path) -> tuple[CollectionReport, list[Any], ScriptedReader]:
    reader = ScriptedReader(SCRIPT)
    app = factory(reader, memory_store())(Settings().replace(data_dir=str(tmp_path / "data")))
    index(app)
    dataset = question_set()
    report, rows = evaluate_collection(app=app, dataset=dataset, questions=dataset.questions, reader_name="scripted",
                                       model="models/scripted", seed=0)
    return report, rows, reader


# ---------------------------------------------------------------- scoring

def test_scores_page_source_abstention_and_follow_ups(workdir: Path) -> None:
    report, rows, reader = run_collection(workdir)
    by_id = {r["id"]: r for r in rows}
    assert report["mode"] == "collection" and report["collection"] == "documents" and report["documents"] == 2
    assert report["questions"] == 9 and report["total"] == 9
    # right: m1, m2, h3, c1 ("installation" vs "the installation": SQuAD normalisation drops "the"), x1
    assert report["exact"] == pytest.approx(100 * 5 / 9, abs=1e-4)
    assert report["HasAns_total"] == 7 and report["HasAns_exact"] == pytest.approx(100 * 4 / 7, abs=1e-4)
    assert report["NoAns_total"] == 2 and report["NoAns_exact"] == 50.0
    # page@1 over m1, m2, h1, h2, h3: h1 cites page 2 (wrong page), h2 abstained
    assert report["page@1"] == 0.6 and report["page_questions"] == 5
    # source@1 over the same five (x2 is unanswerable: not scored): only h2 misses
    assert report["source@1"] == 0.8 and report["source_questions"] == 5
    assert report["abstention"] == {"unanswerable": 2, "abstained_on_unanswerable": 0.5, "answerable": 7,
                                    "abstained_on_answerable": round(2 / 7, 4)}
    assert report["follow_ups"]["total"] == 2 and report["follow_ups"]["exact"] == 100.0
    assert report["first_turns"]["total"] == 7 and report["first_turns"]["exact"] == pytest.approx(300 / 7, abs=1e-4)
    assert report["errors"]["counts"] == {"retrieval_miss": 1, "reader_miss": 1, "wrong_abstention": 1,
                                          "false_answer": 1}
    assert {k: by_id[k]["cause"] for k in ("m1", "h1", "h2", "b1", "x1", "x2")} == {
        "m1": "correct", "h1": "reader_miss", "h2": "wrong_abstention", "b1": "retrieval_miss", "x1": "correct",
        "x2": "false_answer"}
    assert (by_id["h1"]["cited_source"], by_id["h1"]["cited_page"]) == ("history.txt", 2)
    assert by_id["h1"]["page_hit"] is False and by_id["h1"]["source_hit"] is True
    assert by_id["h2"]["page_hit"] is False and by_id["h2"]["cited_page"] is None
    assert by_id["c1"]["page_hit"] is None and by_id["c1"]["source_hit"] is None
    assert by_id["x2"]["source_hit"] is None and by_id["x2"]["prediction"] == "TL-7"
    assert report["by_source"]["history.txt"] == {"count": 3, "exact": round(100 / 3, 2), "f1": round(100 / 3, 2)}
    assert set(report["latency_ms"]) >= {"retrieve", "windows", "read", "end_to_end"}
    assert len(reader.questions) >= 9


def test_follow_ups_are_asked_with_their_conversation(workdir: Path) -> None:
    _, rows, _ = run_collection(workdir)
    by_id = {r["id"]: r for r in rows}
    assert [by_id[k]["turn"] for k in ("m1", "m2", "h2", "h3")] == [0, 1, 0, 1]
    assert by_id["m1"]["query"] == by_id["m1"]["question"]
    # the follow-up's retrieval query carries the words of the turn it follows, and that turn's answer
    assert by_id["m2"]["query"].startswith("And how do I restore the console?")
    assert {"function", "sends", "sink"} <= set(by_id["m2"]["query"].split())
    assert {"capital", "freedonia"} <= set(by_id["h3"]["query"].lower().split())
    assert "sink" not in by_id["h3"]["query"]  # h3 follows h2, not the question asked before it


class SpyPipeline:
    """Records the history each question is asked with; answers "A:<question>", or raises for "bad"."""

    def __init__(self) -> None:
        self.histories: dict[str, list[Turn]] = {}

    def ask(self, question: str, history: Sequence[Turn] = ()) -> Answer:
        self.histories[question] = list(history)
        if question == "bad":
            raise QuestionError("cannot ask that")
        return Answer(question=question, text=f"A:{question}", score=0.5, query=question)


def test_history_is_built_like_qa_app_chat_along_each_chain() -> None:
    rows = [("q1", None), ("q2", "q1"), ("q3", "q2"), ("q4", None), ("q5", "q1"), ("bad", "q4"), ("q7", "bad")]
    questions = [Question(id=i, question=i, answers=("x",), follows=f) for i, f in rows]
    spy = SpyPipeline()
    records = ask_questions(spy, questions, {})

    def turn(q: str) -> Turn:
        return Turn(question=q, answer=f"A:{q}")

    assert spy.histories == {
        "q1": [], "q2": [turn("q1")], "q3": [turn("q1"), turn("q2")], "q4": [], "q5": [turn("q1")],
        "bad": [turn("q4")], "q7": [turn("q4")],  # a turn that could not be asked adds nothing, as in chat
    }
    assert [r.turn for r in records] == [0, 1, 2, 0, 1, 1, 2]
    bad = records[5]
    assert bad.prediction == "" and bad.error == "cannot ask that" and records[6].error == ""


def test_a_citation_of_the_same_page_in_another_document_misses() -> None:
    q = Question(id="q", question="Where?", answers=("Fredville",), source="manual.txt", page=2)
    citation = Citation(doc_id="d", source="history.txt", start=0, end=9, page=2, quote="Fredville")
    answer = Answer(question="Where?", text="Fredville", score=0.9, citations=(citation,))
    record = record_of(q, answer, "manual.txt", turn=0, end_to_end_ms=1.0)
    assert record.exact == 1 and record.page_hit is False and record.source_hit is False
    unsourced = record_of(Question(id="q", question="Where?", answers=("Fredville",), page=2), answer, None, 0, 1.0)
    assert unsourced.page_hit is True and unsourced.source_hit is None


def test_expected_sources_match_file_names_and_squad_titles() -> None:
    questions = [Question(id="a", question="?", answers=("x",), source="docs/Manual.TXT"),
                 Question(id="b", question="?", answers=("x",), source="gnuplot.pdf"),
                 Question(id="c", question="?", answers=("x",), title="history"),
                 Question(id="d", question="?", answers=("x",), title="Normans"),
                 Question(id="e", question="?", answers=("x",))]
    sources, unknown = expected_sources(questions, ["manual.txt", "history.txt"])
    assert sources == {"a": "docs/Manual.TXT", "b": "gnuplot.pdf", "c": "history.txt", "d": None, "e": None}
    assert unknown == ["gnuplot.pdf"]
    assert same_document("docs/Manual.TXT", "manual.txt") and not same_document("", "") and not same_document("a", "b")


def test_an_empty_collection_is_refused(workdir: Path) -> None:
    app = factory(ScriptedReader(SCRIPT), memory_store())(Settings().replace(data_dir=str(workdir / "data")))
    dataset = question_set()
    with pytest.raises(QAError, match="no documents are indexed in collection 'documents'"):
        evaluate_collection(app=app, dataset=dataset, questions=dataset.questions, reader_name="scripted", model="m")


def test_html_report_has_the_citation_abstention_and_follow_up_sections(workdir: Path) -> None:
    report, rows, _ = run_collection(workdir)
    page = render_collection_report(report, rows)
    for heading in ("Citations: page@1 and source@1", "Abstention", "Follow-up questions", "By expected document",
                    "Failures"):
        assert f"<h2>{heading}</h2>" in page
    assert 'id="latency-histogram"' in page and 'id="f1-by-source"' in page and "<script" not in page


# ---------------------------------------------------------------- the command

def write_questions(path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in QUESTIONS), encoding="utf-8")
    return path


def test_cli_json_and_out_over_an_indexed_chroma_collection(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reader = ScriptedReader(SCRIPT)
    make_app = factory(reader)  # the embedded Chroma store under --data-dir
    common = ["--data-dir", str(workdir / "data"), "--collection", "mine"]
    index(make_app(Settings().replace(data_dir=str(workdir / "data"), collection="mine")))
    questions = write_questions(workdir / "questions.jsonl")
    out_dir, html = workdir / "out", workdir / "report.html"
    built: list[Settings] = []
    code = main(["eval", str(questions), *common, "--reader", "scripted", "--json", "--out", str(out_dir),
                 "--report", str(html)], make_app=lambda s: built.append(s) or make_app(s))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert {s.reader.calibration for s in built} == {"documents"}  # the threshold the app itself answers with
    report = json.loads(captured.out, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    assert report["collection"] == "mine" and report["mode"] == "collection" and report["format"] == "jsonl"
    assert report["questions"] == 9 and report["page@1"] == 0.6 and report["source@1"] == 0.8
    assert report["exact"] == pytest.approx(100 * 5 / 9, abs=1e-4) and report["follow_ups"]["exact"] == 100.0
    assert report["dataset"] == str(questions) and len(report["dataset_sha256"]) == 64
    assert "collection" in captured.err  # the progress bar
    metrics = json.loads((out_dir / "scripted-collection-mine-metrics.json").read_text(encoding="utf-8"))
    assert metrics["page@1"] == 0.6
    predictions = [json.loads(line) for line in
                   (out_dir / "scripted-collection-mine-predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [p["id"] for p in predictions] == [q["id"] for q in QUESTIONS]
    with (out_dir / "scripted-collection-mine-questions.csv").open(encoding="utf-8", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 9 and table[2]["id"] == "h1" and table[2]["page_hit"] == "False"
    assert table[2]["cited_source"] == "history.txt" and table[2]["cited_page"] == "2"
    assert table[1]["follows"] == "m1" and table[7]["golds"] == "" and table[0]["golds"] == "sink"
    assert "page@1" in html.read_text(encoding="utf-8")


def test_cli_text_summary_and_csv_questions(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = memory_store()
    make_app = factory(ScriptedReader(SCRIPT), store)
    index(make_app(Settings().replace(data_dir=str(workdir / "data"))))
    path = workdir / "questions.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "question", "answers", "source", "page", "follows"])
        for q in QUESTIONS:
            writer.writerow([q["id"], q["question"], "|".join(q["answers"]), q.get("source") or "", q.get("page") or "",
                             q.get("follows") or ""])
    code = main(["eval", str(path), "--data-dir", str(workdir / "data"), "--reader", "scripted"], make_app=make_app)
    out = capsys.readouterr().out
    assert code == 0
    assert "scripted on collection documents (2 documents): EM 55.56" in out
    assert "page@1 0.600 (5 questions); source@1 0.800 (5 questions)" in out
    assert '"not found" on 50% of 2 unanswerable questions (right) and on 29% of 7 answerable ones (wrong)' in out
    assert "follow-ups: EM 100.00 F1 100.00 (2 turns)" in out and "p50" in out


def test_cli_refuses_what_a_collection_run_does_not_take(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_app = factory(ScriptedReader(SCRIPT), memory_store())
    questions = write_questions(workdir / "questions.jsonl")
    base = ["eval", str(questions), "--data-dir", str(workdir / "data"), "--reader", "scripted"]
    assert main([*base, "--split", "test"], make_app=make_app) == 2
    assert "--split" in capsys.readouterr().err
    assert main(base, make_app=make_app) == 2  # nothing indexed
    assert "no documents are indexed" in capsys.readouterr().err
    assert main([*base, "--mode", "gold"], make_app=make_app) == 2
    assert "no paragraphs" in capsys.readouterr().err
    bad = workdir / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "Q?"}\n', encoding="utf-8")
    assert main(["eval", str(bad), "--reader", "scripted"], make_app=make_app) == 2
    assert "line 1: missing field 'answers'" in capsys.readouterr().err


def test_eval_mode_and_default_split() -> None:
    assert eval_mode("q.jsonl", None, None) == "collection" and eval_mode("q.CSV", None, None) == "collection"
    assert eval_mode("user.json", None, None) == "gold" and eval_mode("user.json", None, "mine") == "collection"
    assert eval_mode("user.json", "open", "mine") == "open" and eval_mode("squad-v2", None, None) == "gold"
    assert default_split("squad-v2") == "test" and default_split("user.json") == "all"


# ---------------------------------------------------------------- a user's SQuAD file is scored in full

def many_articles(path: Path, articles: int = 36, per_article: int = 2) -> Path:
    data: dict[str, Any] = {"version": "v2.0", "data": []}
    for a in range(articles):
        context = f"Article {a} says the answer is word{a}."
        qas = [{"id": f"a{a}-q{i}", "question": f"What does article {a} say ({i})?", "is_impossible": False,
                "answers": [{"text": f"word{a}", "answer_start": context.index(f"word{a}")}]}
               for i in range(per_article)]
        data["data"].append({"title": f"T{a}", "paragraphs": [{"context": context, "qas": qas}]})
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_users_squad_file_is_scored_in_full_by_default(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = many_articles(workdir / "user.json")  # 36 articles: as many as the official file has, and more
    make_app = factory(ScriptedReader({}), memory_store())
    code = main(["eval", str(path), "--reader", "scripted", "--json"], make_app=make_app)
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["split"] == "all" and report["questions"] == 72 and report["mode"] == "gold"
    # a split by article is still there when asked for
    assert main(["eval", str(path), "--reader", "scripted", "--json", "--split", "test"], make_app=make_app) == 0
    assert json.loads(capsys.readouterr().out)["questions"] == 7 * 2
    # and a file with fewer articles than the official one has no such split: an error, not all of it
    small = many_articles(workdir / "small.json", articles=3)
    assert main(["eval", str(small), "--reader", "scripted", "--split", "test"], make_app=make_app) == 2
    assert "use split 'all'" in capsys.readouterr().err


def test_a_squad_file_over_the_collection_uses_titles_as_sources(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = memory_store()
    make_app = factory(ScriptedReader({"Who founded Freedonia?": "Rufus Firefly"}), store)
    index(make_app(Settings().replace(data_dir=str(workdir / "data"))))
    context = "Freedonia was founded in 1901 by Rufus Firefly."
    data = {"version": "v2.0", "data": [
        {"title": "history", "paragraphs": [{"context": context, "qas": [
            {"id": "s1", "question": "Who founded Freedonia?", "is_impossible": False,
             "answers": [{"text": "Rufus Firefly", "answer_start": context.index("Rufus")}]}]}]},
        {"title": "Elsewhere", "paragraphs": [{"context": context, "qas": [
            {"id": "s2", "question": "When was Freedonia founded?", "is_impossible": False,
             "answers": [{"text": "1901", "answer_start": context.index("1901")}]}]}]}]}
    path = workdir / "user.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    code = main(["eval", str(path), "--collection", "documents", "--data-dir", str(workdir / "data"),
                 "--reader", "scripted", "--json"], make_app=make_app)
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["format"] == "squad" and report["questions"] == 2
    assert report["source@1"] == 1.0 and report["source_questions"] == 1  # "Elsewhere" names no indexed document
    assert "page@1" not in report and report["exact"] == 50.0


def test_results_conform_to_their_typed_dicts(workdir: Path) -> None:
    from qa_app.evaluation.results import CollectionRow
    from tests.evaluation.test_results import conforms, round_trips

    report, rows, _ = run_collection(workdir)
    assert conforms(report, CollectionReport) == []
    assert [p for r in rows for p in conforms(r, CollectionRow, r["id"])] == []
    assert round_trips(report) and all(round_trips(r) for r in rows)
