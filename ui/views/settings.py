"""Settings: reader, retrieval depth, window width and budget, no-answer threshold and its calibration, collection.

Applying makes a new Settings (`Settings.replace`); the App and pipeline caches are keyed on it.
"""

import streamlit as st

from qa_app.config import CALIBRATIONS
from qa_app.readers.registry import reader_names, readers_help
from ui import state
from ui.settings_form import FORM_KEYS, apply_form, reset_form, settings_rows

st.title("Settings")
s = state.current_settings()
for level, message in state.take_messages("settings"):
    getattr(st, level)(message)

tuned_value = state.tuned_threshold()
tuned = st.checkbox(f"Use the reader's own no-answer threshold (calibration: {s.reader.calibration})",
                    value=s.reader.null_threshold is None, key=FORM_KEYS["tuned"])
if tuned or FORM_KEYS["null_threshold"] not in st.session_state:  # show the value in force
    in_force = s.reader.null_threshold if s.reader.null_threshold is not None else tuned_value
    st.session_state[FORM_KEYS["null_threshold"]] = float(in_force or 0.0)

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
    st.selectbox("Calibration of the reader's own threshold", CALIBRATIONS,
                 index=CALIBRATIONS.index(s.reader.calibration), key=FORM_KEYS["calibration"],
                 help="documents: chosen on real manuals whose questions are mostly answerable (answers more often); "
                      "squad: chosen on SQuAD v2, where half the questions have no answer (says 'not found' more often)")
    st.number_input("No-answer threshold (answer when the best span's score minus the no-answer score exceeds it; "
                    "higher = more 'not found')", step=0.5, key=FORM_KEYS["null_threshold"], disabled=tuned,
                    help="Untick the box above to set your own." if tuned else None)
    names = state.collections()
    st.selectbox("Collection", names, index=names.index(s.store.collection), key=FORM_KEYS["collection"],
                 help="Documents live in a named collection; each has its own documents.")
    st.text_input("Or start a new collection", key=FORM_KEYS["new_collection"], placeholder="new collection name",
                  help="Leave empty to use the collection chosen above.")
    st.form_submit_button("Apply", type="primary", key="set_apply", on_click=apply_form)

st.button("Reset to the starting settings", key="set_reset", on_click=reset_form)
st.caption(f"Active settings (hash {s.hash()}); the starting values come from the config file and `QA_*` variables.")
st.dataframe(settings_rows(s), hide_index=True)
