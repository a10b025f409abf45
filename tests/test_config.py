"""Settings: defaults, precedence (overrides > QA_* > TOML file > defaults), errors, stable hash."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from qa_app.config import (
    ChunkingConfig,
    ReaderConfig,
    RetrievalConfig,
    Settings,
    StoreConfig,
    load_settings,
)
from qa_app.errors import ConfigError


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder so that no ./qa-app.toml of the developer is read."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults() -> None:
    s = load_settings(environ={})
    assert s == Settings()
    assert s.retrieval.top_k == 5 and s.retrieval.retriever == "hybrid"
    assert s.chunking == ChunkingConfig(chunk_tokens=200, overlap_tokens=40, contextual="header")
    assert s.store.data_dir == ".qa-data" and s.store.collection == "documents"
    assert s.reader.reader == "cascade" and s.reader.null_threshold is None


def test_precedence_overrides_env_file_defaults(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", "top_k = 6\ncandidates = 40\nrrf_k = 10\n")
    env = {"QA_TOP_K": "7", "QA_CANDIDATES": "50"}
    s = load_settings(config, overrides={"top_k": 9}, environ=env)
    assert s.retrieval.top_k == 9  # override beats env and file
    assert s.retrieval.candidates == 50  # env beats file
    assert s.retrieval.rrf_k == 10  # file beats default
    assert s.retrieval.window_chunks == RetrievalConfig().window_chunks  # default
    assert load_settings(config, environ=env).retrieval.top_k == 7
    assert load_settings(config, environ={}).retrieval.top_k == 6


def test_none_overrides_are_ignored(tmp_path: Path) -> None:
    s = load_settings(environ={"QA_TOP_K": "7"}, overrides={"top_k": None, "collection": None})
    assert s.retrieval.top_k == 7 and s.store.collection == "documents"


def test_file_sections_are_optional(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", "[retrieval]\ntop_k = 8\n\n[store]\ncollection = \"books\"\nmax_file_mb = 5\n")
    s = load_settings(config, environ={})
    assert s.retrieval.top_k == 8 and s.store.collection == "books"
    assert s.store.max_file_mb == 5.0 and isinstance(s.store.max_file_mb, float)


def test_qa_app_toml_in_the_working_folder_is_read(in_tmp: Path) -> None:
    write(in_tmp / "qa-app.toml", "top_k = 3\n")
    assert load_settings(environ={}).retrieval.top_k == 3


def test_qa_config_names_the_file(tmp_path: Path) -> None:
    config = write(tmp_path / "elsewhere.toml", "top_k = 4\n")
    assert load_settings(environ={"QA_CONFIG": str(config)}).retrieval.top_k == 4


def test_env_values_are_coerced_to_the_field_type() -> None:
    env = {"QA_DYNAMIC": "false", "QA_CHROMA_SSL": "yes", "QA_DENSE_WEIGHT": "0.5", "QA_CHUNK_TOKENS": " 120 ",
           "QA_NULL_THRESHOLD": "-1.5", "QA_DATA_DIR": "/tmp/x"}
    s = load_settings(environ=env)
    assert s.retrieval.dynamic is False and s.store.chroma_ssl is True
    assert s.retrieval.dense_weight == 0.5 and s.chunking.chunk_tokens == 120
    assert s.reader.null_threshold == -1.5 and s.store.data_dir == "/tmp/x"
    assert load_settings(environ={"QA_NULL_THRESHOLD": "auto"}).reader.null_threshold is None


def test_override_keys_may_use_dashes() -> None:
    assert load_settings(environ={}, overrides={"top-k": 2}).retrieval.top_k == 2


@pytest.mark.parametrize(
    "env, key",
    [
        ({"QA_TOP_K": "many"}, "top_k"),
        ({"QA_DYNAMIC": "maybe"}, "dynamic"),
        ({"QA_DENSE_WEIGHT": "heavy"}, "dense_weight"),
        ({"QA_CHUNK_TOKENS": "8"}, "chunk_tokens"),
        ({"QA_CONTEXTUAL": "sideways"}, "contextual"),
        ({"QA_RETRIEVER": "psychic"}, "retriever"),
        ({"QA_TOP_K": "0"}, "top_k"),
        ({"QA_OVERLAP_TOKENS": "500"}, "overlap_tokens"),
        ({"QA_TOKEN_BUDGET": "10"}, "token_budget"),
    ],
)
def test_bad_env_values_name_the_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load_settings(environ=env)


@pytest.mark.parametrize(
    "toml, key",
    [
        ("top_k = 1.5\n", "top_k"),
        ("top_k = true\n", "top_k"),
        ("dynamic = 3\n", "dynamic"),
        ("collection = 5\n", "collection"),
        ("max_file_mb = \"big\"\n", "max_file_mb"),
    ],
)
def test_bad_file_values_name_the_key(tmp_path: Path, toml: str, key: str) -> None:
    config = write(tmp_path / "c.toml", toml)
    with pytest.raises(ConfigError, match=key):
        load_settings(config, environ={})


def test_bad_override_value_names_the_key() -> None:
    with pytest.raises(ConfigError, match="top_k"):
        load_settings(environ={}, overrides={"top_k": "lots"})


def test_unknown_key_in_the_file_is_an_error(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", "[retrieval]\ntop_kk = 3\n")
    with pytest.raises(ConfigError, match="top_kk"):
        load_settings(config, environ={})


def test_unknown_override_is_an_error() -> None:
    with pytest.raises(ConfigError, match="colour"):
        load_settings(environ={}, overrides={"colour": "blue"})


def test_a_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="environment variable QA_TOP_K: top_k must be a int, got 'abc'"):
        load_settings(environ={"QA_TOP_K": "abc"})


def test_misspelled_settings_get_a_did_you_mean(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="QA_TOPK is not a setting; did you mean 'QA_TOP_K'"):
        load_settings(environ={"QA_TOPK": "3"})
    with pytest.raises(ConfigError, match="did you mean 'top_k'"):
        load_settings(write(tmp_path / "c.toml", "topk = 3\n"), environ={})
    with pytest.raises(ConfigError, match="did you mean 'collection'"):
        load_settings(environ={}, overrides={"colection": "x"})
    # other tools' QA_ variables, and the test suite's own, are left alone
    assert load_settings(environ={"QA_SOMETHING_ELSE": "1", "QA_TEST_CHROMA_HOST": "h", "QA_REQUIRE_BROWSER": "1",
                                  "QA_CACHE_DIR": "/c", "QA_CHROMIUM": "/usr/bin/chromium"}) == Settings()


def test_qa_config_itself_is_not_an_unknown_setting(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", "")
    assert load_settings(environ={"QA_CONFIG": str(config)}) == Settings()


def test_unreadable_or_invalid_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.toml", environ={})
    bad = write(tmp_path / "bad.toml", "top_k = = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad, environ={})


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.retrieval.top_k = 3  # type: ignore[misc]


def test_replace_applies_flat_overrides() -> None:
    s = Settings().replace(top_k=3, reader="baseline", chunk_tokens=100)
    assert (s.retrieval.top_k, s.reader.reader, s.chunking.chunk_tokens) == (3, "baseline", 100)
    assert Settings().retrieval.top_k == 5
    with pytest.raises(ConfigError):
        Settings().replace(nonsense=1)


def test_hash_is_stable_and_changes_with_any_setting() -> None:
    a, b = Settings(), load_settings(environ={})
    assert a.hash() == b.hash() == Settings().hash()
    assert len(a.hash()) == 12 and int(a.hash(), 16) >= 0
    changed = {
        Settings().replace(top_k=6).hash(),
        Settings(store=StoreConfig(collection="other")).hash(),
        Settings(reader=ReaderConfig(null_threshold=0.5)).hash(),
        Settings(chunking=ChunkingConfig(contextual="plain")).hash(),
    }
    assert a.hash() not in changed and len(changed) == 4
