"""Evaluate: score a reader on SQuAD-format questions or on a question file over your own documents,
inspect every question, compare runs."""

import streamlit as st

from qa_app.data.squad import SPLITS
from qa_app.errors import QAError
from qa_app.evaluation.run import squad_settings
from qa_app.readers.registry import reader_names
from ui import evaluation, state

st.title("Evaluate")
settings = state.current_settings()

st.subheader("Run")
source = st.radio("Questions", ["Built-in SQuAD v2.0 dev", "Upload a SQuAD-format JSON", evaluation.MY_DOCUMENTS],
                  key="eval_source", horizontal=True)
builtin = source.startswith("Built-in")
mine = source == evaluation.MY_DOCUMENTS
if builtin:
    split = st.selectbox("Split", SPLITS, index=SPLITS.index("test"), key="eval_split",
                         help="By article of the official dev file: test = articles 28-34 (never used for tuning).")
    upload = None
elif mine:
    split = "all"
    upload = st.file_uploader("Question file: CSV, JSONL or SQuAD JSON", type=evaluation.QUESTION_FILE_TYPES,
                              key="eval_questions")
else:
    split = "all"
    upload = st.file_uploader("SQuAD v1.1 or v2.0 JSON", type=["json"], key="eval_file")
cols = st.columns(3)
readers = reader_names()
reader_default = readers.index(settings.reader.reader) if settings.reader.reader in readers else 0
reader = cols[0].selectbox("Reader", readers, index=reader_default, key="eval_reader")
limit = cols[1].number_input("Questions (seeded sample)", min_value=1, max_value=20000, value=50, step=10,
                             key="eval_limit")
seed = cols[2].number_input("Seed", min_value=0, value=0, step=1, key="eval_seed")
indexed = 0
if mine:
    mode = "collection"
    try:
        indexed = len(state.documents())
    except QAError as exc:
        st.error(str(exc))
    st.caption(f"{evaluation.COLLECTION_NOTE} Collection **{settings.store.collection}**: {indexed} documents.")
    if not indexed:
        st.info("No documents are indexed in this collection: add some on the Documents page first.")
else:
    mode = st.radio("Mode", ["gold", "open"], key="eval_mode", horizontal=True,
                    format_func=lambda m: {"gold": "Gold paragraph", "open": "Open book (retrieve, then read)"}[m])
    st.caption(evaluation.MODE_NOTE)
corpus = "test"
if mode == "open":
    corpus = st.selectbox("Articles indexed", evaluation.OPEN_CORPORA, key="eval_corpus",
                          format_func=lambda c: evaluation.OPEN_CORPORA[c])



def show(done: int, total: int) -> None:
    bar.progress(done / max(total, 1), text=f"{done} of {total} questions")


if st.button("Run evaluation", key="eval_run", type="primary",
             disabled=(not builtin and upload is None) or (mine and not indexed)):
    bar = st.progress(0.0, text="Loading questions …")
    try:
        number = len(state.eval_runs()) + 1
        if mine:
            if upload is None:  # the button is disabled without a file
                st.stop()
            run = evaluation.run_collection(state.get_app(), reader, upload.getvalue(), upload.name, limit=int(limit),
                                            seed=int(seed), number=number, on_progress=show)
        else:
            if upload is not None:
                dataset, examples = evaluation.load_uploaded(upload.getvalue(), upload.name, int(limit), int(seed))
                name = upload.name
            else:
                dataset, examples = evaluation.load_builtin(split, int(limit), int(seed))
                name = "squad-v2-dev"
            squad_app = state.get_app(squad_settings(state.current_settings()))  # SQuAD's own no-answer threshold
            if mode == "open":
                bar.progress(0.0, text="Indexing the articles (once per corpus and settings) …")
                run = evaluation.run_open(squad_app, state.app_factory(), reader, dataset, examples, split=split,
                                          corpus=corpus, seed=int(seed), dataset_name=name, number=number,
                                          on_progress=show)
            else:
                run = evaluation.run_gold(squad_app, reader, dataset, examples, split=split, seed=int(seed),
                                          dataset_name=name, number=number, on_progress=show)
    except QAError as exc:
        bar.empty()
        st.error(str(exc))
    else:
        bar.progress(1.0, text=f"Done: {len(run.rows)} questions")
        state.add_eval_run(run)
        state.select_new_run(run.label, shown_key="eval_shown", compare_keys=("eval_a", "eval_b"))

runs = state.eval_runs()
if not runs:
    st.info("No runs yet in this session.")
    st.stop()

st.subheader("Results")
labels = [r.label for r in runs]
shown = runs[labels.index(st.selectbox("Run", labels, key="eval_shown"))]
report = shown.report
metrics = evaluation.metric_rows(report)
for col, row in zip(st.columns(max(len(metrics), 1)), metrics):
    col.metric(f"{row['questions']} EM / F1", f"{row['EM']:.1f} / {row['F1']:.1f}", help=f"{row['count']} questions")
citations = evaluation.collection_rows(report)  # page@1, source@1, abstention, follow-ups (my documents only)
if citations:
    for col, row in zip(st.columns(len(citations)), citations):
        col.metric(row["metric"], row["value"], help=f"over {row['questions']} questions")
chart_cols = st.columns(2)
with chart_cols[0]:
    st.caption("EM and F1 (%)")
    scores = evaluation.frame(metrics, "questions", ["EM", "F1"])
    if scores is not None:
        st.bar_chart(scores, stack=False)
with chart_cols[1]:
    st.caption(f"Latency (ms) · {report.get('questions_per_s', '?')} questions/s")
    latency = evaluation.frame(evaluation.latency_rows(report), "stage")
    if latency is not None:
        st.bar_chart(latency, stack=False)
retrieval = evaluation.frame(evaluation.retrieval_rows(report), "metric")
if retrieval is not None:
    st.caption("Retrieval")
    st.bar_chart(retrieval)
st.caption(f"Best-threshold F1 {report.get('best_f1', float('nan')):.1f} at {report.get('best_f1_thresh', '?')} · "
           f"config {report['config_hash']} · seed {report['seed']} · dataset sha256 {report['dataset_sha256'][:12]}")

st.subheader("Questions")
counts = evaluation.category_counts(shown)
chosen = st.multiselect("Outcome", list(counts), default=list(counts), key="eval_categories",
                        format_func=lambda c: f"{c} ({counts[c]})")
needle = st.text_input("Search questions, answers, ids", key="eval_search")
rows = evaluation.filter_rows(evaluation.question_rows(shown), chosen, needle)
st.dataframe(rows, hide_index=True)
if rows and shown.examples:
    qid = st.selectbox("Passage of question", [r["id"] for r in rows], key="eval_passage",
                       format_func=lambda i: f"{i} · {shown.examples[i].question[:80]}" if i in shown.examples else i)
    if qid in shown.examples:
        st.markdown(evaluation.paragraph_html(shown.examples[qid]), unsafe_allow_html=True)
st.download_button("Download results (JSON)", evaluation.results_json(shown), key="eval_download",
                   file_name=evaluation.download_name(report), mime="application/json")

if len(runs) >= 2:
    st.subheader("Compare two runs")
    c1, c2 = st.columns(2)
    a = runs[labels.index(c1.selectbox("Run A", labels, key="eval_a"))]
    b = runs[labels.index(c2.selectbox("Run B", labels, key="eval_b"))]
    side = evaluation.compare_metric_rows(a, b)
    st.dataframe(side, hide_index=True)
    chart = evaluation.frame([r for r in side if r["metric"] in evaluation.METRIC_KEYS], "metric", ["A", "B"])
    if chart is not None:
        st.bar_chart(chart, stack=False)
    diff = evaluation.compare_question_rows(a, b)
    st.caption(f"{len(diff)} questions with a different outcome")
    if diff:
        st.dataframe(diff, hide_index=True)
