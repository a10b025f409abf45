"""The public Python API: open a collection, index files, ask questions, list and delete documents,
evaluate a question file, and close (which lets other processes open the store).

    import qa_app.api as qa_api

    with qa_api.open(data_dir="my-index", reader="transformer") as qa:
        qa.index(["manuals/"])
        answer = qa.ask("What does the function lm do?")
        print(answer.text, answer.citations[0].source, answer.citations[0].page)

Everything returned is one of the frozen dataclasses of `qa_app.types` (or the indexer's
`IndexOutcome`); errors are `qa_app.errors.QAError` subclasses whose message says what to do. The
CLI's handlers and this module both sit on `qa_app.wiring.App`; nothing here imports torch until a
model is needed. What is not here (the App, retrieval, readers) may change between versions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from indexing.build import IndexEvent, IndexOutcome
from qa_app.config import Settings, load_settings
from qa_app.conversation import Turn
from qa_app.data.questions import QuestionSet
from qa_app.errors import DocumentNotFoundError, QAError
from qa_app.types import Answer, Citation, DocumentInfo

__all__ = [
    "QA", "open", "Answer", "Citation", "DocumentInfo", "IndexEvent", "IndexOutcome", "Turn", "QAError",
    "DocumentNotFoundError",
]

History = Sequence["Turn | Answer | tuple[str, str]"]


def open(  # noqa: A001 - the API's entry point reads as `qa_app.api.open(...)`, like `io.open`
    *, data_dir: str | Path | None = None, collection: str | None = None, reader: str | None = None,
    config: str | Path | None = None, settings: Settings | None = None, **overrides: Any,
) -> QA:
    """A `QA` over one collection. Settings come, highest first, from these arguments (any field of
    `qa_app.config`, e.g. `top_k=8`), `QA_*` environment variables, the `config` TOML file, defaults.
    Nothing loads until it is needed; the store is claimed for this process on first use."""
    if settings is None:
        given = {"data_dir": data_dir, "collection": collection, "reader": reader, **overrides}
        settings = load_settings(str(config) if config is not None else None,
                                 {k: (str(v) if isinstance(v, Path) else v) for k, v in given.items() if v is not None})
    return QA(settings)


class QA:
    """One collection and one reader, loaded once and reused for every call. Not for sharing across
    processes (the embedded store has one owner process); threads may share it."""

    def __init__(self, settings: Settings, *, app_factory: Callable[[Settings], Any] | None = None) -> None:
        if app_factory is None:
            from qa_app.wiring import App

            app_factory = App
        self._settings = settings
        self._app_factory = app_factory
        self._app: Any = None

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def _live(self) -> Any:
        if self._app is None:
            self._app = self._app_factory(self._settings)
        return self._app

    def index(self, paths: Iterable[str | Path] | str | Path,
              progress: Callable[[IndexEvent], None] | None = None) -> list[IndexOutcome]:
        """Index files and folders (PDF, DOCX, HTML, TXT, MD). One outcome per file: added, replaced, unchanged, or
        skipped with the reason; a bad file never stops the others."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        return list(self._live.indexer.index_paths([str(p) for p in paths], progress=progress))

    def index_bytes(self, data: bytes, name: str) -> IndexOutcome:
        """Index an in-memory file (an upload); `name` gives its type and the source shown in citations."""
        return self._live.indexer.index_bytes(data, name)

    def ask(self, question: str, history: History = (), *, top_k: int | None = None) -> Answer:
        """The answer to `question` (text "" = not found in your documents), with citations. `history`:
        the earlier turns of the conversation, oldest first, as Turns, Answers or (question, answer)."""
        return self._live.pipeline().ask(question, _turns(history), top_k=top_k)

    def documents(self) -> list[DocumentInfo]:
        """The indexed documents of the collection."""
        return list(self._live.store.documents())

    def collections(self) -> list[str]:
        """The collections of this data directory (or Chroma server)."""
        return list(self._live.collections())

    def delete(self, doc_id: str) -> None:
        """Remove a document and all its chunks; DocumentNotFoundError if the id is unknown."""
        self._live.indexer.delete(doc_id)

    def load_models(self) -> None:
        """Open the store and load the encoder and the reader now rather than on the first question."""
        self._live.load_models(self._settings.reader.reader)

    def evaluate(self, questions: str | Path | QuestionSet, *, limit: int | None = None, seed: int = 13,
                 progress: Callable[[int], None] | None = None) -> dict[str, Any]:
        """Ask every question of a question file (CSV, JSONL or SQuAD JSON with expected answers, and
        optionally source and page; or a QuestionSet parsed already) over this collection; the scores
        `qa-app eval FILE --collection` prints (EM/F1, page@1, source@1, abstention, latency).
        `limit`: a seeded sample of that many."""
        from qa_app.data.questions import load_questions, sample_questions
        from qa_app.evaluation.collection import evaluate_collection
        from qa_app.wiring import models_stamp

        dataset = questions if isinstance(questions, QuestionSet) else load_questions(str(questions))
        chosen = sample_questions(dataset.questions, limit, seed=seed)
        name = self._settings.reader.reader
        report, _ = evaluate_collection(app=self._live, dataset=dataset, questions=chosen, reader_name=name,
                                        model=models_stamp(self._settings, name), seed=seed,
                                        progress=progress, log=lambda _: None)
        return dict(report)

    def close(self) -> None:
        """Release the store (another process may open it now) and drop loaded models. Idempotent;
        a later call reopens everything."""
        app, self._app = self._app, None
        if app is not None:
            app.close()

    def __enter__(self) -> QA:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        s = self._settings
        return (f"QA(data_dir={s.store.data_dir!r}, collection={s.store.collection!r}, reader={s.reader.reader!r}, "
                f"{'open' if self._app is not None else 'closed'})")


def _turns(history: History) -> list[Turn]:
    turns = []
    for item in history:
        if isinstance(item, Turn):
            turns.append(item)
        elif isinstance(item, Answer):
            turns.append(Turn.from_answer(item))
        elif isinstance(item, tuple) and len(item) == 2:
            turns.append(Turn(question=str(item[0]), answer=str(item[1])))
        else:
            raise QAError(f"history items are Turn, Answer or (question, answer) pairs, not {type(item).__name__}")
    return turns
