"""The web app's shell: page setup, session state, navigation between the four pages.

`main()` is what `streamlit run ui/app.py` runs on every rerun. `make_app` builds the App for a
Settings (the composition root `qa_app.wiring.App` by default) and `settings` are the session's
starting settings (loaded from config file and `QA_*` variables by default). Tests call `main`
with a factory that wires fakes; production code has no other path to its objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import streamlit as st

from qa_app.config import Settings, load_settings, offline_environment
from qa_app.errors import QAError
from qa_app.wiring import App
from ui import state
from ui.render import escape_label

PAGES_DIR = Path(__file__).resolve().parent / "views"  # not "pages": Streamlit would run those alone
# (file, title, icon, url path): url paths are stable names for links and browser tests
PAGES = (
    ("ask.py", "Ask", ":material/chat:", "ask"),
    ("documents.py", "Documents", ":material/description:", "documents"),
    ("evaluate.py", "Evaluate", ":material/monitoring:", "evaluate"),
    ("settings.py", "Settings", ":material/settings:", "settings"),
)
STYLE = """<style>
.qa-passage { line-height: 1.6; padding: 0.5rem 0.75rem; border-left: 3px solid #d0d7de; }
.qa-passage mark { background-color: #ffe58f; padding: 0 2px; }
.qa-answer { font-size: 1.25rem; }
.qa-heatmap { line-height: 1.9; font-size: 0.9rem; margin-bottom: 0.5rem; }
</style>"""


def page_path(url_path: str) -> str:
    """Absolute path of a page's script, for `st.page_link` / `st.switch_page`."""
    return next(str(PAGES_DIR / file) for file, _, _, url in PAGES if url == url_path)


def main(*, make_app: state.AppFactory = App, settings: Settings | Callable[[], Settings] = load_settings) -> None:
    st.set_page_config(page_title="Ask your documents", page_icon=":material/description:", layout="wide")
    offline_environment()
    try:
        state.install(make_app, settings)
    except QAError as exc:  # e.g. an invalid QA_* variable or config file
        st.error(f"The settings cannot be loaded: {exc}")
        st.stop()
    st.markdown(STYLE, unsafe_allow_html=True)
    pages = [st.Page(PAGES_DIR / file, title=title, icon=icon, url_path=url, default=(url == "ask"))
             for file, title, icon, url in PAGES]
    page = st.navigation(pages)
    with st.sidebar:
        s = state.current_settings()
        st.caption(f"Collection {escape_label(s.store.collection)} · reader {escape_label(s.reader.reader)} · "
                   f"top-k {s.retrieval.top_k}")
    page.run()
