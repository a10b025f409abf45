"""Length-grouped batching: batches of similar length keep padding (and CPU time) small.

Pure Python, deterministic for a seed, so a resumed run sees the same batch order.
"""

from __future__ import annotations

import random
from typing import Sequence


def length_grouped_batches(lengths: Sequence[int], batch_size: int, seed: int, group_batches: int = 50) -> list[list[int]]:
    """Shuffle, sort inside mega-groups of `group_batches` batches by length, then shuffle batches."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    group = batch_size * group_batches
    batches: list[list[int]] = []
    for g in range(0, len(order), group):
        block = sorted(order[g : g + group], key=lambda i: lengths[i], reverse=True)
        batches.extend(block[b : b + batch_size] for b in range(0, len(block), batch_size))
    rng.shuffle(batches)
    return batches
