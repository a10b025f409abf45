"""The training mix: SQuAD v1.1 train + the v2 train split, shaped like what retrieval hands a reader.

From the two allowed sources it builds plain `QAExample`s (offsets re-checked), so labelling and the
training loop do not change:

- every SQuAD v1.1 train question, except those on paragraphs that (near-)duplicate a paragraph of the
  SQuAD v2.0 dev file (`overlapping_paragraphs`: shared 8-word shingles; e.g. two "Immunology"
  paragraphs of v1.1 are paragraphs of validation article 25);
- the v2 train split, its human unanswerable questions copied `unanswerable_copies` times;
- mined negatives: a v1.1 question asked of another paragraph of its article that holds none of its
  answers (unanswerable by construction);
- long windows: the gold paragraph among its neighbouring paragraphs, up to `window_chars`
  (features of the window that miss the answer learn "not here");
- PDF-like noise: hard line breaks, words hyphenated across lines, page headers and footers.

Pure Python (seeded `random`), no I/O.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, replace
from typing import Sequence

from qa_app.data.squad import PARAGRAPH_SEPARATOR, GoldAnswer, QAExample, SquadDataset

SHINGLE_WORDS = 8
OVERLAP_SHARE = 0.3  # a v1.1 paragraph sharing this share of its shingles with a v2 dev paragraph is dropped


@dataclass(frozen=True)
class MixConfig:
    unanswerable_copies: int = 2  # copies of each human unanswerable question of the v2 train split
    mined_negative_share: float = 0.1  # share of v1.1 questions also asked of a paragraph without their answer
    long_window_share: float = 0.3  # share of examples read inside their neighbouring paragraphs
    window_chars: int = 1500  # longest such window, in characters
    pdf_noise_share: float = 0.2  # share of examples given line breaks, hyphens and page furniture
    seed: int = 13


@dataclass(frozen=True)
class TrainingMix:
    examples: list[QAExample]
    counts: dict[str, int]  # what went in, for the model card
    dropped_paragraphs: list[str]  # "title #paragraph" of the v1.1 paragraphs left out as overlapping


def _shingles(text: str) -> set[str]:
    words = text.split()
    return {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(max(1, len(words) - SHINGLE_WORDS + 1))}


def overlapping_paragraphs(source: SquadDataset, reserved: SquadDataset) -> set[tuple[int, int]]:
    """(article, paragraph) of `source` paragraphs sharing >= OVERLAP_SHARE of their shingles with
    any paragraph of `reserved`."""
    seen: set[str] = set()
    for article in reserved.articles:
        for paragraph in article.paragraphs:
            seen |= _shingles(paragraph)
    found = set()
    for article in source.articles:
        for p, paragraph in enumerate(article.paragraphs):
            own = _shingles(paragraph)
            if len(own & seen) >= OVERLAP_SHARE * len(own):
                found.add((article.index, p))
    return found


def _moved(example: QAExample, context: str, shift: int) -> QAExample:
    answers = tuple(GoldAnswer(a.text, a.start + shift) for a in example.answers)
    return replace(example, context=context, answers=answers)


def with_neighbours(example: QAExample, paragraphs: Sequence[str], rng: random.Random, window_chars: int) -> QAExample:
    """The example's paragraph among neighbours of its article, added on a random side each time
    until the window would pass `window_chars`."""
    before: list[str] = []
    after: list[str] = []
    lo, hi = example.paragraph_index - 1, example.paragraph_index + 1
    size = len(example.context)
    while True:
        sides = [s for s, ok in (("lo", lo >= 0), ("hi", hi < len(paragraphs))) if ok]
        if not sides:
            break
        side = rng.choice(sides)
        text = paragraphs[lo] if side == "lo" else paragraphs[hi]
        if size + len(PARAGRAPH_SEPARATOR) + len(text) > window_chars:
            break
        size += len(PARAGRAPH_SEPARATOR) + len(text)
        if side == "lo":
            before.insert(0, text)
            lo -= 1
        else:
            after.append(text)
            hi += 1
    prefix = "".join(p + PARAGRAPH_SEPARATOR for p in before)
    context = prefix + example.context + "".join(PARAGRAPH_SEPARATOR + p for p in after)
    return _moved(example, context, len(prefix))


_PIECES = re.compile(r"\S+|\s+")


def with_pdf_noise(example: QAExample, rng: random.Random, page: int) -> QAExample:
    """Hard line breaks every 60-90 characters, some long words hyphenated across the break, and a
    running header and footer; gold offsets move with the text, answers are never split."""
    spans = [(a.start, a.end) for a in example.answers]

    def inside(start: int, end: int) -> bool:
        return any(start < e and s < end for s, e in spans)

    width = rng.randint(60, 90)
    out: list[str] = []
    inserted: list[tuple[int, int]] = []  # (original position, characters inserted before it)
    column = 0
    for match in _PIECES.finditer(example.context):
        piece, at = match.group(), match.start()
        if piece.isspace():
            if "\n" in piece:
                column = 0
                out.append(piece)
            elif column >= width:
                out.append("\n" + piece[1:])  # same length: offsets stay
                column = 0
            else:
                out.append(piece)
                column += len(piece)
            continue
        cut = len(piece) // 2
        if (column + len(piece) > width and len(piece) >= 8 and piece.isalpha() and rng.random() < 0.5
                and not inside(at, at + len(piece))):
            out.append(piece[:cut] + "-\n" + piece[cut:])
            inserted.append((at + cut, 2))
            column = len(piece) - cut
        else:
            out.append(piece)
            column += len(piece)
    header = f"{example.title.replace('_', ' ')}    {page}\n"
    footer = f"\n{page}"
    context = header + "".join(out) + footer
    answers = []
    for a in example.answers:
        start = a.start + len(header) + sum(n for p, n in inserted if p <= a.start)
        end = start + (a.end - a.start)
        answers.append(GoldAnswer(context[start:end], start))
    return replace(example, context=context, answers=tuple(answers))


def mined_negative(example: QAExample, paragraphs: Sequence[str], rng: random.Random) -> QAExample | None:
    """The question asked of another paragraph of its article that holds none of its answers."""
    texts = [a.text.lower() for a in example.answers]
    others = [i for i, p in enumerate(paragraphs)
              if i != example.paragraph_index and not any(t in p.lower() for t in texts)]
    if not others:
        return None
    index = rng.choice(others)
    return replace(example, id=f"{example.id}-mined", context=paragraphs[index], answers=(), is_impossible=True,
                   paragraph_index=index)


def build_training_mix(*, v1: SquadDataset, v2: SquadDataset, v2_train: Sequence[QAExample],
                       config: MixConfig = MixConfig()) -> TrainingMix:
    """The mixed, shuffled training examples (see the module docstring)."""
    rng = random.Random(config.seed)
    dropped = overlapping_paragraphs(v1, v2)
    counts: Counter[str] = Counter()
    base: list[tuple[QAExample, Sequence[str]]] = []
    extra: list[QAExample] = []
    for e in v1.examples:
        if (e.article_index, e.paragraph_index) in dropped:
            counts["v1.1 questions dropped (overlapping v2 dev paragraphs)"] += 1
            continue
        paragraphs = v1.articles[e.article_index].paragraphs
        tagged = replace(e, article_index=-1 - e.article_index)  # v1.1 articles are not v2 dev articles
        base.append((tagged, paragraphs))
        counts["v1.1 questions"] += 1
        if rng.random() < config.mined_negative_share:
            negative = mined_negative(tagged, paragraphs, rng)
            if negative is not None:
                extra.append(negative)
                counts["mined negatives"] += 1
    for e in v2_train:
        paragraphs = v2.articles[e.article_index].paragraphs
        copies = config.unanswerable_copies if e.is_impossible else 1
        base.extend([(e, paragraphs)] * copies)
        counts["v2 train unanswerable (with copies)" if e.is_impossible else "v2 train answerable"] += copies
    examples: list[QAExample] = []
    for e, article in base + [(x, v1.articles[-1 - x.article_index].paragraphs) for x in extra]:
        # a mined negative keeps its one paragraph: a neighbour may be the one holding its answer
        if rng.random() < config.long_window_share and not e.id.endswith("-mined"):
            e = with_neighbours(e, article, rng, config.window_chars)
            counts["long windows"] += 1
        if rng.random() < config.pdf_noise_share:
            e = with_pdf_noise(e, rng, page=rng.randint(1, 400))
            counts["PDF-like noise"] += 1
        examples.append(e)
    rng.shuffle(examples)
    names = sorted(f"{v1.articles[a].title} #{p}" for a, p in dropped)
    return TrainingMix(examples, dict(counts), names)
