"""`BM25Index`: lexical (BM25) search over chunk texts with `bm25s`, kept in step with the vector store.

It is an index sink of `indexing.build.Indexer` (`add(doc_id, chunks)`, `delete(doc_id)`) and answers
`search(query, k) -> [(chunk_id, score)]`. Durable form: one JSON file per document under
`<path>/docs/` (chunk ids, texts, and their tokens as a cache), written to a temporary file and
moved into place with `os.replace`, so a document is in the index only when fully written.
bm25s matrices are immutable, so the matrix is rebuilt lazily from in-memory per-document term
counts when a search follows a change (vectorised numpy, equal to bm25s's own builder but
several times faster); queries are scored by bm25s. Another process's writes are picked up (the docs
folder's mtime is checked before each read). `sync(store)` reconciles with a vector store.

Tokenisation (`tokenize`): NFKC, lowercase, Lucene's English stopwords, Snowball English stemming
(PyStemmer, when installed); runs of Chinese/Japanese characters become overlapping character
bigrams, so CJK text matches without a word segmenter. It does not know what a `Hit` or a reader is:
turning chunk ids into chunks is `qa_app.retrieval.sparse`'s job.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import tempfile
import threading
import time
import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa_app.errors import StoreError
from qa_app.protocols import VectorStore
from qa_app.types import Chunk, DocumentInfo

FORMAT = 1  # version of the per-document JSON files
# Han (with extensions and compatibility ideographs), iteration marks, Hiragana, Katakana.
_CJK = "\u3005-\u3007\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_CJK_RUNS = re.compile(f"([{_CJK}]+)")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,120}$")
_STALE_TMP_S = 3600.0  # temporary files older than this are leftovers of a crashed writer
# A folder changed this recently is listed again even if its mtime looks unchanged: mtimes tick
# coarsely (a jiffy), so two changes in one tick share one mtime ("racy" stamps, as in git).
_RACY_NS = 2_000_000_000


@functools.lru_cache(maxsize=1)
def _word_pattern() -> re.Pattern[str]:
    """Letters/digits plus combining marks (Devanagari vowel signs are not `\\w` in Python's re)."""
    marks, start = [], None
    for cp in range(0x300, 0x20000):
        is_mark = unicodedata.category(chr(cp)).startswith("M")
        if is_mark and start is None:
            start = cp
        elif not is_mark and start is not None:
            marks.append(f"{chr(start)}-{chr(cp - 1)}")
            start = None
    return re.compile(f"[^\\W_]+(?:[{''.join(marks)}]+[^\\W_]*)*")


@functools.lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN  # type: ignore[import-untyped]  # Lucene's 33 English stopwords

    return frozenset(STOPWORDS_EN)


_local = threading.local()  # PyStemmer objects must not be shared between threads
_STEM_CACHE_MAX = 200_000


def _stemmer() -> Any:
    """This thread's Snowball English stemmer, or None when PyStemmer is not installed."""
    if not hasattr(_local, "stemmer"):
        try:
            import Stemmer  # type: ignore[import-not-found]
        except ImportError:
            _local.stemmer = None
        else:
            _local.stemmer = Stemmer.Stemmer("english", 0)  # its own cache: ours below is faster
        _local.stems = {}
    return _local.stemmer


def _stem(words: list[str]) -> list[str]:
    stemmer = _stemmer()
    if stemmer is None or not words:
        return words
    cache: dict[str, str] = _local.stems
    new = [w for w in dict.fromkeys(words) if w not in cache]
    if new:
        if len(cache) + len(new) > _STEM_CACHE_MAX:
            cache.clear()
        cache.update(zip(new, stemmer.stemWords(new)))
    return [cache[w] for w in words]


def tokenizer_id() -> str:
    """Names the tokenisation; stored token ids are only reused under the same id."""
    return "nfkc-lower-en33-cjk2" + ("-snowball" if _stemmer() is not None else "")


def tokenize(text: str) -> list[str]:
    """Index/query terms of `text` (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).lower()
    words: list[str] = []
    cjk: list[str] = []
    stop, pattern = _stopwords(), _word_pattern()
    for i, part in enumerate(_CJK_RUNS.split(text)):
        if i % 2:  # a CJK run: bigrams, or the lone character
            cjk.extend([part[j:j + 2] for j in range(len(part) - 1)] if len(part) > 1 else [part])
        elif part:
            words.extend(w for w in pattern.findall(part) if w not in stop)
    return _stem(words) + cjk


class DocumentSource(Protocol):
    """What `sync` needs of a vector store."""

    def documents(self) -> list[DocumentInfo]: ...


@dataclass(frozen=True)
class _Doc:
    """One document as the matrix needs it: term counts per chunk (computed once, on load or add)."""

    chunk_ids: tuple[str, ...]
    lengths: np.ndarray  # int64, terms per chunk
    rows: np.ndarray  # int64 chunk position in this document, one per (chunk, distinct term) pair
    terms: np.ndarray  # int64 ids into BM25Index._vocab
    counts: np.ndarray  # int64 term frequency


def term_counts(lengths: np.ndarray, terms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, term, count) of every distinct term of every row, sorted by row then term; `terms`
    holds every row's terms one after the other, `lengths` how many each row has."""
    rows = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    width = int(terms.max()) + 1 if len(terms) else 1
    pairs, counts = np.unique(rows * width + terms, return_counts=True)
    row, term = np.divmod(pairs, width)
    return row, term, counts.astype(np.int64)


def bm25_matrix(lengths: np.ndarray, rows: np.ndarray, terms: np.ndarray, counts: np.ndarray,
                vocab_size: int, *, k1: float, b: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(data, indices, indptr) of the rows x vocabulary CSC matrix of BM25 weights that bm25s's
    `BM25(method="lucene").index()` builds, from `term_counts` output: idf = ln(1 + (N - df + .5) /
    (df + .5)), weight = idf * tf / (tf + k1 * (1 - b + b * len / avg_len)). Vectorised: bm25s
    builds it with a Python loop per row, ~10x slower (a test checks both agree)."""
    n = len(lengths)
    df = np.bincount(terms, minlength=vocab_size)
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)  # bm25s keeps idf in float32
    avg = float(lengths.mean()) if n else 1.0
    weight = idf[terms] * (counts / (counts + k1 * (1 - b + b * lengths[rows] / (avg or 1.0))))
    order = np.argsort(terms, kind="stable")  # column-major; rows stay ascending within a column
    indptr = np.zeros(vocab_size + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    return weight[order].astype(np.float32), rows[order].astype(np.int32), indptr


class BM25Index:
    """BM25 over the chunks of complete documents; `path=None` keeps everything in memory."""

    def __init__(self, *, path: Path | None, k1: float = 1.5, b: float = 0.75) -> None:
        self._path = Path(path) if path is not None else None
        self._k1, self._b = k1, b
        self._lock = threading.RLock()
        self._docs: dict[str, _Doc] = {}
        self._vocab: dict[str, int] = {}
        self._model: tuple[Any, list[str]] | None = None  # (bm25s.BM25, chunk ids by row); None = stale
        self._stamp: int | None = None  # mtime_ns of the docs folder when last scanned

    @property
    def path(self) -> Path | None:
        return self._path

    # -- the index-sink contract ------------------------------------------------------------

    def add(self, doc_id: str, chunks: Sequence[Chunk]) -> None:
        """Index a document's chunks (replacing any earlier version of `doc_id`), durably first."""
        ordered = sorted(chunks, key=lambda c: c.index)
        if any(c.doc_id != doc_id for c in ordered):
            raise ValueError(f"every chunk must belong to document {doc_id}")
        texts = [c.text for c in ordered]
        tokens = [tokenize(t) for t in texts]
        with self._lock:
            self._refresh()
            if self._path is not None:
                self._write(doc_id, [c.id for c in ordered], texts, tokens)
            self._docs[doc_id] = self._make_doc([c.id for c in ordered], tokens)
            self._model = None

    def delete(self, doc_id: str) -> None:
        """Forget a document; deleting one that is not indexed is a no-op (the store is the authority)."""
        with self._lock:
            self._refresh()
            if self._path is not None:
                try:
                    os.unlink(self._file(doc_id))
                except FileNotFoundError:
                    pass  # already gone: delete is idempotent
                except OSError as exc:
                    raise StoreError(f"cannot delete the BM25 entry of {doc_id}: {exc.strerror}") from exc
            if self._docs.pop(doc_id, None) is not None:
                self._model = None

    # -- reads ------------------------------------------------------------------------------

    def doc_ids(self) -> list[str]:
        with self._lock:
            self._refresh()
            return sorted(self._docs)

    def count(self) -> int:
        """Number of indexed chunks."""
        with self._lock:
            self._refresh()
            return sum(len(d.chunk_ids) for d in self._docs.values())

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """Up to k (chunk id, BM25 score) sharing a term with `query`, best first; ties by document
        id then chunk index (deterministic)."""
        if k <= 0:
            return []
        with self._lock:
            self._refresh()
            terms = [self._vocab[t] for t in dict.fromkeys(tokenize(query)) if t in self._vocab]
            if not terms:
                return []
            model, rows = self._ensure_model()
            if model is None:
                return []
            scores = model.get_scores_from_ids(terms)
        matched = np.flatnonzero(scores > 0)
        best = matched[np.argsort(-scores[matched], kind="stable")[:k]]  # stable: row order breaks ties
        return [(rows[i], float(scores[i])) for i in best]

    def sync(self, store: DocumentSource) -> list[str]:
        """Drop documents the store does not hold; return ids of store documents missing here
        (the caller re-adds them from `store.get_chunks`). Safe while another process indexes:
        this index is listed before the store, and the indexer writes the store first."""
        mine = set(self.doc_ids())
        theirs = [d.id for d in store.documents()]
        wanted = set(theirs)
        for doc_id in sorted(mine - wanted):
            self.delete(doc_id)
        self._remove_stale_tmp()
        return [d for d in theirs if d not in mine]

    def rebuild(self) -> float:
        """Rebuild the BM25 matrix now; return the seconds it took (normally done lazily)."""
        with self._lock:
            self._refresh()
            self._model = None
            t0 = time.perf_counter()
            self._ensure_model()
            return time.perf_counter() - t0

    # -- internals --------------------------------------------------------------------------

    def _make_doc(self, chunk_ids: list[str], tokens: list[list[str]]) -> _Doc:
        vocab = self._vocab
        ids = np.asarray([vocab.setdefault(t, len(vocab)) for terms in tokens for t in terms], dtype=np.int64)
        lengths = np.asarray([len(t) for t in tokens], dtype=np.int64)
        rows, terms, counts = term_counts(lengths, ids)
        return _Doc(chunk_ids=tuple(chunk_ids), lengths=lengths, rows=rows, terms=terms, counts=counts)

    def _ensure_model(self) -> tuple[Any, list[str]]:
        if self._model is None:
            docs = [self._docs[d] for d in sorted(self._docs)]
            rows = [cid for doc in docs for cid in doc.chunk_ids]
            if not rows:
                return None, []
            import bm25s  # type: ignore[import-untyped]

            offsets = np.cumsum([0] + [len(doc.chunk_ids) for doc in docs[:-1]])
            data, indices, indptr = bm25_matrix(
                np.concatenate([doc.lengths for doc in docs]),
                np.concatenate([doc.rows + off for doc, off in zip(docs, offsets)]),
                np.concatenate([doc.terms for doc in docs]),
                np.concatenate([doc.counts for doc in docs]),
                len(self._vocab), k1=self._k1, b=self._b,
            )
            model = bm25s.BM25(k1=self._k1, b=self._b, method="lucene")
            # what BM25.index() would set; the query side (get_scores_from_ids) is bm25s's own
            model.scores = {"data": data, "indices": indices, "indptr": indptr, "num_docs": len(rows)}
            model.vocab_dict = dict(self._vocab)
            model.unique_token_ids_set = set(self._vocab.values())
            model.nonoccurrence_array = None
            self._model = (model, rows)
        return self._model

    def _docs_dir(self) -> Path:
        assert self._path is not None
        return self._path / "docs"

    def _file(self, doc_id: str) -> Path:
        name = doc_id if _SAFE_NAME.match(doc_id) else "h-" + hashlib.sha256(doc_id.encode()).hexdigest()
        return self._docs_dir() / f"{name}.json"

    def _write(self, doc_id: str, chunk_ids: list[str], texts: list[str], tokens: list[list[str]]) -> None:
        """Texts are the source of truth; tokens are a cache, valid under the same `tokenizer_id()`."""
        folder = self._docs_dir()
        payload = {"format": FORMAT, "doc_id": doc_id, "tokenizer": tokenizer_id(), "chunk_ids": chunk_ids,
                   "texts": texts, "tokens": [" ".join(t) for t in tokens]}
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    json.dump(payload, out, ensure_ascii=False)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, self._file(doc_id))
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise StoreError(f"cannot write the BM25 index in {folder}: {exc.strerror}; "
                             "check free disk space and permissions") from exc

    def _refresh(self) -> None:
        """Load the docs folder on first use, and again when another process changed it."""
        if self._path is None:
            return
        folder = self._docs_dir()
        try:
            stamp = folder.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = -1
        if stamp == self._stamp and (stamp == -1 or time.time_ns() - stamp > _RACY_NS):
            return
        self._stamp = stamp  # taken before listing: a change during the scan triggers another one
        on_disk: dict[str, Path] = {}
        if stamp != -1:
            for entry in os.scandir(folder):
                if entry.name.endswith(".json") and not entry.name.startswith("."):
                    on_disk[entry.name] = Path(entry.path)
        known = {self._file(d).name: d for d in self._docs}
        for name, doc_id in known.items():
            if name not in on_disk:
                del self._docs[doc_id]
                self._model = None
        for name, file in on_disk.items():
            if name not in known:
                loaded = self._read(file)
                if loaded is not None:
                    self._docs[loaded[0]] = self._make_doc(loaded[1], loaded[2])
                    self._model = None

    def _read(self, file: Path) -> tuple[str, list[str], list[list[str]]] | None:
        """(doc id, chunk ids, tokens per chunk) of one file; None when it vanished or is unreadable,
        in which case the document counts as missing and `sync` has it re-added from the store."""
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            chunk_ids, texts = [str(c) for c in data["chunk_ids"]], [str(t) for t in data["texts"]]
            if data.get("format") != FORMAT or len(chunk_ids) != len(texts):
                return None
            if data.get("tokenizer") == tokenizer_id() and len(data.get("tokens", ())) == len(texts):
                tokens = [str(t).split() for t in data["tokens"]]
            else:  # written under another tokenisation (e.g. without PyStemmer): redo it
                tokens = [tokenize(t) for t in texts]
            return str(data["doc_id"]), chunk_ids, tokens
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            warnings.warn(f"ignoring unreadable BM25 file {file} ({exc}); sync() re-adds it from the store",
                          RuntimeWarning, stacklevel=2)
            return None

    def _remove_stale_tmp(self) -> None:
        if self._path is None or not self._docs_dir().is_dir():
            return
        cutoff = time.time() - _STALE_TMP_S
        for entry in os.scandir(self._docs_dir()):
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                with contextlib.suppress(FileNotFoundError):
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)


def sync_index(index: BM25Index, store: VectorStore) -> list[str]:
    """`index.sync(store)`, then re-add the missing documents from `store.get_chunks`; returns
    the ids re-added (the composition root calls this when it opens the index)."""
    added = []
    for doc_id in index.sync(store):
        info = store.get_document(doc_id)
        if info is None:
            continue  # deleted meanwhile
        index.add(doc_id, store.get_chunks(doc_id, range(info.chunks)))
        added.append(doc_id)
    return added
