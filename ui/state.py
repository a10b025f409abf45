"""Per-session state of the web app and the cached objects it gets from the composition root.

The entry script calls `install(make_app, settings)` on every run; pages then call `get_app()`,
`get_pipeline()` and the small accessors below. `make_app` is the app factory (`qa_app.wiring.App`
in production; tests pass one that wires fakes, exactly as the CLI's handlers take `make_app`).
Apps and pipelines are cached with `st.cache_resource` keyed on the full Settings (its hash), so a
rerun never reloads a model; a Settings change is a new `Settings.replace(...)` and a new key.

This module decides nothing about answers or documents: it stores and hands out objects.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import streamlit as st

from qa_app.config import Settings
from qa_app.conversation import Turn
from qa_app.errors import QAError
from qa_app.types import Answer, DocumentInfo

AppFactory = Callable[[Settings], Any]  # Settings -> App (qa_app.wiring.App or a test's fake wiring)

_FACTORY = "qa_app_factory"
_SETTINGS = "qa_settings"
_INITIAL_SETTINGS = "qa_initial_settings"
_CHAT = "qa_chat"
_PROCESSED_UPLOADS = "qa_processed_uploads"
_UPLOAD_RESULTS = "qa_upload_results"
_EVAL_RUNS = "qa_eval_runs"
_MESSAGES = "qa_messages"
MAX_EVAL_RUNS = 10  # runs kept in a session (each holds its predictions)


def install(make_app: AppFactory, settings: Settings | Callable[[], Settings]) -> None:
    """Called by the entry script on every run: the factory, and the settings on a session's first run."""
    st.session_state[_FACTORY] = make_app
    if _SETTINGS not in st.session_state:
        initial = settings() if callable(settings) else settings
        st.session_state[_INITIAL_SETTINGS] = initial
        st.session_state[_SETTINGS] = initial


def app_factory() -> AppFactory:
    """The factory the entry script installed (for code that builds Apps on derived Settings)."""
    return st.session_state[_FACTORY]


def current_settings() -> Settings:
    return st.session_state[_SETTINGS]


def update_settings(overrides: Mapping[str, Any]) -> Settings:
    """Apply flat overrides (ConfigError when invalid); the next `get_app()` uses the new Settings."""
    new = current_settings().replace(**overrides)
    st.session_state[_SETTINGS] = new
    return new


def reset_settings(widget_keys: tuple[str, ...] = ()) -> Settings:
    """Back to the session's starting settings; `widget_keys` (a form's widgets) forget their values."""
    st.session_state[_SETTINGS] = st.session_state[_INITIAL_SETTINGS]
    for key in widget_keys:
        st.session_state.pop(key, None)
    return current_settings()


def _factory_key(make_app: AppFactory) -> str:
    name = f"{getattr(make_app, '__module__', '')}.{getattr(make_app, '__qualname__', type(make_app).__qualname__)}"
    return f"{name}#{id(make_app)}"


@st.cache_resource(show_spinner=False, max_entries=8)
def _cached_app(key: str, _settings: Settings, _make_app: AppFactory) -> Any:
    return _make_app(_settings)


@st.cache_resource(show_spinner="Loading the reader …", max_entries=8)
def _cached_pipeline(key: str, _app: Any) -> Any:
    return _app.pipeline()


def _app_key(settings: Settings) -> str:
    return f"{settings.hash()}|{_factory_key(st.session_state[_FACTORY])}"


def get_app(settings: Settings | None = None) -> Any:
    """The App for the current Settings, or for `settings` derived from them (built once per Settings,
    shared by every session)."""
    settings = settings or current_settings()
    return _cached_app(_app_key(settings), settings, st.session_state[_FACTORY])


def collections() -> list[str]:
    """The collections of the current data directory (or server), the current one included."""
    try:
        return list(get_app().collections())
    except QAError:
        return [current_settings().store.collection]


def tuned_threshold() -> float | None:
    """The current reader's own no-answer threshold (None: it has no checkpoint)."""
    from qa_app.wiring import tuned_threshold as checkpoint_threshold

    settings = current_settings()
    return checkpoint_threshold(settings, settings.reader.reader)


_STORE_CHECK = "store_check"


def run_store_check(repair: bool = False) -> None:
    """Check (or repair) the current collection; the result is kept for the page (`store_check`)."""
    st.session_state[_STORE_CHECK] = get_app().check_store(repair=repair)


def store_check() -> Any:
    return st.session_state.get(_STORE_CHECK)


def documents() -> list[DocumentInfo]:
    """The indexed documents (QAError when the store cannot be opened)."""
    return list(get_app().store.documents())


def get_pipeline() -> Any:
    """The pipeline for the current Settings and the documents indexed now.

    Keyed also on the indexed document ids, so a pipeline that snapshots the index (e.g. a BM25
    retriever) is rebuilt after an upload or a delete; the reader itself stays cached in the App.
    """
    ids = ",".join(sorted(d.id for d in documents()))
    fingerprint = hashlib.sha256(ids.encode()).hexdigest()[:12]
    return _cached_pipeline(f"{_app_key(current_settings())}|{fingerprint}", get_app())


# --- conversation -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ChatEntry:
    """One question of the conversation and what came back (an answer or a user-facing error)."""

    question: str
    answer: Answer | None = None
    error: str = ""


def chat() -> list[ChatEntry]:
    return st.session_state.setdefault(_CHAT, [])


def history() -> list[Turn]:
    """The turns the pipeline uses to form follow-up retrieval queries."""
    return [Turn.from_answer(e.answer) for e in chat() if e.answer is not None]


def new_conversation() -> None:
    st.session_state[_CHAT] = []


def ask(question: str, use_conversation: bool = True) -> ChatEntry:
    """Ask the cached pipeline in the context of the conversation (or without it, for this one
    question); record the entry."""
    try:
        answer = get_pipeline().ask(question, history() if use_conversation else [])
        entry = ChatEntry(question=answer.question, answer=answer)
    except QAError as exc:
        entry = ChatEntry(question=question, error=str(exc))
    chat().append(entry)
    return entry


# --- uploads and evaluation runs ----------------------------------------------------------------

def processed_uploads() -> set[str]:
    """Upload ids (`UploadedFile.file_id`) already indexed in this session: reruns skip them."""
    return st.session_state.setdefault(_PROCESSED_UPLOADS, set())


def upload_results() -> list[Any]:
    """Outcomes of this session's uploads, newest last (`ui.uploads.UploadResult`)."""
    return st.session_state.setdefault(_UPLOAD_RESULTS, [])


def eval_runs() -> list[Any]:
    """Evaluation runs of this session, oldest first (`ui.evaluation.EvalRun`)."""
    return st.session_state.setdefault(_EVAL_RUNS, [])


def add_eval_run(run: Any) -> None:
    runs = eval_runs()
    runs.append(run)
    del runs[:-MAX_EVAL_RUNS]


def select_new_run(label: str, *, shown_key: str, compare_keys: tuple[str, str]) -> None:
    """Point the run pickers (created later in the same run) at the newest run, and compare it with
    the one before it. Setting a widget's state before the widget exists is allowed."""
    runs = eval_runs()
    st.session_state[shown_key] = label
    if len(runs) >= 2:
        st.session_state[compare_keys[0]] = runs[-2].label
        st.session_state[compare_keys[1]] = label



def take_messages(page: str) -> list[tuple[str, str]]:
    """(level, text) messages left for a page by a callback (callbacks run before the page); read once.
    The level names the Streamlit call that shows it: "success", "info", "warning" or "error"."""
    return st.session_state.setdefault(_MESSAGES, {}).pop(page, [])


def leave_message(page: str, text: str, level: str = "info") -> None:
    st.session_state.setdefault(_MESSAGES, {}).setdefault(page, []).append((level, text))


def delete_chosen(indexer: Any, widget_key: str) -> None:
    """Button callback: delete the documents chosen in a multiselect, then clear the choice."""
    errors = []
    for doc_id in st.session_state.get(widget_key, []):
        try:
            indexer.delete(doc_id)
        except QAError as exc:
            errors.append(str(exc))
    st.session_state[widget_key] = []
    for error in errors:
        leave_message("documents", error, "error")
