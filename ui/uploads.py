"""Uploads on the Documents page: which files are new, progress text, outcome wording, limits.

Indexing itself is `Indexer.index_bytes` (parse, chunk, embed, store; duplicates come back as
"unchanged"). This module only feeds it each new upload once and shapes what it reports for
display. No Streamlit import: the page passes a progress callback that draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Protocol, Sequence

from indexing.build import STAGES, IndexEvent, IndexOutcome
from indexing.loaders import SUPPORTED_SUFFIXES
from qa_app.types import DocumentInfo

UPLOAD_TYPES = [s.lstrip(".") for s in SUPPORTED_SUFFIXES]
_UNITS = {"parse": "pages", "chunk": "chunks", "embed": "chunks", "store": "chunks"}
STATUS_WORDS = {
    "added": "added",
    "replaced": "added (replaced its older version)",
    "unchanged": "already indexed",
    "skipped": "skipped",
}


class Upload(Protocol):
    """What the page gets from `st.file_uploader` (`UploadedFile`)."""

    name: str
    file_id: str

    def getvalue(self) -> bytes: ...


@dataclass(frozen=True)
class UploadResult:
    """One upload and what indexing made of it."""

    file_id: str
    outcome: IndexOutcome

    @property
    def ok(self) -> bool:
        return self.outcome.status != "skipped"


def pending(files: Iterable[Upload] | None, processed: set[str]) -> list[Upload]:
    """Uploads not indexed yet in this session (a rerun shows the same files again)."""
    return [f for f in files or () if f.file_id not in processed]


def index_uploads(
    indexer: Any, files: Sequence[Upload], processed: set[str],
    on_start: Callable[[Upload], Callable[[IndexEvent], None]],
    on_done: Callable[[UploadResult], None] = lambda result: None,
) -> list[UploadResult]:
    """Index each new upload once; `on_start(file)` returns the progress callback for that file."""
    results = []
    for upload in pending(files, processed):
        outcome = indexer.index_bytes(upload.getvalue(), upload.name, progress=on_start(upload))
        processed.add(upload.file_id)
        result = UploadResult(file_id=upload.file_id, outcome=outcome)
        on_done(result)
        results.append(result)
    return results


def stage_fraction(event: IndexEvent) -> float:
    """Progress of one file over all stages, 0..1 (each stage is an equal share)."""
    index = STAGES.index(event.stage) if event.stage in STAGES else 0
    within = event.done / event.total if event.total > 0 else 1.0
    return min(1.0, max(0.0, (index + within) / len(STAGES)))


def stage_text(event: IndexEvent) -> str:
    return f"{event.stage}: {event.done} of {event.total} {_UNITS.get(event.stage, '')}".strip()


def outcome_text(outcome: IndexOutcome) -> str:
    """One line for a finished file (no Markdown: callers escape it for labels)."""
    words = STATUS_WORDS.get(outcome.status, outcome.status)
    if outcome.status == "skipped":
        return f"{outcome.name}: skipped: {outcome.reason}"
    return f"{outcome.name}: {words} ({outcome.pages} pages, {outcome.chunks} chunks)"


def result_rows(results: Sequence[UploadResult]) -> list[dict[str, Any]]:
    return [{"file": r.outcome.name, "result": STATUS_WORDS.get(r.outcome.status, r.outcome.status),
             "pages": r.outcome.pages or None, "chunks": r.outcome.chunks or None,
             "reason": r.outcome.reason} for r in results]


def document_rows(infos: Sequence[DocumentInfo]) -> list[dict[str, Any]]:
    return [{"document": d.source, "pages": d.pages, "chunks": d.chunks,
             "indexed": d.indexed_at.replace("T", " ").replace("+00:00", " UTC"), "id": d.id} for d in infos]


def document_label(info: DocumentInfo) -> str:
    return f"{info.source} · {info.pages} pages · {info.id[:10]}"


@dataclass(frozen=True)
class UploadLimit:
    """The size limit a user meets: the smaller of the app's and the upload widget's."""

    app_mb: float  # settings.store.max_file_mb: bigger files are refused by the loader
    server_mb: float  # Streamlit's server.maxUploadSize: bigger files never reach the app

    @property
    def effective_mb(self) -> float:
        return min(self.app_mb, self.server_mb)

    @property
    def consistent(self) -> bool:
        return abs(self.app_mb - self.server_mb) < 0.5

    def explanation(self) -> str:
        """What the person uploading sees: the limit, not the settings behind it."""
        return f"Each file may be up to {self.effective_mb:g} MB."

    def admin_warning(self) -> str | None:
        """For the server log when the two limits differ (whoever runs the app can fix it)."""
        if self.consistent:
            return None
        return (f"upload limits differ: max_file_mb (QA_MAX_FILE_MB) is {self.app_mb:g} MB, Streamlit's "
                f"server.maxUploadSize is {self.server_mb:g} MB; the smaller applies. Keep the two equal.")
