"""Every shipped transformer reader, exported by `qa-app export`, loads in plain transformers
(`AutoModelForQuestionAnswering`) and gives the start/end logits this project's reader gives."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from qa_app.cli import main
from qa_app.config import DEFAULT_MODELS_DIR
from qa_app.readers.registry import READERS
from qa_app.readers.span_model import load_checkpoint

pytestmark = pytest.mark.slow
TRANSFORMER_READERS = [spec.name for spec in READERS if spec.kind == "transformer"]


@pytest.mark.parametrize("name", TRANSFORMER_READERS)
def test_a_shipped_reader_exports_to_plain_transformers_with_the_same_logits(name: str, tmp_path: Path) -> None:
    from transformers import AutoModelForQuestionAnswering

    assert main(["export", name, "--out", str(tmp_path / name), "--precision", "float32"]) == 0
    ours, tokenizer, _ = load_checkpoint(DEFAULT_MODELS_DIR / name)
    plain = AutoModelForQuestionAnswering.from_pretrained(str(tmp_path / name)).eval()
    encoded = tokenizer("What does the function lm do?",
                        "In R the function lm fits linear models; glm fits generalised linear models.",
                        return_tensors="pt")
    types = encoded.get("token_type_ids", torch.zeros_like(encoded["input_ids"]))
    with torch.no_grad():
        start, end, _ = ours(encoded["input_ids"], encoded["attention_mask"], types)
        theirs = plain(**encoded)
    torch.testing.assert_close(theirs.start_logits, start, atol=1e-4, rtol=0)
    torch.testing.assert_close(theirs.end_logits, end, atol=1e-4, rtol=0)
