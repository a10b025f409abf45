"""`SpanModelReader`: the `Reader` logic shared by every span model, i.e. every model that returns
(start, end, answer_logit) over tokenised features (the transformer and the LSTM readers subclass it
and only say how to load their checkpoint).

Reads windows of any length (strided features), decodes n-best spans over all windows of a question
together, and returns document offsets. The model loads on first use. Knows no model family.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable, Self, Sequence

import numpy as np

from qa_app.config import ReaderConfig
from qa_app.readers.decoding import Decoded, FeatureLogits, context_probabilities, decode
from qa_app.readers.word_edges import snap_to_words
from qa_app.types import ReaderResult, Span, TokenProbs, Window

CACHE_WINDOWS = 64  # (question, window) model outputs kept for re-reads during window growth


class SpanModelReader:
    """Span extraction with a span-model checkpoint; subclasses say how to load it (`_load_checkpoint`).

    `precision` (qa_app.readers.inference.PRECISIONS) decides bf16 autocast and int8 quantisation when
    the model loads, unless `bf16` is given (training and tests pass models they hold)."""

    name = "span"

    def __init__(self, *, checkpoint: str | Path, config: ReaderConfig, bf16: bool | None = None,
                 name: str | None = None, precision: str = "auto") -> None:
        if name is not None:  # one class serves several checkpoints (transformer, transformer-mpnet)
            self.name = name
        self._checkpoint = Path(checkpoint)
        self._config = config
        self._bf16 = bf16
        self._precision = precision
        self._loaded: tuple[Any, Any, Any] | None = None
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], list[Any]] = {}
        self._cache_lock = threading.Lock()

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, settings: Any, *, config: ReaderConfig, bf16: bool = False) -> Self:
        reader = cls(checkpoint="<in memory>", config=config, bf16=bf16)
        reader._loaded = (model, tokenizer, settings)
        return reader

    def _load(self) -> tuple[Any, Any, Any]:
        with self._lock:
            if self._loaded is None:
                from qa_app.readers.inference import autocast_bf16, quantized_int8

                model, tokenizer, settings = self._load_checkpoint(self._checkpoint)
                if self._precision == "int8":
                    model = quantized_int8(model)
                self._loaded = (model, tokenizer, settings)
                if self._bf16 is None:
                    self._bf16 = autocast_bf16(self._precision)
            return self._loaded

    def _load_checkpoint(self, path: Path) -> tuple[Any, Any, Any]:
        """(model, tokenizer, settings) of the checkpoint in `path`."""
        raise NotImplementedError

    @property
    def settings(self) -> Any:
        return self._load()[2]

    @property
    def threshold(self) -> float:
        if self._config.null_threshold is not None:
            return self._config.null_threshold
        return float(self._load()[2].threshold_for(self._config.calibration))

    def raw_features(self, questions: Sequence[str], contexts: Sequence[str],
                     progress: Callable[[int], None] | None = None) -> list[Any]:
        """Model outputs for every feature of every (question, context) pair."""
        from qa_app.readers.features import encode_pairs
        from qa_app.readers.inference import run_features

        model, tokenizer, settings = self._load()
        features = encode_pairs(
            tokenizer, questions, contexts, max_length=settings.max_length, stride=settings.stride,
            max_question_tokens=min(self._config.max_question_tokens, settings.max_question_tokens),
        )
        return run_features(model, features, batch_size=self._config.batch_size, bf16=bool(self._bf16), progress=progress)

    def decode_features(self, raws: Sequence[Any], window_indices: Sequence[int]) -> tuple[Decoded, list[FeatureLogits]]:
        weight = self._load()[2].answerability_weight
        logits = [raw.to_logits(weight, w) for raw, w in zip(raws, window_indices)]
        decoded = decode(logits, n_best=self._config.n_best, max_answer_tokens=self._config.max_answer_tokens)
        return decoded, logits

    def read(self, question: str, windows: Sequence[Window]) -> ReaderResult:
        if not windows:
            return ReaderResult(spans=(), null_score=1.0, null_logit_diff=float("-inf"), answerable=False)
        keys = [(question, w.text) for w in windows]
        with self._cache_lock:
            local = {k: self._cache[k] for k in keys if k in self._cache}
        missing = list(dict.fromkeys(k for k in keys if k not in local))
        if missing:
            raws = self.raw_features([question] * len(missing), [text for _, text in missing])
            fresh: dict[tuple[str, str], list[Any]] = {k: [] for k in missing}
            for raw in raws:
                fresh[missing[raw.sample_index]].append(raw)
            local.update(fresh)
            with self._cache_lock:  # a grown window re-reads; the other windows come from here
                self._cache.update(fresh)
                while len(self._cache) > CACHE_WINDOWS:
                    self._cache.pop(next(iter(self._cache)))
        group_raws, indices = [], []
        for wi, key in enumerate(keys):
            for raw in local[key]:
                group_raws.append(raw)
                indices.append(wi)
        decoded, logits = self.decode_features(group_raws, indices)
        return self._result(decoded, logits, windows)

    def _result(self, decoded: Decoded, logits: list[FeatureLogits], windows: Sequence[Window]) -> ReaderResult:
        spans = []
        seen: set[tuple[int, int, int]] = set()
        for cand in decoded.candidates:
            w = windows[cand.window_index]
            start, end = cand.start_char, cand.end_char
            if self._config.whole_words:
                start, end = snap_to_words(w.text, start, end)
            if (cand.window_index, start, end) in seen:
                continue  # two cuts of one word snapped to the same answer: the better one stays
            seen.add((cand.window_index, start, end))
            spans.append(Span(
                text=w.text[start:end], start=w.start + start, end=w.start + end, score=cand.probability,
                logit=cand.logit, window_index=cand.window_index,
            ))
        per_window = [float("inf")] * len(windows)
        for f in logits:
            per_window[f.window_index] = min(per_window[f.window_index], f.null_logit)
        token_probs = None
        if decoded.best_feature >= 0:
            token_probs = self._token_probs(logits[decoded.best_feature], windows[logits[decoded.best_feature].window_index])
        diff = decoded.score_diff
        return ReaderResult(
            spans=tuple(spans), null_score=decoded.null_probability, null_logit_diff=diff,
            answerable=bool(spans) and diff > self.threshold, token_probs=token_probs,
            window_null_logits=tuple(per_window),
        )

    def _token_probs(self, feature: FeatureLogits, window: Window) -> TokenProbs:
        idx, p_start, p_end = context_probabilities(feature)
        offsets = feature.offsets[idx]
        tokens = tuple(window.text[s:e] for s, e in offsets)
        doc_offsets = tuple((int(window.start + s), int(window.start + e)) for s, e in offsets)
        return TokenProbs(tokens=tokens, offsets=doc_offsets,
                          start=tuple(np.round(p_start, 5).tolist()), end=tuple(np.round(p_end, 5).tolist()))

    def raw_for_items(
        self, items: Sequence[tuple[str, Sequence[Window]]], progress: Callable[[int], None] | None = None
    ) -> tuple[list[Any], list[tuple[int, int]]]:
        """Raw features of many questions at once; `owner[i]` = (question, window) of input pair i."""
        questions, contexts, owner = [], [], []
        for qi, (question, windows) in enumerate(items):
            for wi, window in enumerate(windows):
                questions.append(question)
                contexts.append(window.text)
                owner.append((qi, wi))
        return self.raw_features(questions, contexts, progress), owner

    def results_from_raws(
        self, items: Sequence[tuple[str, Sequence[Window]]], raws: Sequence[Any], owner: Sequence[tuple[int, int]]
    ) -> list[ReaderResult]:
        grouped: list[list[Any]] = [[] for _ in items]
        for raw in raws:
            grouped[owner[raw.sample_index][0]].append(raw)
        results = []
        for (question, windows), group in zip(items, grouped):
            if not group:
                results.append(ReaderResult(spans=(), null_score=1.0, null_logit_diff=float("-inf"), answerable=False))
                continue
            decoded, logits = self.decode_features(group, [owner[r.sample_index][1] for r in group])
            results.append(self._result(decoded, logits, windows))
        return results

    def read_many(
        self, items: Sequence[tuple[str, Sequence[Window]]], progress: Callable[[int], None] | None = None
    ) -> list[ReaderResult]:
        """`read` for many questions, batching all their features together."""
        raws, owner = self.raw_for_items(items, progress)
        return self.results_from_raws(items, raws, owner)
