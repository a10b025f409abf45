"""Documents: upload files (progress per file and stage), see what is indexed, delete documents."""

import logging
from typing import Any, Callable

import streamlit as st

from indexing.build import IndexEvent
from qa_app.errors import QAError
from ui import state, uploads
from ui.render import escape_label

st.title("Documents")
settings = state.current_settings()
limit = uploads.UploadLimit(app_mb=settings.store.max_file_mb,
                            server_mb=float(st.get_option("server.maxUploadSize")))

try:
    app = state.get_app()
    docs = state.documents()
except QAError as exc:
    st.error(str(exc))
    st.stop()

st.subheader("Add documents")
files = st.file_uploader("PDF, Word (DOCX), HTML, text or Markdown files", type=uploads.UPLOAD_TYPES, accept_multiple_files=True,
                         key="uploads", help="Several files at once; each is parsed, chunked, embedded and stored.")
st.caption(limit.explanation())
if (warning := limit.admin_warning()) is not None:
    logging.getLogger("qa_app.ui").warning(warning)


def start(upload: uploads.Upload) -> Callable[[IndexEvent], None]:
    box = st.status(f"Indexing {escape_label(upload.name)}", expanded=True)
    bar = box.progress(0.0, text="parse")
    boxes[upload.file_id] = box

    def show(event: IndexEvent) -> None:
        bar.progress(uploads.stage_fraction(event), text=uploads.stage_text(event))

    return show


def done(result: uploads.UploadResult) -> None:
    boxes[result.file_id].update(label=escape_label(uploads.outcome_text(result.outcome)),
                                 state="complete" if result.ok else "error", expanded=not result.ok)
    state.upload_results().append(result)


boxes: dict[str, Any] = {}  # upload id -> its status box
try:
    if uploads.pending(files, state.processed_uploads()):
        uploads.index_uploads(app.indexer, files or [], state.processed_uploads(), on_start=start, on_done=done)
        docs = state.documents()
except QAError as exc:  # the store itself failed (locked, unreachable): nothing more can be indexed now
    st.error(str(exc))

results = state.upload_results()
if results:
    st.caption("Uploads of this session")
    st.dataframe(uploads.result_rows(results), hide_index=True, key="upload_results")

for level, message in state.take_messages("documents"):
    getattr(st, level)(message)
st.subheader(f"Indexed documents ({len(docs)})")
if not docs:
    st.info("Nothing is indexed in this collection yet.")
else:
    st.dataframe(uploads.document_rows(docs), hide_index=True, key="documents_table")
    by_id = {d.id: d for d in docs}
    chosen = st.multiselect("Documents to delete", list(by_id), format_func=lambda i: uploads.document_label(by_id[i]),
                            key="delete_choice")
    st.button("Delete selected", key="delete", disabled=not chosen, on_click=state.delete_chosen,
              args=(app.indexer, "delete_choice"))

    with st.expander("Check the index"):
        st.caption("Finds stored passages that search cannot reach, or whose stored vector no longer matches "
                   "their text, and can write them again. Reads every passage once.")
        if st.button("Check", key="check_index"):
            state.run_store_check(repair=False)
        report = state.store_check()
        if report is not None:
            if report.ok and not report.repaired:
                st.success(f"No problems: {report.rows} passages of {report.documents} documents checked.")
            elif report.repaired:
                st.success(f"Repaired {len(report.repaired)} passages.")
            else:
                st.warning(f"{len(report.unreachable)} passages unreachable by search, {len(report.mismatched)} with a "
                           f"wrong vector, {len(report.missing)} missing (of {report.rows}).")
                st.button("Repair", key="repair_index", on_click=state.run_store_check, kwargs={"repair": True})
