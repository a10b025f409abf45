"""Streamlit pieces shared by pages: one chat entry, an answer, its "why" expander, not found.

Layout only. All document-derived text reaches Markdown through `ui.render` (escaped) or through
`st.dataframe` / `st.text`, which never interpret markup.
"""

from __future__ import annotations

import streamlit as st

from qa_app.types import Answer
from ui import render
from ui.state import ChatEntry

CLOSEST_PASSAGES = 3


def show_entry(entry: ChatEntry) -> None:
    with st.chat_message("user"):
        st.text(entry.question)
    with st.chat_message("assistant"):
        if entry.answer is None:
            st.error(entry.error)
        else:
            show_answer(entry.answer)


def show_answer(answer: Answer) -> None:
    if answer.query and answer.query != answer.question:
        st.caption(f"Searched for: {render.escape_label(answer.query)}")
    if answer.stayed_in:
        st.caption(f"Stayed in: {render.escape_label(answer.stayed_in)}")
    if not answer.found:
        show_not_found(answer)
        return
    st.markdown(render.answer_html(answer), unsafe_allow_html=True)
    st.caption(render.answer_caption(answer))
    st.markdown(render.highlighted_passage(answer.citations[0], answer.windows), unsafe_allow_html=True)
    show_why(answer)


def show_not_found(answer: Answer) -> None:
    st.markdown("**Not found in your documents.**")
    st.caption(f"The reader found no answer span (no-answer confidence {answer.score:.0%}).")
    if answer.windows:
        with st.expander("Closest passages", expanded=True):
            for w in answer.windows[:CLOSEST_PASSAGES]:
                st.caption(f"{render.escape_label(w.source)}, page {w.page} · retrieval score {w.score:.3f}")
                st.markdown(render.passage_html(w), unsafe_allow_html=True)
    else:
        st.caption("Nothing was retrieved: are documents indexed in this collection?")


def show_why(answer: Answer) -> None:
    with st.expander("Why this answer"):
        st.caption("Retrieval query")
        st.text(answer.query or answer.question)
        if answer.token_probs is not None and answer.token_probs.tokens:
            st.caption("Where the answer starts (green) and ends (blue): token probabilities in the winning window")
            st.markdown(render.token_heatmap_html(answer.token_probs, "start"), unsafe_allow_html=True)
            st.markdown(render.token_heatmap_html(answer.token_probs, "end"), unsafe_allow_html=True)
            st.dataframe(render.top_token_rows(answer.token_probs), hide_index=True)
        else:
            st.caption(f"The {answer.reader} reader reports no token probabilities.")
        st.caption("Windows read (retrieval rank and score, and how reader-driven growth extended them)")
        st.dataframe(render.window_rows(answer), hide_index=True)
        if answer.alternatives:
            st.caption("Other candidate answers")
            st.dataframe(render.alternative_rows(answer), hide_index=True)
        if answer.timings_ms:
            st.caption(f"Time: {render.timings_caption(answer)}")
