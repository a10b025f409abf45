"""Training features with span and answerability labels, built from SQuAD examples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from qa_app.data.squad import QAExample
from qa_app.readers.features import encode_pairs, span_labels


@dataclass(frozen=True)
class LabelledFeatures:
    input_ids: list[list[int]]
    token_type_ids: list[list[int]]
    start_positions: list[int]
    end_positions: list[int]
    has_answer: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)


def label_features(
    tokenizer: Any, examples: Sequence[QAExample], *, max_length: int, stride: int, max_question_tokens: int
) -> LabelledFeatures:
    """Tokenise every example; a feature without the whole answer points at [CLS] (SQuAD2)."""
    enc = encode_pairs(
        tokenizer, [e.question for e in examples], [e.context for e in examples],
        max_length=max_length, stride=stride, max_question_tokens=max_question_tokens,
    )
    starts, ends, has = [], [], []
    for offsets, sample in zip(enc.offsets, enc.sample_index):
        example = examples[sample]
        if example.is_impossible or not example.answers:
            s = e = 0
        else:
            answer = example.answers[0]
            s, e = span_labels(offsets, answer.start, answer.end)
        starts.append(s)
        ends.append(e)
        has.append(int(s > 0))
    return LabelledFeatures(enc.input_ids, enc.token_type_ids, starts, ends, has)
