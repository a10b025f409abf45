"""Fixtures of the page tests: a fresh Streamlit resource cache (`fresh_caches`, which a module asks
for with `pytestmark = pytest.mark.usefixtures("fresh_caches")`) and Settings in a tmp data dir."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
import streamlit as st

from qa_app.config import Settings


@pytest.fixture
def fresh_caches() -> Iterator[None]:
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings().replace(data_dir=str(tmp_path / "data"), max_file_mb=1.0)
