"""Question files for evaluation on the user's own documents: CSV, JSONL and SQuAD JSON, the sample
that keeps conversations whole, and a clear DatasetError naming the line (or row) and field of every
problem."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qa_app.data.questions import Question, load_questions, parse_questions, question_format, sample_questions
from qa_app.errors import DatasetError

JSONL_LINES = [
    {"id": "rintro-004", "question": "Which function sends all console output to a file?", "answers": ["sink"],
     "source": "R-intro.pdf", "page": 12, "follows": None},
    {"id": "rintro-005", "question": "And how do I get the output back?", "answers": ["sink()", "sink"],
     "source": "R-intro.pdf", "page": 12, "follows": "rintro-004"},
    {"id": "rintro-090", "question": "Which R function bakes bread?", "answers": [], "source": "R-intro.pdf",
     "page": None, "follows": None},
]


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_jsonl_in_the_benchmark_format(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in JSONL_LINES[:2]) + "\n\n" + json.dumps(JSONL_LINES[2]) + "\n",
                    encoding="utf-8")  # a blank line is skipped
    loaded = load_questions(path)
    assert loaded.format == "jsonl" and loaded.source == str(path) and len(loaded) == 3 and len(loaded.sha256) == 64
    first, follow_up, unanswerable = loaded.questions
    assert first == Question(id="rintro-004", question="Which function sends all console output to a file?",
                             answers=("sink",), source="R-intro.pdf", page=12, follows=None)
    assert follow_up.follows == "rintro-004" and follow_up.answers == ("sink()", "sink")
    assert not unanswerable.has_answer and unanswerable.page is None and first.has_answer


REAL_DOCUMENT_FILES = ("real-docs.jsonl", "real-docs-validation.jsonl")  # the test set and the validation set


@pytest.mark.parametrize("name", REAL_DOCUMENT_FILES)
def test_the_project_real_document_question_files_load_and_pass_their_verifier(name: str, tmp_path: Path) -> None:
    qa_dir = Path(__file__).resolve().parents[2] / "corpora" / "qa"
    path = qa_dir / name
    loaded = load_questions(path)
    assert len(loaded) == len(path.read_text(encoding="utf-8").splitlines())
    assert any(q.follows for q in loaded.questions) and any(not q.has_answer for q in loaded.questions)
    # schema, ids and follow-ups always; every span on its page wherever the manuals are installed
    done = subprocess.run([sys.executable, str(qa_dir / "verify_real_docs.py"), "--questions", str(path),
                           "--allow-missing", "--cache-dir", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(loaded)} valid of {len(loaded)} lines" in done.stdout


def test_csv_with_alternatives_empty_cells_and_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text("\ufeffid,question,answers,source,page,follows\n"
                    'm1,"Which function sends output to a file, then?",sink | sink(),manual.txt,2,\n'
                    "m2,And back?,sink(),manual.txt,,m1\n"
                    ",\n"  # an empty row is skipped
                    "x1,What colour is the moon?,,,,\n", encoding="utf-8")
    loaded = load_questions(path)
    assert loaded.format == "csv"
    m1, m2, x1 = loaded.questions
    assert m1 == Question(id="m1", question="Which function sends output to a file, then?", answers=("sink", "sink()"),
                          source="manual.txt", page=2)
    assert m2.page is None and m2.follows == "m1"
    assert x1.answers == () and x1.source is None and x1.page is None and x1.follows is None


def test_csv_needs_only_question_and_answers_columns(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text("question,answers\nWho?,Ada\nWhen?,\n", encoding="utf-8")
    loaded = load_questions(path)
    assert [(q.id, q.answers) for q in loaded.questions] == [("q1", ("Ada",)), ("q2", ())]


def test_squad_json_keeps_the_article_title_and_has_no_source_or_page(tmp_path: Path) -> None:
    context = "Rufus Firefly founded Freedonia."
    data = {"version": "v2.0", "data": [{"title": "history", "paragraphs": [{"context": context, "qas": [
        {"id": "s1", "question": "Who founded Freedonia?", "is_impossible": False,
         "answers": [{"text": "Rufus Firefly", "answer_start": 0}]},
        {"id": "s2", "question": "Who ruined it?", "is_impossible": True, "answers": []}]}]}]}
    path = tmp_path / "user.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    loaded = load_questions(path)
    assert loaded.format == "squad"
    assert loaded.questions == (
        Question(id="s1", question="Who founded Freedonia?", answers=("Rufus Firefly",), title="history"),
        Question(id="s2", question="Who ruined it?", answers=(), title="history"))
    uploaded = parse_questions(path.read_bytes(), "upload.json")
    assert uploaded.questions == loaded.questions and uploaded.source == "upload.json"
    assert uploaded.sha256 == loaded.sha256


def test_uploaded_bytes_are_read_by_their_name(tmp_path: Path) -> None:
    data = (json.dumps(JSONL_LINES[0]) + "\n").encode()
    assert parse_questions(data, "mine.JSONL").questions[0].id == "rintro-004"
    with pytest.raises(DatasetError, match="bad.json: not in SQuAD format"):
        parse_questions(data, "bad.json")  # one JSONL line is not a SQuAD file; the message names the upload
    with pytest.raises(DatasetError, match=r"\.txt"):
        question_format("questions.txt")


@pytest.mark.parametrize(("line", "message"), [
    ({"question": "Who?"}, "line 2: missing field 'answers'"),
    ({"id": "a", "question": "Who?", "answers": "Ada"}, "line 2: field 'answers': expected a list of strings"),
    ({"id": "a", "question": "Who?", "answers": ["Ada", 3]}, r"line 2: field 'answers\[1\]': expected a string"),
    ({"id": "a", "question": "Who?", "answers": [" "]}, r"line 2: field 'answers\[0\]': empty"),
    ({"id": "a", "question": "  ", "answers": []}, "line 2: field 'question': empty"),
    ({"id": "a", "question": "Who?", "answers": ["Ada"], "page": 0}, "line 2: field 'page': expected a page number"),
    ({"id": "a", "question": "Who?", "answers": ["Ada"], "page": "12"}, "line 2: field 'page'"),
    ({"id": "a", "question": "Who?", "answers": ["Ada"], "page": True}, "line 2: field 'page'"),
    ({"id": "a", "question": "Who?", "answers": [], "page": 3}, "line 2: field 'page': page 3 given for an unanswerable"),
    ({"id": "a", "question": "Who?", "answers": ["Ada"], "source": 5}, "line 2: field 'source'"),
    ({"id": "a", "question": "Who?", "answers": ["Ada"], "pages": 5}, "line 2: unknown field 'pages'"),
    ({"id": "first", "question": "Who?", "answers": ["Ada"]}, "line 2: field 'id': duplicate id 'first'"),
    ({"id": "a", "question": "Who?", "answers": ["Ada"], "follows": "later"}, "line 2: field 'follows': 'later' is not"),
    ({"id": "a", "question": "Who?", "answers": ["Ada"], "follows": "a"}, "line 2: field 'follows': 'a' is not"),
    ([1, 2], "line 2: expected a JSON object, got a list"),
])
def test_bad_jsonl_lines_name_the_line_and_field(tmp_path: Path, line: object, message: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"id": "first", "question": "Q?", "answers": ["A"]}) + "\n" + json.dumps(line) + "\n",
                    encoding="utf-8")
    with pytest.raises(DatasetError, match=message) as caught:
        load_questions(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_bad_jsonl_text(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "a", "question": "Q?", "answers": []}\n{"id": "b",\n', encoding="utf-8")
    with pytest.raises(DatasetError, match="line 2: not valid JSON"):
        load_questions(path)
    path.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(DatasetError, match="not a UTF-8 text file"):
        load_questions(path)
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="no questions"):
        load_questions(path)
    with pytest.raises(DatasetError, match="no such file"):
        load_questions(tmp_path / "missing.jsonl")


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty file"),
    ("id,question\n", "line 1: no 'answers' column"),
    ("id,question,answers,pages\n", "line 1: unknown column 'pages'"),
    ("id,question,answers,answers\n", "line 1: column 'answers' appears twice"),
    ("id,question,answers\na,Who?,Ada|\n", r"row 1 \(line 2\): field 'answers': an empty alternative"),
    ("id,question,answers,page\na,Who?,Ada,twelve\n", r"row 1 \(line 2\): field 'page': expected a page number"),
    ("id,question,answers,page\na,Who?,Ada,-1\n", r"row 1 \(line 2\): field 'page'"),
    ("id,question,answers,page\na,Who?,,4\n", "field 'page': page 4 given for an unanswerable"),
    ("id,question,answers\na,,Ada\n", r"row 1 \(line 2\): field 'question': empty"),
    ("id,question,answers\na,Who?,Ada,extra\n", "row 1 \\(line 2\\): 4 cells but the header names 3 columns"),
    ("id,question,answers,follows\na,Who?,Ada,\nb,Why?,Ada,c\n", r"row 2 \(line 3\): field 'follows': 'c' is not"),
    ("id,question,answers\na,Who?,Ada\n\na,Why?,Ada\n", r"row 2 \(line 4\): field 'id': duplicate id 'a'"),
])
def test_bad_csv_names_the_row_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "q.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DatasetError, match=message):
        load_questions(path)


def test_bad_squad_json_is_reported_with_the_field(tmp_path: Path) -> None:
    path = tmp_path / "q.json"
    path.write_text('{"data": [{"paragraphs": [{"context": "x", "qas": [{"question": "Q?", "answers": []}]}]}]}',
                    encoding="utf-8")
    with pytest.raises(DatasetError, match=r"data\[0\]\.paragraphs\[0\]\.qas\[0\]: missing field 'id'"):
        load_questions(path)


def test_sample_keeps_the_earlier_turns_of_sampled_follow_ups() -> None:
    parents = {3: "q2", 4: "q3", 8: "q7"}  # q2 -> q3 -> q4 is one conversation, q7 -> q8 another
    questions = [Question(id=f"q{i}", question=f"Q{i}?", answers=("a",), follows=parents.get(i)) for i in range(10)]
    assert sample_questions(questions, None) == tuple(questions)
    assert sample_questions(questions, 20) == tuple(questions)
    for seed in range(20):
        sample = sample_questions(questions, 3, seed=seed)
        ids = [q.id for q in sample]
        assert ids == sorted(ids, key=lambda i: int(i[1:]))  # file order
        assert len(ids) >= 3
        for q in sample:
            assert q.follows is None or q.follows in ids  # every conversation is whole
        assert sample == sample_questions(questions, 3, seed=seed)  # seeded
    chains = [sample_questions(questions, 3, seed=s) for s in range(20)]
    assert any("q4" in [q.id for q in c] for c in chains)
    with_q4 = next(c for c in chains if "q4" in [q.id for q in c])
    assert {"q2", "q3", "q4"} <= {q.id for q in with_q4}
