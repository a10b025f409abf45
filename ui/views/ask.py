"""Ask: a chat over the indexed documents; each answer is cited, highlighted and explained."""

import streamlit as st

from qa_app.errors import QAError
from ui import components, state
from ui.main import page_path

st.title("Ask your documents")

try:
    docs = state.documents()
except QAError as exc:
    st.error(str(exc))
    st.stop()

left, right = st.columns([4, 1])
with left:
    if docs:
        st.caption(f"{len(docs)} document{'s' if len(docs) != 1 else ''} indexed. Follow-up questions use the "
                   "conversation: the query actually searched for is shown under the answer.")
    else:
        st.info("No documents are indexed yet: add some on the Documents page.")
        st.page_link(page_path("documents"), label="Go to Documents", icon=":material/upload_file:")
with right:
    st.button("New conversation", key="new_conversation", on_click=state.new_conversation,
              icon=":material/refresh:")
    alone = st.toggle("Ignore the conversation", key="ask_alone", disabled=not state.chat(),
                      help="Ask the next question on its own, as if it opened a new conversation; "
                           "the conversation is kept for the questions after it.")

for entry in state.chat():
    components.show_entry(entry)

question = st.chat_input("Ask a question about your documents", key="question")
if question:
    with st.spinner("Reading …"):
        entry = state.ask(question, use_conversation=not alone)
    components.show_entry(entry)
