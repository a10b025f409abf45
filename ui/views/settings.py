"""Settings: reader, retrieval depth, window width and budget, no-answer threshold, collection.

Applying makes a new Settings (`Settings.replace`); the App and pipeline caches are keyed on it.
"""

import streamlit as st

from qa_app.readers.registry import reader_names, readers_help
from ui import state
from ui.settings_form import FORM_KEYS, apply_form, reset_form, settings_rows

st.title("Settings")
s = state.current_settings()
for level, message in state.take_messages("settings"):
    getattr(st, level)(message)

with st.form("settings_form"):
    readers = reader_names()
    st.selectbox("Reader", readers, index=readers.index(s.reader.reader) if s.reader.reader in readers else 0,
                 key=FORM_KEYS["reader"], help=readers_help())
    st.number_input("Passages retrieved (top-k)", min_value=1, max_value=50, value=s.retrieval.top_k,
                    key=FORM_KEYS["top_k"])
    st.number_input("Window width: neighbouring chunks added on each side of a hit", min_value=0, max_value=10,
                    value=s.retrieval.window_chunks, key=FORM_KEYS["window_chunks"])
    st.number_input("Token budget: word pieces the reader sees per question", min_value=64, max_value=32768,
                    value=s.retrieval.token_budget, step=256, key=FORM_KEYS["token_budget"])
    st.checkbox("Use the no-answer threshold tuned at training time", value=s.reader.null_threshold is None,
                key=FORM_KEYS["tuned"])
    st.number_input("No-answer threshold (answer when the best span's score minus the no-answer score exceeds it)",
                    value=float(s.reader.null_threshold or 0.0), step=0.5, key=FORM_KEYS["null_threshold"])
    st.text_input("Collection", value=s.store.collection, key=FORM_KEYS["collection"],
                  help="Documents live in a named collection; a new name starts an empty one.")
    st.form_submit_button("Apply", type="primary", key="set_apply", on_click=apply_form)

st.button("Reset to the starting settings", key="set_reset", on_click=reset_form)
st.caption(f"Active settings (hash {s.hash()}); the starting values come from the config file and `QA_*` variables.")
st.dataframe(settings_rows(s), hide_index=True)
