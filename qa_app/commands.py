"""The handlers behind each `qa-app` command: call the wired objects, print results."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Sequence

from qa_app.config import Settings, load_settings
from qa_app.conversation import Turn
from qa_app.errors import DocumentNotFoundError, QAError
from qa_app.progress import progress_bar

EXIT_USER_ERROR = 2  # a mistake the message explains (also: nothing could be indexed)
EXIT_PARTIAL = 1  # some files were skipped, the others indexed
AppFactory = Callable[[Any], Any]  # Settings -> App (tests pass one wiring fakes)


SETTING_FLAGS = ("data_dir", "collection", "chroma_host", "chroma_port", "chroma_token", "ray_address", "reader", "models_dir",
                 "precision", "top_k", "retriever", "server_url", "server_token", "server_host", "server_port")


def settings_from(args: argparse.Namespace) -> Settings:
    overrides = {k: getattr(args, k) for k in SETTING_FLAGS if getattr(args, k, None) is not None}
    return load_settings(getattr(args, "config", None), overrides)


def print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


def _remote(settings: Settings) -> Any:
    """A client of the server named by --server / QA_SERVER_URL, or None to work on the store directly."""
    if not settings.server.server_url:
        return None
    from qa_app.client import RemoteQA

    return RemoteQA(settings.server.server_url, token=settings.server.server_token)


def index(args: argparse.Namespace, make_app: AppFactory) -> int:
    settings = settings_from(args)
    remote = _remote(settings)
    if remote is not None:
        outcomes = remote.index(args.paths)
    elif settings.store.ray_address:
        outcomes = [asdict(o) for o in _index_on_ray(make_app(settings), args.paths, settings.store.ray_address)]
    else:
        outcomes = [asdict(o) for o in _index_locally(make_app(settings), args.paths)]
    if not outcomes:
        raise QAError(f"nothing to index in {', '.join(args.paths)}: no files found (hidden files and folders "
                      f"are not read); give PDF, DOCX, HTML, TXT or Markdown files or folders holding them")
    if args.json:
        print_json({"outcomes": outcomes})
    else:
        for o in outcomes:
            if o["status"] == "skipped":
                print(f"skipped    {shown(o['name'])}: {shown(o['reason'])}")
            else:
                print(f"{o['status']:<10} {o['source']} ({o['pages']} pages, {o['chunks']} chunks) id {o['doc_id']}")
        counts = {s: sum(o["status"] == s for o in outcomes) for s in ("added", "replaced", "unchanged", "skipped")}
        print(", ".join(f"{n} {s}" for s, n in counts.items()))
    skipped = sum(o["status"] == "skipped" for o in outcomes)
    if not skipped:
        return 0
    return EXIT_PARTIAL if skipped < len(outcomes) else EXIT_USER_ERROR


def _index_on_ray(app: Any, paths: list[str], address: str) -> list[Any]:
    from qa_app.distributed import index_paths_on_ray

    bar = progress_bar(total=None, desc="files (Ray)", unit="file")

    def progress(done: int, total: int, name: str) -> None:
        bar.total = total
        bar.n = done
        bar.set_postfix(file=shown(Path(name).name)[:30])
        bar.refresh()

    try:
        return index_paths_on_ray(app, paths, address, progress=progress)
    finally:
        bar.close()


def _index_locally(app: Any, paths: list[str]) -> list[Any]:
    bars: dict[str, Any] = {}

    def progress(event: Any) -> None:
        key = f"{event.name}:{event.stage}"
        if key not in bars:
            for bar in bars.values():
                bar.close()
            bars.clear()
            bars[key] = progress_bar(total=event.total, desc=f"{shown(Path(event.name).name)[:30]} {event.stage}", leave=False)
        bar = bars[key]
        bar.total = event.total
        bar.n = event.done
        bar.refresh()

    outcomes = app.indexer.index_paths(paths, progress=progress)
    for bar in bars.values():
        bar.close()
    return list(outcomes)


def shown(text: str) -> str:
    """`text` safe to print on a terminal: control and format characters (escape sequences,
    newlines, bidi overrides) become "?"."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _check_not_empty(app: Any) -> None:
    app.require_existing_store()
    if not app.store.documents():
        raise QAError(f"no documents are indexed in {app.data_dir} (collection {app.settings.store.collection}); "
                      "run `qa-app index PATH` first")


Asker = Callable[[str, Sequence[Turn], "int | None"], dict[str, Any]]


def _asker(settings: Settings, make_app: AppFactory) -> Asker:
    """(question, history, top_k) -> the answer's JSON, from the server or from a pipeline loaded here
    (saying so on stderr: loading takes seconds; the answers' timings then measure answering only)."""
    remote = _remote(settings)
    if remote is not None:
        return remote.ask
    from qa_app.serialize import answer_to_json

    app = make_app(settings)
    _check_not_empty(app)
    print(f"qa-app: loading the encoder and the {settings.reader.reader} reader ...", file=sys.stderr, flush=True)
    app.load_models(settings.reader.reader)
    pipeline = app.pipeline()

    def ask_here(question: str, history: Sequence[Turn], top_k: int | None) -> dict[str, Any]:
        return answer_to_json(pipeline.ask(question, history, top_k=top_k))

    return ask_here


def _question_lines(source: str) -> list[str]:
    if source == "-":
        lines = sys.stdin.read().splitlines()
    else:
        try:
            lines = Path(source).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise QAError(f"cannot read questions from {source}: {exc}; give a UTF-8 text file, one question per line") from None
    questions = [line.strip() for line in lines if line.strip()]
    if not questions:
        raise QAError(f"no questions in {source}: write one question per line")
    return questions


def web(args: argparse.Namespace, make_app: AppFactory) -> int:
    import os
    import subprocess

    from qa_app.web import web_command, web_environment

    given = {k: getattr(args, k, None) for k in ("config", *SETTING_FLAGS)}  # the flags `web` has reach the app
    settings = settings_from(args)  # a bad setting fails here, not inside the app
    print(f"qa-app: the web app will be at http://{args.address}:{args.port} (Ctrl-C stops it)", file=sys.stderr, flush=True)
    command = web_command(sys.executable, settings, port=args.port, address=args.address)
    environment = web_environment(os.environ, given)
    if os.name == "posix":  # become the server: a stop signal (service manager, kill PID) reaches it, none orphans it
        sys.stdout.flush()
        os.execve(command[0], command, environment)
    try:
        return subprocess.call(command, env=environment)
    except KeyboardInterrupt:
        return 0


def ask(args: argparse.Namespace, make_app: AppFactory) -> int:
    from qa_app.pipeline import clean_question

    if (args.question is None) == (args.questions is None):
        raise QAError("give one question, or --questions FILE (one question per line), not both")
    questions = [args.question] if args.questions is None else _question_lines(args.questions)
    for question in questions:
        clean_question(question)  # a bad question fails before seconds of loading
    asker = _asker(settings_from(args), make_app)
    for question in questions:
        answer = asker(question, (), args.top_k)
        if args.json and args.questions is not None:
            print(json.dumps(answer, ensure_ascii=False), flush=True)
        elif args.json:
            print_json(answer)
        else:
            if args.questions is not None:
                print(f"? {shown(question)}")
            print(format_answer(answer), flush=True)
    return 0


def format_answer(answer: dict[str, Any]) -> str:
    """An answer's JSON (`answer_to_json`, or a server's reply) as text for the terminal."""
    if not answer["answers"]:
        lines = ["Not found in your documents."]
        if answer["windows"]:
            lines.append("Closest passages:")
            lines += [f"  - {w['source']}, page {w['page']}: {w['preview'].strip()}..." for w in answer["windows"][:3]]
        return "\n".join(lines)
    best, *others = answer["answers"]
    lines = [best["text"], f"  ({best['source']}, page {best['page']}; confidence {best['score']:.2f}; "
                           f"reader {answer['reader']})"]
    lines += [f"  or: {alt['text']} ({alt['source']}, page {alt['page']}; {alt['score']:.2f})" for alt in others]
    return "\n".join(lines)


def chat(args: argparse.Namespace, make_app: AppFactory) -> int:
    from qa_app.serialize import turn_from_json

    asker = _asker(settings_from(args), make_app)
    history: list[Turn] = []
    interactive = sys.stdin.isatty()
    if interactive:
        print("Ask a question (empty line or Ctrl-D to stop; 'new' starts a new conversation).")
    while True:
        try:
            line = input("? " if interactive else "")
        except EOFError:
            break
        line = line.strip()
        if not line:
            break
        if line.lower() == "new":
            history.clear()
            print("(new conversation)")
            continue
        try:
            answer = asker(line, history, args.top_k)
        except QAError as exc:
            print(json.dumps({"question": line, "error": str(exc)}) if args.json else f"error: {exc}", flush=True)
            continue
        if args.json:
            print(json.dumps(answer, ensure_ascii=False), flush=True)
        else:
            if not interactive:  # piped questions: show which answer belongs to which question
                print(f"? {shown(line)}")
            if answer["query"] != answer["question"]:
                print(f"  [searched for: {answer['query']}]")
            if answer.get("stayed_in"):
                print(f"  [stayed in: {answer['stayed_in']}]")
            print(format_answer(answer), flush=True)
        history.append(turn_from_json(answer))
    return 0


def docs(args: argparse.Namespace, make_app: AppFactory) -> int:
    settings = settings_from(args)
    remote = _remote(settings)
    app = None
    if remote is None:
        app = make_app(settings)
        app.require_existing_store()
    where = settings.server.server_url or f"{app.data_dir if app else ''}"
    if args.docs_command == "check":
        return _check(app, args)
    if args.docs_command == "collections":
        counts: dict[str, int | None]
        if remote is not None:
            listed = remote.collections()
            current, counts = listed["current"], {n: None for n in listed["collections"]}
        else:
            current, counts = settings.store.collection, dict(_collection_counts(app, make_app))
        if args.json:
            print_json({"collections": [{"name": n, "documents": c} for n, c in counts.items()]})
        else:
            for name, count in counts.items():
                size = f"  {count} documents" if count is not None else ""
                print(f"{name}{size}{'  (current)' if name == current else ''}")
        return 0
    if args.docs_command == "list":
        infos = remote.documents() if remote is not None else [asdict(i) | {"page_starts": None}
                                                               for i in app.store.documents()]  # type: ignore[union-attr]
        if args.json:
            print_json({"documents": infos})
        elif not infos:
            print(f"no documents indexed in {where} (collection {settings.store.collection})")
        else:
            for i in infos:
                print(f"{i['id']}  {i['source']}  {i['pages']} pages, {i['chunks']} chunks, indexed {i['indexed_at']}")
        return 0
    try:
        remote.delete(args.doc_id) if remote is not None else app.indexer.delete(args.doc_id)  # type: ignore[union-attr]
    except DocumentNotFoundError:
        raise QAError(f"no document with id {args.doc_id!r}; see `qa-app docs list`") from None
    print(f"deleted {args.doc_id}")
    return 0


def _check(app: Any, args: argparse.Namespace) -> int:
    if app is None:
        raise QAError("docs check runs where the store is: on the server's machine, without --server")
    bar = progress_bar(total=len(app.store.documents()), desc="checking documents", unit="doc")
    report = app.check_store(repair=args.repair, reencode=args.reencode,
                             progress=lambda done, total: bar.update(done - bar.n))
    bar.close()
    if args.json:
        print_json(asdict(report) | {"ok": report.ok})
    else:
        print(f"{report.documents} documents, {report.rows} rows checked"
              f"{'' if report.reencoded else ' (vectors not re-encoded)'}")
        for label, ids in (("unreachable by search", report.unreachable), ("vector differs from its text", report.mismatched),
                           ("missing", report.missing)):
            if ids:
                print(f"{len(ids)} {label}: {', '.join(ids[:10])}{' ...' if len(ids) > 10 else ''}")
        for note in report.notes:
            print(note)
        if report.repaired:
            print(f"repaired {len(report.repaired)} rows (written again)")
        elif not report.ok:
            print("run `qa-app docs check --repair` to write them again")
        else:
            print("no problems found")
    return 0 if report.ok else EXIT_PARTIAL


def _collection_counts(app: Any, make_app: AppFactory) -> dict[str, int]:
    counts = {}
    for name in app.collections():  # each collection opened through an App of its own settings
        other = app if name == app.settings.store.collection else make_app(app.settings.replace(collection=name))
        counts[name] = len(other.store.documents())
    return counts


def serve(args: argparse.Namespace, make_app: AppFactory) -> int:
    from indexing.loaders import MB
    from qa_app.api import QA
    from qa_app.server import serve as run_server

    settings = settings_from(args)
    s = settings.server
    run_server(QA(settings, app_factory=make_app), host=s.server_host, port=s.server_port,
               token=s.server_token or None, max_upload_bytes=int(settings.store.max_file_mb * MB),
               log=lambda m: print(m, file=sys.stderr, flush=True))
    return 0
