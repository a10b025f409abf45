"""Typed evaluation results: the report and the per-question rows of a gold, open-book or collection run.

What it does: declares, as TypedDicts, every key that evaluation writes (`qa_app.evaluation.run`,
`qa_app.evaluation.open_book`, `qa_app.evaluation.collection`) and that the HTML report, the web app and the CLI read, so mypy
checks each key name on both sides. A result is the plain dict the CLI prints with `--json` and
writes with `--out`: no conversion, the same keys and values. Keys that are not Python names
(`recall@5`) use the functional syntax. `report_scores` turns the metric core's plain score dict
into `Scores`, checking its keys at run time.

What it does not do: compute or score anything, or read and write files.
"""

# no `from __future__ import annotations` here: TypedDict sees Required[...] at run time (its
# __required_keys__, which the tests check results against) only in evaluated annotations
from typing import Literal, Mapping, Required, TypedDict, cast, final, get_args

Mode = Literal["gold", "open"]
Cause = Literal["retrieval_miss", "reader_miss", "wrong_abstention", "false_answer"]
Outcome = Literal["correct", Cause]  # what happened to one question: right, or why not
CAUSES: tuple[Cause, ...] = get_args(Cause)


class Scores(TypedDict, total=False):
    """The official SQuAD v2.0 script's figures (percent, except the totals and thresholds).

    HasAns_* / NoAns_* are there when that part has questions, best_* when no-answer scores were
    given; HasAns_f1_forced (gold mode only) is HasAns F1 had the reader been forced to answer.
    """

    exact: Required[float]
    f1: Required[float]
    total: Required[int]
    HasAns_exact: float
    HasAns_f1: float
    HasAns_total: int
    NoAns_exact: float
    NoAns_f1: float
    NoAns_total: int
    best_exact: float
    best_exact_thresh: float
    best_f1: float
    best_f1_thresh: float
    HasAns_f1_forced: float


# open-book retrieval, on answerable questions: over the windows the reader was given, and over the
# raw retriever hits expanded to their initial window
RetrievalScores = TypedDict("RetrievalScores", {
    "recall@1": float, "recall@5": float, "recall@10": float, "mrr": float,
    "hit_recall@1": float, "hit_recall@5": float, "hit_recall@10": float, "hit_mrr": float,
}, total=False)


class LatencySummary(TypedDict):
    """Milliseconds, rounded to 0.1."""

    p50: float
    p95: float
    mean: float


class RecallCurve(TypedDict):
    k: list[int]
    windows: list[float]
    hits: list[float]


class ErrorCounts(TypedDict):
    retrieval_miss: int
    reader_miss: int
    wrong_abstention: int
    false_answer: int


class ErrorShares(TypedDict):
    """Wrong answers: how many, their share of the questions, and each cause's share of them."""

    total: int
    share_of_questions: float
    retrieval_miss: float
    reader_miss: float
    wrong_abstention: float
    false_answer: float
    counts: ErrorCounts


class WindowStats(TypedDict):
    """What the dynamic window did."""

    growth_steps: int
    growth_steps_per_question: float
    questions_grown: float  # share of the questions whose window grew
    windows_per_question: float
    tokens_read_per_question: LatencySummary  # word pieces, summarised like latencies


class TypeScores(TypedDict):
    count: int
    exact: float
    f1: float


class OpenSummary(Scores, RetrievalScores, total=False):
    """The figures of one open-book run over its questions (also what a window comparison reads)."""

    recall_curve: RecallCurve
    answerable_questions: int
    errors: ErrorShares
    latency_ms: dict[str, LatencySummary]  # per pipeline stage, plus "end_to_end"
    window: WindowStats
    by_question_type: dict[str, TypeScores]  # first wh-word -> scores
    noans_note: str


class RetrievalStamp(TypedDict):
    """The retrieval settings an open-book run used."""

    retriever: str
    top_k: int
    candidates: int
    window_chunks: int
    token_budget: int
    dynamic: bool
    max_growth_steps: int
    max_per_document: int


class GoldSameQuestions(TypedDict, total=False):
    """The same reader on the same questions in gold mode, and open-book HasAns EM as a share of it."""

    exact: float
    f1: float
    HasAns_exact: float
    HasAns_f1: float
    NoAns_exact: float
    open_HasAns_exact_share: float


CompareEntry = TypedDict("CompareEntry", {
    "exact": float, "f1": float, "HasAns_exact": float, "HasAns_f1": float, "NoAns_exact": float,
    "recall@5": float, "mrr": float, "tokens_read_per_question": LatencySummary, "growth_steps": int,
    "latency_ms": dict[str, LatencySummary], "dynamic": bool, "window_chunks": int,
}, total=False)


class EvalReport(OpenSummary, total=False):
    """The stamped report of one run, gold or open-book. Scores and stamps are always there; the
    OpenSummary figures and the keys marked "open" only in open-book mode."""

    reader: Required[str]
    model: Required[str]
    mode: Required[Mode]
    split: Required[str]
    config_hash: Required[str]
    dataset: Required[str]
    dataset_sha256: Required[str]
    seed: Required[int]
    questions: Required[int]
    seconds: Required[float]
    questions_per_s: float  # gold
    corpus: str  # open
    date: str  # open
    encoder: str  # open
    retrieval: RetrievalStamp  # open
    index: dict[str, str | int]  # open: "dir", "articles", and how many articles got each indexing status
    gold_same_questions: GoldSameQuestions  # open
    compare_windows: dict[str, CompareEntry]  # open, with --compare-windows: "fixed" and "dynamic"


@final
class GoldRow(TypedDict):
    """One question of a gold-mode run (the fields of `qa_app.evaluation.gold.GoldPrediction`)."""

    id: str
    question: str
    text: str  # the answer given ("" = abstained)
    forced_text: str
    na_score: float
    exact: int
    f1: float
    has_answer: bool
    cause: Outcome


@final
class OpenRow(TypedDict):
    """One question of an open-book run (the fields of `qa_app.evaluation.open_book.OpenRecord`)."""

    id: str
    question: str
    qtype: str
    golds: list[str]
    has_answer: bool
    prediction: str  # "" = abstained
    exact: int
    f1: float
    na_score: float | None
    cause: Outcome
    window_position: int | None
    hit_position: int | None
    windows: int
    growth_steps: int
    tokens_read: int
    end_to_end_ms: float
    timings_ms: dict[str, float]
    source: str
    paragraph: int | None
    gold_source: str
    gold_paragraph: int


# ---------------------------------------------------------------- evaluation on the user's own documents
# (`qa_app.evaluation.collection`: a question file asked through the whole pipeline over an indexed collection)

CollectionMode = Literal["collection"]

# the top answer's citation: share (0-1) of the answerable questions that name an expected page (or document)
# whose top answer cites that page of that document (that document); an abstention is a miss
CitationScores = TypedDict("CitationScores", {
    "page@1": float, "page_questions": int, "source@1": float, "source_questions": int,
}, total=False)


class AbstentionScores(TypedDict):
    """How often the app said "not found" (shares 0-1): on unanswerable questions that is right (NoAns
    accuracy), on answerable ones it is a wrong abstention."""

    unanswerable: int
    abstained_on_unanswerable: float
    answerable: int
    abstained_on_answerable: float


class CollectionSummary(Scores, CitationScores, total=False):
    """The figures of one run over an indexed collection. Scores (official SQuAD v2 semantics) are over
    every question; `follow_ups` / `first_turns` over the follow-up turns and the others, present when
    the questions have follow-ups."""

    abstention: Required[AbstentionScores]
    latency_ms: Required[dict[str, LatencySummary]]  # per pipeline stage, plus "end_to_end" (the whole ask)
    errors: Required[ErrorShares]
    follow_ups: Scores
    first_turns: Scores
    by_source: dict[str, TypeScores]  # expected document -> scores of its questions


class CollectionReport(CollectionSummary, total=False):
    """The stamped report of one run over an indexed collection."""

    reader: Required[str]
    model: Required[str]
    mode: Required[CollectionMode]
    collection: Required[str]
    store: Required[str]  # the data directory, or the Chroma server
    documents: Required[int]  # documents indexed in the collection
    dataset: Required[str]  # the question file
    dataset_sha256: Required[str]
    format: Required[str]  # csv, jsonl or squad
    config_hash: Required[str]
    seed: Required[int]
    questions: Required[int]
    seconds: Required[float]
    date: Required[str]
    encoder: Required[str]
    retrieval: Required[RetrievalStamp]
    unknown_sources: list[str]  # expected documents that are not indexed in the collection
    questions_per_s: float


@final
class CollectionRow(TypedDict):
    """One question of a run over an indexed collection (the fields of
    `qa_app.evaluation.collection.CollectionRecord`)."""

    id: str
    question: str
    follows: str | None
    turn: int  # 0: a first question; 1: a follow-up of one; 2: a follow-up of a follow-up ...
    query: str  # the retrieval query the pipeline used (a follow-up carries words of the conversation)
    golds: list[str]
    has_answer: bool
    prediction: str  # "" = abstained
    exact: int
    f1: float
    na_score: float | None
    cause: Outcome  # retrieval_miss: no window read held a gold answer's text
    expected_source: str | None  # None: not scored
    cited_source: str  # "" when abstained
    source_hit: bool | None  # None: not scored (no expected source, or an unanswerable question)
    expected_page: int | None
    cited_page: int | None
    page_hit: bool | None
    end_to_end_ms: float
    timings_ms: dict[str, float]
    error: str  # why the question could not be asked ("" when it was)


def report_scores(raw: Mapping[str, float | int]) -> Scores:
    """The metric core's plain score dict as `Scores`, floats rounded to 4 decimals, in its order.

    ValueError for a key `Scores` does not declare (so the cast below is checked, not assumed)."""
    unknown = set(raw) - Scores.__required_keys__ - Scores.__optional_keys__
    if unknown:
        raise ValueError(f"undeclared score keys: {', '.join(sorted(unknown))}")
    return cast(Scores, {k: round(v, 4) if isinstance(v, float) else v for k, v in raw.items()})

