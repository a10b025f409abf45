"""The web app: ask questions about the indexed documents and see cited, highlighted answers.

Rendering only: every decision is made by the pipeline (`qa_app.wiring`). Models and the
pipeline are cached per settings with st.cache_resource; a rerun never reloads or re-indexes.
"""

from __future__ import annotations

import streamlit as st

from qa_app.config import Settings, load_settings
from qa_app.conversation import Turn
from qa_app.errors import QAError
from qa_app.wiring import App
from ui.render import answer_caption, highlighted_passage, passage_html


@st.cache_resource(show_spinner="Loading models ...")
def get_app(settings: Settings) -> App:
    return App(settings)


@st.cache_resource(show_spinner="Loading the reader ...")
def get_pipeline(settings: Settings, reader: str) -> object:
    return get_app(settings).pipeline(reader)


def show_answer(answer: object) -> None:
    if not answer.found:  # type: ignore[attr-defined]
        st.markdown("**Not found in your documents.**")
        if answer.windows:  # type: ignore[attr-defined]
            with st.expander("Closest passages"):
                for w in answer.windows[:3]:  # type: ignore[attr-defined]
                    st.caption(f"{w.source}, page {w.page}")
                    st.markdown(passage_html(w), unsafe_allow_html=True)
        return
    st.markdown(f"**{answer.text}**")  # type: ignore[attr-defined]
    st.caption(answer_caption(answer))  # type: ignore[arg-type]
    st.markdown(highlighted_passage(answer.citations[0], answer.windows), unsafe_allow_html=True)  # type: ignore[attr-defined]
    if answer.query != answer.question:  # type: ignore[attr-defined]
        st.caption(f"Searched for: {answer.query}")  # type: ignore[attr-defined]


def main() -> None:
    st.set_page_config(page_title="Ask your documents", page_icon="📄", layout="wide")
    settings = load_settings()
    app = get_app(settings)
    with st.sidebar:
        st.header("Documents")
        try:
            docs = app.store.documents()
        except QAError as exc:
            st.error(str(exc))
            docs = []
        for d in docs:
            st.caption(f"{d.source} · {d.pages} pages · {d.chunks} chunks")
        if not docs:
            st.info("No documents yet: run `qa-app index PATH`.")
        reader = st.selectbox("Reader", ["transformer", "baseline"], index=0)
        if st.button("New conversation"):
            st.session_state["turns"] = []
    st.title("Ask your documents")
    turns: list[tuple[Turn, object]] = st.session_state.setdefault("turns", [])
    for turn, answer in turns:
        with st.chat_message("user"):
            st.markdown(turn.question)
        with st.chat_message("assistant"):
            show_answer(answer)
    question = st.chat_input("Ask a question about your documents")
    if question:
        with st.chat_message("user"):
            st.markdown(question)
        with st.chat_message("assistant"):
            try:
                pipeline = get_pipeline(settings, reader)
                with st.spinner("Reading ..."):
                    answer = pipeline.ask(question, [t for t, _ in turns])  # type: ignore[attr-defined]
            except QAError as exc:
                st.error(str(exc))
                return
            show_answer(answer)
        turns.append((Turn(question=answer.question, answer=answer.text), answer))


main()
