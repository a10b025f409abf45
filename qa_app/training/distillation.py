"""Knowledge distillation: a trained span reader (the teacher) guides the training of another.

The teacher reads every training feature once; its start/end logits and answerability logit are
kept (float16, cached in the run directory so `--resume` does not read them again) and the
student learns from them next to the gold labels (Hinton et al. 2015). Several teachers (a
comma-separated `--teacher`) each read the features, and the mean of their logits teaches: an
ensemble teacher.

    loss = (1 - w) * gold loss + w * (T^2 * KL(teacher || student) over start and end at
           temperature T, plus BCE towards the teacher's answer probability)

Both readers must cut the same features (same word pieces); positions the student can never
choose (question pieces, [SEP], padding) are removed from the teacher's distribution too, so the
student is only asked for what it can give. Reads no data; builds no student.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch.nn import functional as F

from qa_app.errors import ConfigError
from qa_app.readers.checkpoint import MASKED
from qa_app.readers.inference import model_device, pad_batch
from qa_app.readers.registry import load_span_checkpoint
from qa_app.readers.weights import WEIGHTS_FILE, has_weights, weight_files
from qa_app.training.batches import length_grouped_batches
from qa_app.training.devices import bf16_trains_on
from qa_app.training.labels import LabelledFeatures

CACHE_FILE = "teacher_logits.pt"


@dataclass(frozen=True)
class TeacherTargets:
    """The teacher's outputs per training feature (same order as the LabelledFeatures)."""

    start: list[np.ndarray]  # float16, one value per word piece of the feature
    end: list[np.ndarray]
    answer: np.ndarray  # float32, one answerability logit per feature

    def batch(self, idx: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(start, end, answer) of some features, right-padded with MASKED like pad_batch pads ids."""
        width = max(len(self.start[i]) for i in idx)
        start = torch.full((len(idx), width), MASKED)
        end = torch.full((len(idx), width), MASKED)
        for row, i in enumerate(idx):
            start[row, : len(self.start[i])] = torch.from_numpy(self.start[i].astype(np.float32))
            end[row, : len(self.end[i])] = torch.from_numpy(self.end[i].astype(np.float32))
        return start, end, torch.from_numpy(self.answer[idx].astype(np.float32))


def teacher_names(teacher: str | Path | Sequence[str | Path]) -> list[str]:
    """The checkpoints a `--teacher` value names: one folder or a comma-separated list of them."""
    if isinstance(teacher, str):
        parts: Sequence[str | Path] = teacher.split(",")
    elif isinstance(teacher, Path):
        parts = [teacher]
    else:
        parts = teacher
    return [str(p).strip() for p in parts if str(p).strip()]


def teacher_dirs(teacher: str | Path | Sequence[str | Path]) -> list[Path]:
    """The teacher checkpoint folders of a `--teacher` value; ConfigError if one is not a checkpoint."""
    roots = [Path(name) for name in teacher_names(teacher)]
    if not roots:
        raise ConfigError("no teacher given; pass a folder written by `qa-app train`, or several separated by commas")
    for root in roots:
        if not has_weights(root):
            raise ConfigError(f"teacher {root} has no {WEIGHTS_FILE}; pass a folder written by `qa-app train`")
    return roots


def teacher_targets(
    teacher: str | Path | Sequence[str | Path], student_tokenizer: Any, feats: LabelledFeatures, run_dir: Path, *,
    batch_size: int = 32, log: Callable[[str], None] = print, progress_factory: Callable[..., Any] | None = None,
    device: torch.device | None = None,
) -> TeacherTargets:
    """The teacher's logits for every feature (the mean over several teachers), read once and cached
    in run_dir (keyed by the teachers' weights and the features, so another teacher or other data
    reads again)."""
    roots = teacher_dirs(teacher)
    key = _cache_key([f for root in roots for f in weight_files(root)], feats)
    cache = run_dir / CACHE_FILE
    if cache.is_file():
        saved = torch.load(cache, map_location="cpu", weights_only=False)
        if saved.get("key") == key:
            log(f"teacher logits from {cache}")
            return TeacherTargets(saved["start"], saved["end"], saved["answer"])
    each = []
    for root in roots:
        model, tokenizer, _ = load_span_checkpoint(root)
        if tokenizer.get_vocab() != student_tokenizer.get_vocab():
            raise ConfigError(f"teacher {root} reads other word pieces than the student; distillation needs the same "
                              "tokenizer (train the student from the same base model)")
        log(f"teacher {root} reads {len(feats)} training features ...")
        each.append(_read_all(model.to(device or torch.device("cpu")), feats, batch_size, progress_factory))
        del model
    targets = average_targets(each)
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    torch.save({"key": key, "start": targets.start, "end": targets.end, "answer": targets.answer}, tmp)
    tmp.replace(cache)
    return targets


def average_targets(each: Sequence[TeacherTargets]) -> TeacherTargets:
    """The ensemble of several teachers: mean logits (a normalised geometric mean of their span
    distributions); a position any teacher can never choose stays MASKED."""
    if len(each) == 1:
        return each[0]

    def mean(rows: Sequence[np.ndarray]) -> np.ndarray:
        stacked = np.stack([r.astype(np.float32) for r in rows])
        out = stacked.mean(axis=0)
        out[(stacked <= MASKED / 2).any(axis=0)] = MASKED
        return out.astype(np.float16)

    n = len(each[0].start)
    return TeacherTargets(
        start=[mean([t.start[i] for t in each]) for i in range(n)],
        end=[mean([t.end[i] for t in each]) for i in range(n)],
        answer=np.mean([t.answer for t in each], axis=0).astype(np.float32),
    )


def _read_all(model: torch.nn.Module, feats: LabelledFeatures, batch_size: int,
              progress_factory: Callable[..., Any] | None) -> TeacherTargets:
    n = len(feats)
    start: list[np.ndarray] = [np.zeros(0, np.float16)] * n
    end: list[np.ndarray] = [np.zeros(0, np.float16)] * n
    answer = np.zeros(n, np.float32)
    batches = length_grouped_batches([len(x) for x in feats.input_ids], batch_size, seed=0)
    bar = progress_factory(total=n, desc="teacher", unit="feature") if progress_factory else None
    model.eval()
    device = model_device(model)
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16_trains_on(device)):
        for idx in batches:
            ids, mask = pad_batch([feats.input_ids[i] for i in idx])
            types, _ = pad_batch([feats.token_type_ids[i] for i in idx])
            s, e, a = (t.float().cpu() for t in model(ids.to(device), mask.to(device), types.to(device)))
            for row, i in enumerate(idx):
                length = len(feats.input_ids[i])
                start[i] = s[row, :length].numpy().astype(np.float16)
                end[i] = e[row, :length].numpy().astype(np.float16)
                answer[i] = float(a[row])
            if bar is not None:
                bar.update(len(idx))
    if bar is not None:
        bar.close()
    return TeacherTargets(start, end, answer)


def _cache_key(weights: Sequence[Path], feats: LabelledFeatures) -> str:
    digest = hashlib.sha256()
    for path in weights:
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"#")
    for ids in feats.input_ids:
        digest.update(np.asarray(ids, dtype=np.int32).tobytes())
        digest.update(b"|")
    return digest.hexdigest()


def distillation_loss(
    start: torch.Tensor, end: torch.Tensor, answer: torch.Tensor,
    teacher: tuple[torch.Tensor, torch.Tensor, torch.Tensor], temperature: float,
) -> torch.Tensor:
    """T^2-scaled KL from the teacher's start and end distributions (over the positions the student
    can choose) plus BCE towards the teacher's answer probability."""
    t_start, t_end, t_answer = teacher

    def kl(student: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        target = target.masked_fill(student <= MASKED / 2, MASKED)
        return F.kl_div(F.log_softmax(student / temperature, dim=-1), F.log_softmax(target / temperature, dim=-1),
                        log_target=True, reduction="batchmean") * temperature ** 2

    span = (kl(start.float(), t_start) + kl(end.float(), t_end)) / 2
    return span + F.binary_cross_entropy_with_logits(answer.float(), torch.sigmoid(t_answer))
