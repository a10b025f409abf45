"""Question files for evaluating the app on the user's own documents: CSV, JSONL or SQuAD JSON.

Each question has an id, the question text, its expected answers (none = unanswerable), and
optionally the expected `source` (the file name of the document that holds the answer), the
1-based `page` there, and `follows`: the id of an earlier question this one follows up in a
conversation. The format is told by the file name's extension:

- `.jsonl`: one JSON object a line, keys `id`, `question`, `answers` (a list of strings, `[]` =
  unanswerable), `source`, `page`, `follows` (each may be null or left out, except `question` and
  `answers`);
- `.csv`: a header row naming the same columns; `answers` holds the alternatives separated by `|`
  (empty = unanswerable); empty cells mean "not given";
- `.json`: a SQuAD v1.1/v2.0 file (`qa_app.data.squad`): no source or page; the article title is
  kept as `title`, which evaluation uses as the expected source when it names an indexed document.

Every problem is a DatasetError naming the file, the line (or row) and the field. Pure data: no
scoring, no store, no pipeline.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import random
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Callable, Literal, Sequence

from qa_app.data.reading import json_type_name, read_bytes
from qa_app.errors import DatasetError

QuestionFormat = Literal["csv", "jsonl", "squad"]
FORMATS: dict[str, QuestionFormat] = {".csv": "csv", ".jsonl": "jsonl", ".json": "squad"}
FIELDS = ("id", "question", "answers", "source", "page", "follows")
REQUIRED_FIELDS = ("question", "answers")
CSV_ANSWER_SEPARATOR = "|"
_Fail = Callable[[str, str], DatasetError]  # (field, what is wrong) -> the error naming file, line and field


@dataclass(frozen=True)
class Question:
    """One question to ask the app, with what it should answer and cite."""

    id: str
    question: str
    answers: tuple[str, ...]  # () = unanswerable: the app should say "not found"
    source: str | None = None  # expected document (file name); None = not scored
    page: int | None = None  # expected 1-based page of the answer; None = not scored
    follows: str | None = None  # id of the earlier question this one follows up
    title: str = ""  # SQuAD files: the article title (the expected source if it names an indexed document)

    @property
    def has_answer(self) -> bool:
        return bool(self.answers)


@dataclass(frozen=True)
class QuestionSet:
    """A loaded question file."""

    questions: tuple[Question, ...]
    source: str  # the path (or upload name) it was read from
    sha256: str  # of the file's bytes, to stamp evaluation runs
    format: QuestionFormat

    def __len__(self) -> int:
        return len(self.questions)


def question_format(name: str) -> QuestionFormat:
    """The format told by the file name's extension (DatasetError for any other)."""
    suffix = PurePath(name).suffix.lower()
    if suffix not in FORMATS:
        raise DatasetError(f"{name}: unknown question file type {suffix or '(no extension)'!r}; "
                           "use .csv, .jsonl or a SQuAD-format .json")
    return FORMATS[suffix]


def load_questions(path: str | os.PathLike[str]) -> QuestionSet:
    """Read and validate a question file (format by extension)."""
    source = str(path)
    if question_format(source) == "squad":  # an unknown extension fails before the file is read
        return _squad_set(path)
    data = read_bytes(path)
    return parse_questions(data, source)


def parse_questions(data: bytes, name: str) -> QuestionSet:
    """Validate the bytes of a question file called `name` (an upload, or a file `load_questions` read)."""
    fmt = question_format(name)
    sha256 = hashlib.sha256(data).hexdigest()
    if fmt == "squad":
        return _uploaded_squad_set(data, name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{name}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    rows = _jsonl_rows(text, name) if fmt == "jsonl" else _csv_rows(text, name)
    return _question_set(_validated(rows, name), name, sha256, fmt)


def _question_set(questions: Sequence[Question], name: str, sha256: str, fmt: QuestionFormat) -> QuestionSet:
    if not questions:
        raise DatasetError(f"{name}: no questions in the file")
    return QuestionSet(questions=tuple(questions), source=name, sha256=sha256, format=fmt)


def sample_questions(questions: Sequence[Question], limit: int | None, seed: int = 0) -> tuple[Question, ...]:
    """A fixed, seeded sample of `limit` questions in file order, plus the earlier turns of every
    sampled follow-up (a follow-up is asked with its conversation), so it may hold a few more."""
    if limit is None or limit >= len(questions):
        return tuple(questions)
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    by_id = {q.id: q for q in questions}
    chosen = {questions[i].id for i in random.Random(seed).sample(range(len(questions)), limit)}
    for qid in list(chosen):
        parent = by_id[qid].follows
        while parent is not None and parent not in chosen:
            chosen.add(parent)
            parent = by_id[parent].follows
    return tuple(q for q in questions if q.id in chosen)


# ---------------------------------------------------------------- JSONL and CSV

@dataclass(frozen=True)
class _Row:
    where: str  # "line 3" / "row 2 (line 3)"
    default_id: str
    values: dict[str, Any]
    csv: bool


def _jsonl_rows(text: str, name: str) -> list[_Row]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{name}: {where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        except (ValueError, RecursionError) as exc:
            raise DatasetError(f"{name}: {where}: not valid JSON ({exc})") from None
        if not isinstance(value, dict):
            raise DatasetError(f"{name}: {where}: expected a JSON object, got {json_type_name(value)}")
        rows.append(_Row(where=where, default_id=f"q{number}", values=value, csv=False))
    return rows


def _csv_rows(text: str, name: str) -> list[_Row]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise DatasetError(f"{name}: empty file; the first line names the columns ({', '.join(FIELDS)})")
        columns = [c.strip().lower() for c in header]
        unknown = [c for c in columns if c not in FIELDS]
        if unknown:
            raise DatasetError(f"{name}: line 1: unknown column {unknown[0]!r}; the columns are {', '.join(FIELDS)}")
        repeated = [c for c in FIELDS if columns.count(c) > 1]
        if repeated:
            raise DatasetError(f"{name}: line 1: column {repeated[0]!r} appears twice")
        missing = [c for c in REQUIRED_FIELDS if c not in columns]
        if missing:
            raise DatasetError(f"{name}: line 1: no {missing[0]!r} column; the columns are {', '.join(FIELDS)}")
        rows = []
        number = 0
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            number += 1
            where = f"row {number} (line {reader.line_num})"
            if len(cells) > len(columns):
                raise DatasetError(f"{name}: {where}: {len(cells)} cells but the header names {len(columns)} columns")
            values: dict[str, Any] = {c: cells[i] if i < len(cells) else "" for i, c in enumerate(columns)}
            rows.append(_Row(where=where, default_id=f"q{number}", values=values, csv=True))
        return rows
    except csv.Error as exc:
        raise DatasetError(f"{name}: line {reader.line_num}: not valid CSV ({exc})") from None


def _validated(rows: Sequence[_Row], name: str) -> list[Question]:
    questions: list[Question] = []
    seen: set[str] = set()
    for row in rows:
        q = _question(row, name)
        if q.id in seen:
            raise DatasetError(f"{name}: {row.where}: field 'id': duplicate id {q.id!r}")
        if q.follows is not None and q.follows not in seen:
            raise DatasetError(f"{name}: {row.where}: field 'follows': {q.follows!r} is not the id of an earlier "
                               "question (a follow-up comes after the question it follows)")
        seen.add(q.id)
        questions.append(q)
    return questions


def _question(row: _Row, name: str) -> Question:
    v = row.values

    def fail(field: str, what: str) -> DatasetError:
        return DatasetError(f"{name}: {row.where}: field {field!r}: {what}")

    if not row.csv:
        unknown = [k for k in v if k not in FIELDS]
        if unknown:
            raise DatasetError(f"{name}: {row.where}: unknown field {unknown[0]!r}; the fields are {', '.join(FIELDS)}")
        missing = [k for k in REQUIRED_FIELDS if k not in v]
        if missing:
            raise DatasetError(f"{name}: {row.where}: missing field {missing[0]!r}")
    qid = _identifier(v.get("id"), "id", fail) or row.default_id
    question = v.get("question")
    if not isinstance(question, str):
        raise fail("question", f"expected a string, got {json_type_name(question)}")
    if not question.strip():
        raise fail("question", "empty")
    answers = _answers(v.get("answers"), row.csv, fail)
    source = v.get("source")
    if source is not None and not isinstance(source, str):
        raise fail("source", f"expected a file name (string) or null, got {json_type_name(source)}")
    page = _page(v.get("page"), row.csv, fail)
    if page is not None and not answers:
        raise fail("page", f"page {page} given for an unanswerable question (no answers); "
                   "leave the page empty or give the expected answers")
    return Question(id=qid, question=question.strip(), answers=answers, source=(source or "").strip() or None,
                    page=page, follows=_identifier(v.get("follows"), "follows", fail))


def _identifier(value: Any, field: str, fail: _Fail) -> str | None:
    """An id or a `follows` reference: a string (or a whole number); None when empty or null."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise fail(field, f"expected a string or null, got {json_type_name(value)}")
    return value.strip() or None


def _answers(value: Any, in_csv: bool, fail: _Fail) -> tuple[str, ...]:
    if in_csv:
        text = (value or "").strip()
        if not text:
            return ()
        parts = [p.strip() for p in text.split(CSV_ANSWER_SEPARATOR)]
        if not all(parts):
            raise fail("answers", f"an empty alternative in {text!r} (alternatives are separated by "
                       f"'{CSV_ANSWER_SEPARATOR}'; leave the cell empty for an unanswerable question)")
        return tuple(parts)
    if not isinstance(value, list):
        raise fail("answers", f"expected a list of strings ([] for an unanswerable question), got {json_type_name(value)}")
    for i, answer in enumerate(value):
        if not isinstance(answer, str):
            raise fail(f"answers[{i}]", f"expected a string, got {json_type_name(answer)}")
        if not answer.strip():
            raise fail(f"answers[{i}]", "empty (use [] for an unanswerable question)")
    return tuple(value)


def _page(value: Any, in_csv: bool, fail: _Fail) -> int | None:
    if in_csv:
        text = (value or "").strip()
        if not text:
            return None
        if not text.isdecimal() or int(text) < 1:
            raise fail("page", f"expected a page number (1 or more), got {text!r}")
        return int(text)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise fail("page", f"expected a page number (1 or more) or null, got {json.dumps(value)}")
    return value


# ---------------------------------------------------------------- SQuAD JSON

def _squad_set(path: str | os.PathLike[str]) -> QuestionSet:
    """The questions of a SQuAD-format file (validated by `qa_app.data.squad.load_squad`)."""
    from qa_app.data.squad import load_squad

    dataset = load_squad(path)
    questions = [Question(id=e.id, question=e.question, answers=tuple(e.answer_texts), title=e.title)
                 for e in dataset.examples]
    return _question_set(questions, dataset.source, dataset.sha256, "squad")


def _uploaded_squad_set(data: bytes, name: str) -> QuestionSet:
    import tempfile

    fd, path = tempfile.mkstemp(suffix=".json", prefix="qa-questions-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            loaded = _squad_set(path)
        except DatasetError as exc:
            raise DatasetError(str(exc).replace(path, name)) from None
    finally:
        os.unlink(path)
    return QuestionSet(questions=loaded.questions, source=name, sha256=loaded.sha256, format="squad")
