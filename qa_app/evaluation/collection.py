"""Evaluation on the user's own documents: a question file asked through the whole pipeline over an
already indexed collection (open-book over the user's documents), scored and timed.

What it does: asks every question with `app.pipeline(reader).ask(question, history)`, a follow-up
(`follows`) with the conversation of the turn it follows as history, built exactly as `qa-app chat`
builds it (one `Turn.from_answer(answer)` per earlier turn: question, answer and where it was cited;
a turn that could not be asked adds none); scores EM/F1 with the official SQuAD v2.0 semantics (overall, HasAns,
NoAns, and follow-up turns apart); page@1 and source@1 (does the top answer cite the expected page
and document); abstention (how often the app said "not found", rightly and wrongly); the cause of
each wrong answer (`qa_app.evaluation.outcomes`: a retrieval miss when no window read held a gold
answer's text); latency of the whole ask and per stage. The results are the typed
`CollectionReport` and `CollectionRow` of `qa_app.evaluation.results`.

What it does not do: index anything (the collection is the user's, as it is), parse arguments, print
or render HTML (`qa_app.evaluation.report`). Question files are read by `qa_app.data.questions`.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePath
from typing import Any, Callable, Mapping, Sequence

from qa_app.conversation import Turn
from qa_app.data.questions import Question, QuestionSet
from qa_app.errors import QAError, QuestionError
from qa_app.evaluation.gold import finite
from qa_app.evaluation.metrics import exact_f1, normalize_answer, squad_v2_scores
from qa_app.evaluation.outcomes import attribute, error_shares, latency
from qa_app.evaluation.results import (
    AbstentionScores,
    CitationScores,
    CollectionReport,
    CollectionRow,
    CollectionSummary,
    Outcome,
    Scores,
    TypeScores,
    report_scores,
)
from qa_app.types import Answer, Window

Progress = Callable[[int], None]
Ask = Callable[[Sequence[Question], Mapping[str, str | None], Progress | None], list["CollectionRecord"]]
Log = Callable[[str], None]

CSV_COLUMNS = ("id", "question", "follows", "turn", "golds", "prediction", "exact", "f1", "cause", "expected_source",
               "cited_source", "source_hit", "expected_page", "cited_page", "page_hit", "end_to_end_ms", "query", "error")


@dataclass(frozen=True)
class CollectionRecord:
    """What happened to one question of the file."""

    id: str
    question: str
    follows: str | None
    turn: int  # 0 = a first question, 1 = its follow-up, ...
    query: str  # the retrieval query the pipeline used
    golds: tuple[str, ...]
    has_answer: bool
    prediction: str  # "" = abstained ("not found")
    exact: int
    f1: float
    na_score: float | None  # higher = more sure there is no answer (-no_answer_margin, clipped)
    cause: Outcome
    expected_source: str | None
    cited_source: str
    source_hit: bool | None  # None = not scored
    expected_page: int | None
    cited_page: int | None
    page_hit: bool | None  # None = not scored
    end_to_end_ms: float
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    error: str = ""


def same_document(expected: str, cited: str) -> bool:
    """Whether a cited document is the expected one: same file name (case-insensitive; folders ignored)."""
    return bool(expected) and bool(cited) and PurePath(expected).name.casefold() == PurePath(cited).name.casefold()


def expected_sources(questions: Sequence[Question], indexed: Sequence[str]) -> tuple[dict[str, str | None], list[str]]:
    """Question id -> the document its answer should cite (None: not scored), and the expected
    documents that are not indexed (sorted). A SQuAD question has no source: its article title is
    used when it names an indexed document (its file name, or the name without extension)."""
    by_name = {PurePath(s).name.casefold(): s for s in indexed}
    by_stem = {PurePath(s).stem.casefold(): s for s in indexed}
    out: dict[str, str | None] = {}
    unknown: set[str] = set()
    for q in questions:
        if q.source is not None:
            out[q.id] = q.source
            if PurePath(q.source).name.casefold() not in by_name:
                unknown.add(q.source)
        elif q.title:
            title = q.title.strip().casefold()
            out[q.id] = by_name.get(title) or by_stem.get(title)
        else:
            out[q.id] = None
    return out, sorted(unknown)


def answer_text_in(golds: Sequence[str], windows: Sequence[Window]) -> bool:
    """Whether a window read holds a gold answer's text (compared after SQuAD normalisation)."""
    wanted = [f" {normalize_answer(g)} " for g in golds if normalize_answer(g)]
    if not wanted:
        return False
    texts = [f" {normalize_answer(w.text)} " for w in windows]
    return any(g in t for g in wanted for t in texts)


def ask_questions(pipeline: Any, questions: Sequence[Question], sources: Mapping[str, str | None],
                  progress: Progress | None = None) -> list[CollectionRecord]:
    """Ask every question in file order; a follow-up with the conversation of the turn it follows."""
    conversations: dict[str, list[Turn]] = {}  # question id -> the conversation once it was asked
    turns: dict[str, int] = {}
    records = []
    for q in questions:
        history = conversations.get(q.follows, []) if q.follows is not None else []
        turns[q.id] = turns.get(q.follows, -1) + 1 if q.follows is not None else 0
        error = ""
        t0 = time.perf_counter()
        try:
            answer = pipeline.ask(q.question, list(history))
        except QuestionError as exc:  # counts as an abstention; like `qa-app chat`, it adds no turn
            answer, error = Answer(question=q.question, text="", score=1.0), str(exc)
            conversations[q.id] = list(history)
        else:
            conversations[q.id] = [*history, Turn.from_answer(answer)]
        end_to_end = (time.perf_counter() - t0) * 1000
        records.append(record_of(q, answer, sources.get(q.id), turns[q.id], end_to_end, error))
        if progress is not None:
            progress(1)
    return records


def record_of(q: Question, answer: Answer, expected_source: str | None, turn: int, end_to_end_ms: float,
              error: str = "") -> CollectionRecord:
    """Score one answer: EM/F1 against the expected answers, and its citation against the expected
    document and page (only for answerable questions; an abstention misses both)."""
    exact, f1 = exact_f1(q.answers, answer.text)
    citation = answer.citations[0] if answer.found and answer.citations else None
    cited_source = citation.source if citation else ""
    cited_page = citation.page if citation else None
    source_hit = page_hit = None
    if q.has_answer and expected_source is not None:
        source_hit = citation is not None and same_document(expected_source, cited_source)
    if q.has_answer and q.page is not None:
        # the page of the expected document: the same page number in another document is a miss
        page_hit = (citation is not None and cited_page == q.page
                    and (expected_source is None or same_document(expected_source, cited_source)))
    margin = answer.no_answer_margin
    return CollectionRecord(
        id=q.id, question=q.question, follows=q.follows, turn=turn, query=answer.query or q.question,
        golds=q.answers, has_answer=q.has_answer, prediction=answer.text, exact=exact, f1=f1,
        na_score=None if margin is None else finite(-margin),
        cause=attribute(has_answer=q.has_answer, exact=exact, answered=answer.found,
                        gold_in_windows=answer_text_in(q.answers, answer.windows)),
        expected_source=expected_source, cited_source=cited_source, source_hit=source_hit, expected_page=q.page,
        cited_page=cited_page, page_hit=page_hit, end_to_end_ms=end_to_end_ms, timings_ms=dict(answer.timings_ms),
        error=error,
    )


def _share(hits: Sequence[bool], total: int) -> float:
    return round(sum(hits) / total, 4) if total else 0.0


def squad_scores(records: Sequence[CollectionRecord], *, na_probs: bool = True) -> Scores:
    """Official SQuAD v2.0 figures of these questions (the app's own no-answer decision stands; the
    no-answer scores only feed the best_* sweep)."""
    golds = {r.id: list(r.golds) for r in records}
    preds = {r.id: r.prediction for r in records}
    na = {r.id: r.na_score for r in records if r.na_score is not None}
    known = na_probs and len(na) == len(records)
    return report_scores(squad_v2_scores(golds, preds, na_probs=na if known else None, na_prob_thresh=float("inf")))


def citation_scores(records: Sequence[CollectionRecord]) -> CitationScores:
    """page@1 and source@1 over the answerable questions that name an expected page / document."""
    pages = [r.page_hit for r in records if r.page_hit is not None]
    sources = [r.source_hit for r in records if r.source_hit is not None]
    out: CitationScores = {}
    if pages:
        out["page@1"] = _share(pages, len(pages))
        out["page_questions"] = len(pages)
    if sources:
        out["source@1"] = _share(sources, len(sources))
        out["source_questions"] = len(sources)
    return out


def abstention_scores(records: Sequence[CollectionRecord]) -> AbstentionScores:
    unanswerable = [r for r in records if not r.has_answer]
    answerable = [r for r in records if r.has_answer]
    return {"unanswerable": len(unanswerable),
            "abstained_on_unanswerable": _share([not r.prediction for r in unanswerable], len(unanswerable)),
            "answerable": len(answerable),
            "abstained_on_answerable": _share([not r.prediction for r in answerable], len(answerable))}


def by_source(records: Sequence[CollectionRecord]) -> dict[str, TypeScores]:
    """EM and F1 (percent) of the questions of each expected document."""
    groups: dict[str, list[CollectionRecord]] = {}
    for r in records:
        if r.expected_source is not None:
            groups.setdefault(r.expected_source, []).append(r)
    return {source: {"count": len(rows), "exact": round(100.0 * sum(r.exact for r in rows) / len(rows), 2),
                     "f1": round(100.0 * sum(r.f1 for r in rows) / len(rows), 2)}
            for source, rows in sorted(groups.items())}


def summarize_records(records: Sequence[CollectionRecord]) -> CollectionSummary:
    """The figures of one run (the caller adds the stamps)."""
    if not records:
        raise QAError("no questions to evaluate")
    summary: CollectionSummary = {**squad_scores(records), **citation_scores(records),
                                  "abstention": abstention_scores(records), "latency_ms": latency(records),
                                  "errors": error_shares(records)}
    follow_ups = [r for r in records if r.turn > 0]
    if follow_ups:
        summary["follow_ups"] = squad_scores(follow_ups, na_probs=False)
        summary["first_turns"] = squad_scores([r for r in records if r.turn == 0], na_probs=False)
    sources = by_source(records)
    if sources:
        summary["by_source"] = sources
    return summary


def store_name(settings: Any) -> str:
    s = settings.store
    return f"chroma server {s.chroma_host}:{s.chroma_port}" if s.chroma_host else str(Path(s.data_dir).expanduser())


def evaluate_collection(
    *, app: Any, dataset: QuestionSet, questions: Sequence[Question], reader_name: str, model: str, seed: int = 0,
    progress: Progress | None = None, log: Log | None = None, ask: Ask | None = None,
) -> tuple[CollectionReport, list[CollectionRow]]:
    """Ask `questions` (of `dataset`) over the collection of `app.settings` and return (report, rows).

    `ask(questions, expected sources, progress)` gives the records; by default `ask_questions` with
    `app`'s pipeline (`qa_app.distributed.ask_on_ray` spreads them over a Ray cluster instead).
    QAError when the collection holds no documents (nothing to answer from)."""
    started = time.perf_counter()
    settings = app.settings
    infos = app.store.documents()
    if not infos:
        raise QAError(f"no documents are indexed in collection {settings.store.collection!r} "
                      f"({store_name(settings)}); run `qa-app index PATH` first, or pick the collection "
                      "with --collection")
    sources, unknown = expected_sources(questions, [i.source for i in infos])
    if unknown and log is not None:
        log(f"warning: {len(unknown)} expected source(s) are not indexed in collection "
            f"{settings.store.collection!r}, so their questions cannot be answered from it: {', '.join(unknown)}")
    if ask is None:
        records = ask_questions(app.pipeline(reader_name), questions, sources, progress)
    else:
        records = ask(questions, sources, progress)
    summary = summarize_records(records)
    seconds = time.perf_counter() - started
    r = settings.retrieval
    report: CollectionReport = {
        **summary,
        "reader": reader_name, "model": model, "mode": "collection", "collection": settings.store.collection,
        "store": store_name(settings), "documents": len(infos), "dataset": dataset.source,
        "dataset_sha256": dataset.sha256, "format": dataset.format, "config_hash": settings.hash(), "seed": seed,
        "questions": len(records), "seconds": round(seconds, 2),
        "questions_per_s": round(len(records) / max(seconds, 1e-9), 2),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "encoder": str(getattr(app.encoder, "id", "unknown-encoder")),
        "retrieval": {"retriever": r.retriever, "top_k": r.top_k, "candidates": r.candidates,
                      "window_chunks": r.window_chunks, "token_budget": r.token_budget, "dynamic": r.dynamic,
                      "max_growth_steps": r.max_growth_steps, "max_per_document": r.max_per_document},
    }
    if unknown:
        report["unknown_sources"] = unknown
    return report, [record_row(rec) for rec in records]


def record_row(r: CollectionRecord) -> CollectionRow:
    """One record as the JSON row a collection run returns (times rounded to 0.1 ms)."""
    return {
        "id": r.id, "question": r.question, "follows": r.follows, "turn": r.turn, "query": r.query,
        "golds": list(r.golds), "has_answer": r.has_answer, "prediction": r.prediction, "exact": r.exact, "f1": r.f1,
        "na_score": r.na_score, "cause": r.cause, "expected_source": r.expected_source,
        "cited_source": r.cited_source, "source_hit": r.source_hit, "expected_page": r.expected_page,
        "cited_page": r.cited_page, "page_hit": r.page_hit, "end_to_end_ms": round(r.end_to_end_ms, 1),
        "timings_ms": {k: round(v, 1) for k, v in r.timings_ms.items()}, "error": r.error,
    }


def output_name(report: CollectionReport) -> str:
    """The stem of the files `write_collection_outputs` writes: reader, mode and collection."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in report["collection"])
    return f"{report['reader']}-collection-{safe}"


def write_questions_csv(path: Path, rows: Sequence[CollectionRow]) -> Path:
    """One line per question (CSV_COLUMNS; gold answers joined by " | "; empty cell = none)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            cells: dict[str, Any] = {**row, "golds": " | ".join(row["golds"])}
            writer.writerow(["" if cells[c] is None else cells[c] for c in CSV_COLUMNS])
    return path


def write_collection_outputs(out_dir: Path, report: CollectionReport, rows: Sequence[CollectionRow]) -> list[Path]:
    """`<name>-metrics.json`, `<name>-predictions.jsonl` (as the other modes write them) and
    `<name>-questions.csv` under `out_dir`."""
    from qa_app.evaluation.run import write_outputs

    name = output_name(report)
    write_outputs(out_dir, name, report, rows)
    csv_path = write_questions_csv(out_dir / f"{name}-questions.csv", rows)
    return [out_dir / f"{name}-metrics.json", out_dir / f"{name}-predictions.jsonl", csv_path]


def summary_lines(report: CollectionReport) -> list[str]:
    """The human summary `qa-app eval` prints for a collection run."""
    lines = [f"{report['reader']} on collection {report['collection']} ({report['documents']} documents): "
             f"EM {report['exact']:.2f} F1 {report['f1']:.2f} HasAns EM {report.get('HasAns_exact', float('nan')):.2f} "
             f"F1 {report.get('HasAns_f1', float('nan')):.2f} NoAns EM {report.get('NoAns_exact', float('nan')):.2f} "
             f"({report['questions']} questions from {PurePath(report['dataset']).name})"]
    cites = [f"{key} {report[key]:.3f} ({report.get(count, 0)} questions)"  # type: ignore[literal-required]
             for key, count in (("page@1", "page_questions"), ("source@1", "source_questions")) if key in report]
    lines.append("citations: " + ("; ".join(cites) if cites else "no question names an expected page or document"))
    a = report["abstention"]
    lines.append(f"abstention: \"not found\" on {a['abstained_on_unanswerable']:.0%} of {a['unanswerable']} unanswerable "
                 f"questions (right) and on {a['abstained_on_answerable']:.0%} of {a['answerable']} answerable ones (wrong)")
    if "follow_ups" in report:
        f, first = report["follow_ups"], report.get("first_turns")
        line = f"follow-ups: EM {f['exact']:.2f} F1 {f['f1']:.2f} ({f['total']} turns)"
        if first is not None:
            line += f"; first questions: EM {first['exact']:.2f} F1 {first['f1']:.2f} ({first['total']})"
        lines.append(line)
    lat = report["latency_ms"]["end_to_end"]
    lines.append(f"latency of the whole ask: p50 {lat['p50']:.0f} ms p95 {lat['p95']:.0f} ms")
    errors = report["errors"]
    lines.append(f"errors: {errors['total']} = " + ", ".join(
        f"{c} {errors[c]:.0%}" for c in ("retrieval_miss", "reader_miss", "wrong_abstention", "false_answer")))
    if report.get("unknown_sources"):
        lines.append("expected sources not indexed in this collection: " + ", ".join(report.get("unknown_sources", [])))
    return lines
