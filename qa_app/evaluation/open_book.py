"""Open-book evaluation: SQuAD articles indexed as long documents, every question answered by the
whole pipeline (retrieve -> windows -> reader), scored with the official SQuAD v2.0 semantics.

What it does: turns each article into one `Document` (paragraphs joined by a blank line) and indexes
it with the App's indexer into a store cached under `<data_dir>/eval-cache/`, keyed by the dataset
checksum, the corpus, the chunking settings and the encoder, so a second run reuses it; asks every
question through the pipeline; measures retrieval twice: `recall@k` / `mrr` over the ranked windows
the reader was given, and `hit_recall@k` / `hit_mrr` over the raw retriever hits, each expanded to its
initial window (a window "holds" a question when it contains a gold answer span at its gold offset in
the article); attributes each wrong answer to a cause; summarises latency per stage and what the
dynamic window did; optionally runs a fixed +-1-chunk window on the same questions for comparison;
and reads the same questions in gold mode (own paragraph only) to report open-book HasAns EM as a
share of gold-mode HasAns EM.

What it does not do: parse arguments, print or write files (the CLI does) or render the HTML report
(`qa_app.evaluation.report`).
"""

from __future__ import annotations

import collections
import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence, get_args

from indexing.loaders import document_id
from qa_app.config import ChunkingConfig, Settings
from qa_app.data.squad import (
    OFFICIAL_ARTICLE_COUNT,
    ArticleDoc,
    QAExample,
    SquadDataset,
    article_documents,
    map_answer_to_article,
    split_examples,
)
from qa_app.errors import ConfigError, DatasetError, QuestionError
from qa_app.evaluation.gold import finite, gold_predictions, read_gold, score_gold
from qa_app.evaluation.latency import summarize
from qa_app.evaluation.metrics import exact_f1, squad_v2_scores
from qa_app.evaluation.outcomes import attribute, error_shares, latency
from qa_app.evaluation.results import (
    CompareEntry,
    EvalReport,
    GoldSameQuestions,
    OpenRow,
    OpenSummary,
    Outcome,
    RecallCurve,
    TypeScores,
    WindowStats,
    report_scores,
)
from qa_app.evaluation.retrieval_hits import (
    OPEN_TOP_K,
    ChunkSpans,
    first_gold_position,
    ranked_hits,
    recall_at,
    retrieval_scores,
)
from qa_app.retrieval.windows import estimate_tokens
from qa_app.types import Answer, Document

CORPORA = ("test", "all")
QUESTION_TYPES = ("what", "who", "when", "where", "why", "how", "which", "other")
_WH_WORDS = {"what": "what", "who": "who", "whom": "who", "whose": "who", "when": "when", "where": "where",
             "why": "why", "how": "how", "which": "which"}
_WORD = re.compile(r"[a-z]+")
CACHE_DIR_NAME = "eval-cache"

NOANS_NOTE = (
    "SQuAD v2.0 unanswerable questions are unanswerable for their own paragraph, not always for the "
    "whole article or corpus. They are scored exactly as the official script scores them (right only "
    "when the system abstains) and reported separately as NoAns_*; answering one counts as the error "
    "cause 'false_answer'. Retrieval recall and MRR are computed on answerable questions only."
)

Progress = Callable[[int], None]
Log = Callable[[str], None]


@dataclass(frozen=True)
class IndexedArticle:
    doc_id: str
    article: ArticleDoc


@dataclass(frozen=True)
class OpenRecord:
    """What happened to one question in an open-book run."""

    id: str
    question: str
    qtype: str  # first wh-word: what/who/when/where/why/how/which/other
    golds: tuple[str, ...]
    has_answer: bool
    prediction: str  # "" = abstained
    exact: int
    f1: float
    na_score: float | None  # higher = more sure there is no answer (-no_answer_margin, clipped)
    cause: Outcome  # "correct" or why not (qa_app.evaluation.outcomes.attribute)
    window_position: int | None  # 1-based position of the first window holding a gold span
    hit_position: int | None  # the same over raw retriever hits expanded to their initial window
    windows: int
    growth_steps: int
    tokens_read: int  # word pieces in the windows the reader read last
    end_to_end_ms: float
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    source: str = ""  # document the answer was cited from ("" when abstained)
    paragraph: int | None = None  # paragraph of the cited span in its article (0-based)
    gold_source: str = ""
    gold_paragraph: int = 0


def article_document(article: ArticleDoc) -> Document:
    """One long document; its id is the content hash a file holding the same text would get."""
    return Document(id=document_id(article.text), source=f"{article.title}.txt", title=article.title,
                    text=article.text, metadata={"squad_article": str(article.index)})


def corpus_articles(dataset: SquadDataset, corpus: str, split: str) -> list[int]:
    """Articles indexed for `corpus`: "all" = every article; "test" = the articles of the evaluated
    split (28-34 for the official file's test split). A file with fewer than 35 articles has no
    fixed split, so there both mean every article."""
    if corpus not in CORPORA:
        raise ConfigError(f"unknown corpus {corpus!r}; choose one of: {', '.join(CORPORA)}")
    if corpus == "all" or len(dataset.articles) < OFFICIAL_ARTICLE_COUNT:
        return list(range(len(dataset.articles)))
    return sorted({e.article_index for e in split_examples(dataset, split)})


def index_key(dataset_sha256: str, corpus: str, chunking: ChunkingConfig, encoder_id: str) -> str:
    """Cache key of an indexed corpus: what decides the stored chunks and vectors, nothing else."""
    blob = json.dumps({"dataset": dataset_sha256, "corpus": corpus, "chunking": asdict(chunking),
                       "encoder": encoder_id}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def open_settings(settings: Settings, dataset_sha256: str, corpus: str, encoder_id: str) -> Settings:
    """The user's settings pointed at the cached evaluation store, retrieving at least 10 hits."""
    key = index_key(dataset_sha256, corpus, settings.chunking, encoder_id)
    data_dir = Path(settings.store.data_dir).expanduser() / CACHE_DIR_NAME / f"squad-{corpus}-{key}"
    return settings.replace(data_dir=str(data_dir), collection=f"eval-squad-{corpus}-{key}",
                            top_k=max(OPEN_TOP_K, settings.retrieval.top_k))


def index_articles(indexer: Any, articles: Sequence[ArticleDoc],
                   log: Log | None = None) -> tuple[dict[int, IndexedArticle], dict[str, int]]:
    """Index each article as one document (a no-op for articles already stored). Returns article
    index -> indexed article, and how many were added / unchanged / replaced."""
    indexed: dict[int, IndexedArticle] = {}
    counts: collections.Counter[str] = collections.Counter()
    for article in articles:
        document = article_document(article)
        outcome = indexer.index_document(document, origin=f"squad-article:{article.index}", name=document.source)
        counts[outcome.status] += 1
        if log is not None and outcome.status != "unchanged":
            log(f"{outcome.status} {document.source} ({outcome.chunks} chunks)")
        indexed[article.index] = IndexedArticle(doc_id=document.id, article=article)
    return indexed, dict(counts)


def question_type(question: str) -> str:
    for word in _WORD.findall(question.lower()):
        if word in _WH_WORDS:
            return _WH_WORDS[word]
    return "other"


def answer_questions(
    pipeline: Any, retriever: Any, examples: Sequence[QAExample], articles: Mapping[int, IndexedArticle],
    spans: ChunkSpans, *, width: int, candidates: int, count_tokens: Callable[[str], int],
    progress: Progress | None = None,
) -> list[OpenRecord]:
    by_doc = {a.doc_id: a.article for a in articles.values()}
    records = []
    for example in examples:
        if example.article_index not in articles:
            raise DatasetError(f"question {example.id} is from article {example.article_index}, which is not indexed")
        indexed = articles[example.article_index]
        gold = map_answer_to_article(example, indexed.article)
        t0 = time.perf_counter()
        try:
            answer = pipeline.ask(example.question)
        except QuestionError:  # e.g. an empty question in a hand-made file: counts as an abstention
            answer = Answer(question=example.question, text="", score=1.0)
        end_to_end = (time.perf_counter() - t0) * 1000
        windows = sorted(answer.windows, key=lambda w: w.rank)
        window_pos = hit_pos = None
        if gold:
            window_pos = first_gold_position([(w.doc_id, w.start, w.end) for w in windows], indexed.doc_id, gold)
            hits = ranked_hits(retriever, answer.query or example.question, candidates)
            hit_pos = first_gold_position(spans.hit_ranges(hits, width), indexed.doc_id, gold)
        exact, f1 = exact_f1(example.answer_texts, answer.text)
        margin = answer.no_answer_margin
        citation = answer.citations[0] if answer.found and answer.citations else None
        cited = by_doc.get(citation.doc_id) if citation else None
        records.append(OpenRecord(
            id=example.id, question=example.question, qtype=question_type(example.question),
            golds=tuple(example.answer_texts), has_answer=not example.is_impossible, prediction=answer.text,
            exact=exact, f1=f1, na_score=None if margin is None else finite(-margin),
            cause=attribute(has_answer=not example.is_impossible, exact=exact, answered=answer.found,
                            gold_in_windows=window_pos is not None),
            window_position=window_pos, hit_position=hit_pos, windows=len(answer.windows),
            growth_steps=sum(len(w.growth) for w in answer.windows),
            tokens_read=sum(count_tokens(w.text) for w in answer.windows), end_to_end_ms=end_to_end,
            timings_ms=dict(answer.timings_ms), source=citation.source if citation else "",
            paragraph=cited.paragraph_of(citation.start) if cited and citation else None,
            gold_source=f"{indexed.article.title}.txt", gold_paragraph=example.paragraph_index,
        ))
        if progress is not None:
            progress(1)
    return records


def summarize_records(records: Sequence[OpenRecord]) -> OpenSummary:
    """Metrics of one run: SQuAD v2 scores, retrieval, errors, latency, window behaviour, by type."""
    if not records:
        raise DatasetError("no questions to evaluate")
    golds = {r.id: list(r.golds) for r in records}
    preds = {r.id: r.prediction for r in records}
    na = {r.id: r.na_score for r in records}
    known = all(v is not None for v in na.values())
    # thresh=inf: the reader's own decision stands; na_probs only feed the best_* sweep
    scores = squad_v2_scores(golds, preds, na_probs=na if known else None, na_prob_thresh=float("inf"))  # type: ignore[arg-type]
    answerable = [r for r in records if r.has_answer]
    window_pos = [r.window_position for r in answerable]
    hit_pos = [r.hit_position for r in answerable]
    ks = list(range(1, OPEN_TOP_K + 1))
    curve: RecallCurve = {"k": ks, "windows": [round(recall_at(window_pos, k), 4) for k in ks],
                          "hits": [round(recall_at(hit_pos, k), 4) for k in ks]}
    return {
        **report_scores(scores), **retrieval_scores(window_pos, hit_pos), "recall_curve": curve,
        "answerable_questions": len(answerable), "errors": error_shares(records), "latency_ms": latency(records),
        "window": window_stats(records), "by_question_type": by_question_type(records), "noans_note": NOANS_NOTE,
    }


def window_stats(records: Sequence[OpenRecord]) -> WindowStats:
    n = len(records)
    tokens = [float(r.tokens_read) for r in records]
    return {
        "growth_steps": sum(r.growth_steps for r in records),
        "growth_steps_per_question": round(sum(r.growth_steps for r in records) / n, 3),
        "questions_grown": round(sum(r.growth_steps > 0 for r in records) / n, 4),
        "windows_per_question": round(sum(r.windows for r in records) / n, 3),
        "tokens_read_per_question": summarize(tokens),
    }


def by_question_type(records: Sequence[OpenRecord]) -> dict[str, TypeScores]:
    out: dict[str, TypeScores] = {}
    for qtype in QUESTION_TYPES:
        rows = [r for r in records if r.qtype == qtype]
        if rows:
            out[qtype] = {"count": len(rows), "exact": round(100.0 * sum(r.exact for r in rows) / len(rows), 2),
                          "f1": round(100.0 * sum(r.f1 for r in rows) / len(rows), 2)}
    return out


_CompareKey = Literal["exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "recall@5", "mrr"]
_COMPARED: tuple[_CompareKey, ...] = get_args(_CompareKey)


def compare_entry(summary: OpenSummary, settings: Settings) -> CompareEntry:
    entry: CompareEntry = {}
    for key in _COMPARED:
        if key in summary:
            entry[key] = summary[key]
    entry["tokens_read_per_question"] = summary["window"]["tokens_read_per_question"]
    entry["growth_steps"] = summary["window"]["growth_steps"]
    entry["latency_ms"] = {k: summary["latency_ms"][k] for k in ("read", "end_to_end") if k in summary["latency_ms"]}
    entry["dynamic"] = settings.retrieval.dynamic
    entry["window_chunks"] = settings.retrieval.window_chunks
    return entry


def window_variants(settings: Settings, compare: bool) -> list[tuple[str, Settings]]:
    """The runs to make: the configured settings ("main") and, to compare, a fixed +-1-chunk window
    and the dynamic window (a variant equal to the configured settings reuses the main run)."""
    runs: list[tuple[str, Settings]] = [("main", settings)]
    if compare:
        runs.append(("fixed", settings.replace(dynamic=False, window_chunks=1)))
        runs.append(("dynamic", settings.replace(dynamic=True)))
    return runs


def runs_needed(settings: Settings, compare: bool) -> int:
    return len({s.retrieval for _, s in window_variants(settings, compare)})


def evaluate_open(
    *, app: Any, make_app: Callable[[Settings], Any], dataset: SquadDataset, examples: Sequence[QAExample],
    split: str, corpus: str, reader_name: str, model: str, seed: int, compare_windows: bool = False,
    progress: Progress | None = None, log: Log | None = None,
) -> tuple[EvalReport, list[OpenRow]]:
    """Index the corpus (cached), answer every question, and return (report, per-question rows).

    `app` is built from the user's settings; the run itself uses `make_app` on those settings
    pointed at the cached evaluation store (see `open_settings`).
    """
    started = time.perf_counter()
    encoder_id = str(getattr(app.encoder, "id", "unknown-encoder"))
    settings = open_settings(app.settings, dataset.sha256, corpus, encoder_id)
    run_app = make_app(settings)
    indices = corpus_articles(dataset, corpus, split)
    if log is not None:
        log(f"open-book corpus: {len(indices)} articles in {settings.store.data_dir}")
    articles, index_counts = index_articles(run_app.indexer, article_documents(dataset, indices), log)
    spans = ChunkSpans(run_app.store.all_chunks())
    count_tokens = getattr(run_app.tokenizer, "count_tokens", None) or estimate_tokens
    retriever = run_app.retriever()
    done: dict[Any, tuple[list[OpenRecord], OpenSummary]] = {}
    compare: dict[str, CompareEntry] = {}
    for name, variant in window_variants(settings, compare_windows):
        if variant.retrieval not in done:
            variant_app = run_app if variant == settings else _variant_app(run_app, variant, reader_name)
            records = answer_questions(
                variant_app.pipeline(reader_name), retriever, examples, articles, spans,
                width=variant.retrieval.window_chunks, candidates=variant.retrieval.candidates,
                count_tokens=count_tokens, progress=progress)
            done[variant.retrieval] = (records, summarize_records(records))
        if name != "main":
            compare[name] = compare_entry(done[variant.retrieval][1], variant)
    records, summary = done[settings.retrieval]
    gold = gold_comparison(run_app.reader(reader_name), examples, summary)
    r = settings.retrieval
    report: EvalReport = {
        **summary,
        "reader": reader_name, "model": model, "mode": "open", "split": split, "corpus": corpus,
        "config_hash": settings.hash(), "dataset": dataset.source, "dataset_sha256": dataset.sha256,
        "seed": seed, "questions": len(examples), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "encoder": encoder_id,
        "retrieval": {"retriever": r.retriever, "top_k": r.top_k, "candidates": r.candidates,
                      "window_chunks": r.window_chunks, "token_budget": r.token_budget, "dynamic": r.dynamic,
                      "max_growth_steps": r.max_growth_steps, "max_per_document": r.max_per_document},
        "index": {"dir": settings.store.data_dir, "articles": len(indices), **index_counts},
        "gold_same_questions": gold,
        "seconds": round(time.perf_counter() - started, 2),
    }
    if compare:
        report["compare_windows"] = compare
    return report, [record_row(rec) for rec in records]


_GoldKey = Literal["exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact"]
_GOLD_COMPARED: tuple[_GoldKey, ...] = get_args(_GoldKey)


def gold_comparison(reader: Any, examples: Sequence[QAExample], summary: OpenSummary) -> GoldSameQuestions:
    """The same reader on the same questions in gold mode (each read against its own paragraph), and
    open-book HasAns EM as a share of gold-mode HasAns EM."""
    raw = score_gold(examples, gold_predictions(examples, read_gold(reader, examples)))
    scores = report_scores(raw)
    out: GoldSameQuestions = {}
    for key in _GOLD_COMPARED:
        if key in scores:
            out[key] = scores[key]
    if raw.get("HasAns_exact") and "HasAns_exact" in summary:
        out["open_HasAns_exact_share"] = round(summary["HasAns_exact"] / raw["HasAns_exact"], 4)
    return out


def record_row(r: OpenRecord) -> OpenRow:
    """One record as the JSON row an open-book run returns (the dataclass fields, in order; times
    rounded to 0.1 ms)."""
    return {
        "id": r.id, "question": r.question, "qtype": r.qtype, "golds": list(r.golds), "has_answer": r.has_answer,
        "prediction": r.prediction, "exact": r.exact, "f1": r.f1, "na_score": r.na_score, "cause": r.cause,
        "window_position": r.window_position, "hit_position": r.hit_position, "windows": r.windows,
        "growth_steps": r.growth_steps, "tokens_read": r.tokens_read, "end_to_end_ms": round(r.end_to_end_ms, 1),
        "timings_ms": {k: round(v, 1) for k, v in r.timings_ms.items()}, "source": r.source,
        "paragraph": r.paragraph, "gold_source": r.gold_source, "gold_paragraph": r.gold_paragraph,
    }


def _variant_app(app: Any, settings: Settings, reader_name: str) -> Any:
    """The same App class on other retrieval settings, sharing the loaded encoder, store and reader."""
    return type(app)(settings, encoder=app.encoder, tokenizer=app.tokenizer, store=app.store,
                     readers={reader_name: app.reader(reader_name)})
