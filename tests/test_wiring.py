"""The composition root applies store settings when it opens the real (embedded Chroma) store."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_app.config import load_settings
from qa_app.errors import ConfigError
from qa_app.wiring import App


def test_the_store_searches_with_the_configured_ef_search(tmp_path: Path) -> None:
    app = App(load_settings(overrides={"data_dir": str(tmp_path / "data"), "ef_search": 250}, environ={}))
    assert app.store.ef_search == 250
    del app  # releases the data dir
    with pytest.raises(ConfigError, match="ef_search"):
        load_settings(environ={"QA_EF_SEARCH": "0"})
