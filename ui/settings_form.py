"""The Settings page's form: widget keys, the Apply callback, and the settings shown back as rows.

Apply runs as a callback (before the next run of the script), so the whole app, sidebar included,
already uses the new Settings on the run that follows the click.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from qa_app.config import Settings
from qa_app.errors import ConfigError
from ui import state

# setting name -> widget key on the Settings page (stable keys for browser tests)
FORM_KEYS = {
    "reader": "set_reader", "top_k": "set_top_k", "window_chunks": "set_window", "token_budget": "set_budget",
    "tuned": "set_tuned", "calibration": "set_calibration", "null_threshold": "set_threshold",
    "collection": "set_collection",
    "new_collection": "set_new_collection",
}


def overrides_from_form(values: dict[str, Any]) -> dict[str, Any]:
    """Flat keys for `Settings.replace` (the same names as the config file and `QA_*` variables)."""
    return {"reader": values["reader"], "top_k": int(values["top_k"]),
            "window_chunks": int(values["window_chunks"]), "token_budget": int(values["token_budget"]),
            "null_threshold": None if values["tuned"] else float(values["null_threshold"]),
            "calibration": values["calibration"],
            "collection": str(values.get("new_collection") or "").strip() or str(values["collection"]).strip()}


def apply_form() -> None:
    """Form submit callback: a new Settings from the widgets, or a message saying why not."""
    values = {name: st.session_state.get(key) for name, key in FORM_KEYS.items()}
    try:
        state.update_settings(overrides_from_form(values))
    except ConfigError as exc:
        state.leave_message("settings", f"Not applied: {exc}", "error")
    else:
        state.leave_message("settings", "Settings applied.", "success")


def reset_form() -> None:
    state.reset_settings(tuple(FORM_KEYS.values()))
    state.leave_message("settings", "Back to the starting settings.", "info")


def settings_rows(s: Settings) -> list[dict[str, Any]]:
    """What the page lets a user change, with the values in force (no secrets such as tokens)."""
    rows = [("reader", s.reader.reader), ("top_k", s.retrieval.top_k), ("window_chunks", s.retrieval.window_chunks),
            ("token_budget", s.retrieval.token_budget),
            ("null_threshold", f"the reader's own ({s.reader.calibration})" if s.reader.null_threshold is None
             else s.reader.null_threshold),
            ("calibration", s.reader.calibration),
            ("collection", s.store.collection), ("retriever", s.retrieval.retriever),
            ("data_dir", s.store.data_dir if not s.store.chroma_host else f"server {s.store.chroma_host}"),
            ("max_file_mb", s.store.max_file_mb)]
    return [{"setting": k, "value": str(v)} for k, v in rows]
