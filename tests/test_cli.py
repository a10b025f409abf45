"""`qa-app` end to end through `qa_app.cli.main` with an injected App of fakes (no models, all in tmp_path).

The factory gives `qa_app.wiring.App` a HashingEncoder, a RegexTokenizer, an InMemoryStore (or an
embedded ChromaStore in tmp_path) and a FakeReader, so every command runs its real code path.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from indexing.stores import ChromaStore, InMemoryStore, StoreSignature
from qa_app.cli import EXIT_USER_ERROR, main
from qa_app.commands import EXIT_PARTIAL
from qa_app.config import DEFAULT_READER, Settings
from qa_app.wiring import App
from tests import pdf_factory
from tests.fakes import FakeReader, HashingEncoder, RegexTokenizer
from tests.files import write

RIVERS = ("The Rhine rises in the Swiss Alps and flows north through Germany. Barges carry coal on the "
          "Rhine. The river reaches the North Sea near Rotterdam in the Netherlands.")
PLANETS = ("# Planets\n\nMars is the fourth planet from the Sun. Jupiter is the largest planet. "
           "Saturn has bright rings of ice and rock.\n")
ANSWER = "the Swiss Alps"
ENCODER = HashingEncoder(dimension=64)


def signature(settings: Settings) -> StoreSignature:
    return StoreSignature.for_encoder(ENCODER.id, ENCODER.dimension, settings.chunking)


class Harness:
    """Runs `qa-app` commands against one store that outlives each App, like a real data dir."""

    def __init__(self, tmp_path: Path, capsys: pytest.CaptureFixture[str], *, chroma: bool = False) -> None:
        self.tmp = tmp_path
        self.capsys = capsys
        self.chroma = chroma
        self.data_dir = tmp_path / "data"
        self.reader = FakeReader(ANSWER, name=DEFAULT_READER)
        self.memory: InMemoryStore | None = None
        self.apps: list[App] = []

    def store(self, settings: Settings) -> Any:
        if self.chroma:  # a fresh handle per App: what persists is on disk
            return ChromaStore.open_embedded(self.data_dir / "chroma", collection=settings.store.collection,
                                             signature=signature(settings))
        if self.memory is None:
            self.memory = InMemoryStore(signature=signature(settings))
        return self.memory

    def factory(self, settings: Settings) -> App:
        app = App(settings, encoder=ENCODER, tokenizer=RegexTokenizer(), store=self.store(settings),
                  readers={DEFAULT_READER: self.reader})
        self.apps.append(app)
        return app

    def run(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main([*argv, "--data-dir", str(self.data_dir)], make_app=self.factory)
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No QA_* variables or ./qa-app.toml of the developer leak into these runs."""
    for key in list(os.environ):
        if key.startswith("QA_"):
            monkeypatch.delenv(key)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Harness:
    return Harness(tmp_path, capsys)


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    write(folder / "rivers.txt", RIVERS)
    write(folder / "planets.md", PLANETS)
    write(folder / "empty.txt", b"")
    write(folder / "broken.pdf", pdf_factory.make_truncated_pdf())
    write(folder / "locked.pdf", pdf_factory.make_encrypted_pdf())
    return folder


def assert_one_line_error(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("qa-app: error: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0]


# --- index ----------------------------------------------------------------------------------------


def test_index_adds_good_files_and_skips_bad_ones_with_reasons(cli: Harness, mixed_folder: Path) -> None:
    code, out, err = cli.run("index", str(mixed_folder))
    assert code == EXIT_PARTIAL
    lines = out.strip().splitlines()
    added = [line for line in lines if line.startswith("added")]
    skipped = {line.split()[1].rstrip(":"): line for line in lines if line.startswith("skipped")}
    assert len(added) == 2
    assert any("rivers.txt" in line for line in added) and any("planets.md" in line for line in added)
    assert {Path(name).name for name in skipped} == {"empty.txt", "broken.pdf", "locked.pdf"}
    for line in skipped.values():
        assert line.split(":", 1)[1].strip(), "every skipped file has a reason"
    assert lines[-1] == "2 added, 0 replaced, 0 unchanged, 3 skipped"
    assert "Traceback" not in err
    assert {d.source for d in cli.apps[-1].store.documents()} == {"rivers.txt", "planets.md"}


def test_indexing_again_reports_unchanged(cli: Harness, mixed_folder: Path) -> None:
    cli.run("index", str(mixed_folder))
    code, out, _ = cli.run("index", str(mixed_folder / "rivers.txt"), str(mixed_folder / "planets.md"))
    assert code == 0
    assert [line.split()[0] for line in out.strip().splitlines()[:-1]] == ["unchanged", "unchanged"]
    assert out.strip().splitlines()[-1] == "0 added, 0 replaced, 2 unchanged, 0 skipped"


def test_a_changed_file_is_replaced_and_its_old_chunks_are_gone(cli: Harness, tmp_path: Path) -> None:
    path = write(tmp_path / "docs" / "rivers.txt", RIVERS)
    cli.run("index", str(path))
    store = cli.apps[-1].store
    (old,) = store.documents()
    write(path, RIVERS + " The Danube flows east to the Black Sea.")
    code, out, _ = cli.run("index", str(path))
    assert code == 0
    assert out.startswith("replaced")
    (new,) = store.documents()
    assert new.id != old.id
    assert store.get_document(old.id) is None and store.get_chunks(old.id, range(old.chunks)) == []
    assert any("Danube" in c.text for c in store.all_chunks())


def test_index_json_is_one_object(cli: Harness, mixed_folder: Path) -> None:
    code, out, _ = cli.run("index", str(mixed_folder), "--json")
    assert code == EXIT_PARTIAL
    data = json.loads(out)
    statuses = sorted(o["status"] for o in data["outcomes"])
    assert statuses == ["added", "added", "skipped", "skipped", "skipped"]
    for o in data["outcomes"]:
        assert (o["status"] == "skipped") == bool(o["reason"])


def test_index_with_only_bad_files_is_a_user_error(cli: Harness, tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.txt", b"")
    code, out, _ = cli.run("index", str(empty), str(tmp_path / "missing.md"))
    assert code == EXIT_USER_ERROR
    assert out.strip().splitlines()[-1] == "0 added, 0 replaced, 0 unchanged, 2 skipped"


def test_a_folder_of_unsupported_files_says_why_and_an_empty_one_is_an_error(cli: Harness, tmp_path: Path) -> None:
    folder = tmp_path / "office"
    write(folder / "report.odt", b"PK\x03\x04")
    write(folder / "sheet.xlsx", b"PK\x03\x04")
    code, out, _ = cli.run("index", str(folder))
    assert code == EXIT_USER_ERROR
    assert "skipped    " + str(folder / "report.odt") + ": unsupported file type .odt" in out
    assert out.strip().splitlines()[-1] == "0 added, 0 replaced, 0 unchanged, 2 skipped"
    (tmp_path / "empty").mkdir()
    code, out, err = cli.run("index", str(tmp_path / "empty"))
    assert code == EXIT_USER_ERROR and "nothing to index" in err and str(tmp_path / "empty") in err


def test_read_only_commands_on_a_mistyped_data_dir_create_nothing_and_name_it(tmp_path: Path, capsys: Any) -> None:
    typo = tmp_path / "qa-dtaa"
    for argv in (["docs", "list"], ["ask", "Where does the Rhine rise?"], ["docs", "delete", "abc"]):
        assert main([*argv, "--data-dir", str(typo)]) == EXIT_USER_ERROR  # the real App: no models load
        err = capsys.readouterr().err
        assert f"no index in {typo}" in err and "--data-dir" in err
        assert not typo.exists()


# --- ask ------------------------------------------------------------------------------------------


def test_ask_json_prints_exactly_one_answer_object(cli: Harness, mixed_folder: Path) -> None:
    cli.run("index", str(mixed_folder))
    code, out, err = cli.run("ask", "Where does the Rhine rise?", "--json")
    assert code == 0, err
    data = json.loads(out)  # the whole of stdout is one JSON object
    assert {"question", "answers", "timings_ms"} <= set(data)
    assert data["question"] == "Where does the Rhine rise?"
    assert data["answers"], "the fake reader finds its answer"
    first = data["answers"][0]
    assert {"text", "score", "source", "page", "start", "end", "context"} <= set(first)
    assert first["text"] == ANSWER and first["source"] == "rivers.txt" and first["page"] == 1
    assert RIVERS[first["start"] : first["end"]] == ANSWER
    assert ANSWER in first["context"]
    assert isinstance(data["timings_ms"], dict) and "total" in data["timings_ms"]


def test_ask_json_names_the_section_of_the_answer(cli: Harness, tmp_path: Path) -> None:
    write(tmp_path / "guide" / "planets.md", PLANETS + "\nMoons\n-----\n\nTitan orbits Saturn.\n")
    cli.run("index", str(tmp_path / "guide"))
    cli.reader = FakeReader("Titan orbits Saturn", name=DEFAULT_READER)
    code, out, err = cli.run("ask", "What orbits Saturn?", "--json")
    assert code == 0, err
    first = json.loads(out)["answers"][0]
    assert first["text"] == "Titan orbits Saturn" and first["section"] == "Moons"


def test_ask_json_not_found_has_no_answers(cli: Harness, mixed_folder: Path) -> None:
    cli.run("index", str(mixed_folder))
    cli.reader = FakeReader("words that no document holds", name=DEFAULT_READER)
    code, out, _ = cli.run("ask", "What is the capital of Peru?", "--json")
    assert code == 0
    assert json.loads(out)["answers"] == []


def test_ask_prints_the_answer_with_its_source(cli: Harness, mixed_folder: Path) -> None:
    cli.run("index", str(mixed_folder))
    code, out, _ = cli.run("ask", "Where does the Rhine rise?")
    assert code == 0
    assert out.splitlines()[0] == ANSWER
    assert "rivers.txt, page 1" in out


def test_ask_not_found_says_so(cli: Harness, mixed_folder: Path) -> None:
    cli.run("index", str(mixed_folder))
    cli.reader = FakeReader("words that no document holds", name=DEFAULT_READER)
    code, out, _ = cli.run("ask", "What is the capital of Peru?")
    assert code == 0
    assert out.startswith("Not found in your documents.")


def test_ask_on_an_empty_store_is_a_helpful_error(cli: Harness) -> None:
    code, out, err = cli.run("ask", "Where does the Rhine rise?")
    assert code == EXIT_USER_ERROR
    assert out == ""
    assert_one_line_error(err, "no documents are indexed", "qa-app index")
    assert cli.reader.calls == []


def test_ask_an_empty_question_is_a_user_error(cli: Harness, mixed_folder: Path) -> None:
    cli.run("index", str(mixed_folder))
    code, _, err = cli.run("ask", "   ")
    assert code == EXIT_USER_ERROR
    assert_one_line_error(err, "question is empty")


def test_ask_questions_from_a_file_prints_one_json_line_each_after_saying_it_loads(cli: Harness, mixed_folder: Path,
                                                                                   tmp_path: Path) -> None:
    cli.run("index", str(mixed_folder))
    questions = write(tmp_path / "q.txt", "Where does the Rhine rise?\n\nWhich planet has rings?\n")
    code, out, err = cli.run("ask", "--questions", str(questions), "--json")
    assert code == 0 and "loading the encoder and the" in err
    lines = out.splitlines()
    assert [json.loads(line)["question"] for line in lines] == ["Where does the Rhine rise?", "Which planet has rings?"]
    assert json.loads(lines[0])["answers"][0]["text"] == ANSWER
    code, out, _ = cli.run("ask", "--questions", str(questions))
    assert code == 0 and out.startswith("? Where does the Rhine rise?\n" + ANSWER)
    code, _, err = cli.run("ask", "Where?", "--questions", str(questions))
    assert code == EXIT_USER_ERROR and "not both" in err


def test_piped_chat_echoes_questions_and_prints_json_lines(cli: Harness, mixed_folder: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    cli.run("index", str(mixed_folder))
    monkeypatch.setattr("sys.stdin", io.StringIO("Where does the Rhine rise?\nAnd where does it end?\n"))
    code, out, _ = cli.run("chat")
    assert code == 0 and out.startswith("? Where does the Rhine rise?\n" + ANSWER)
    assert "? And where does it end?" in out
    assert "  [stayed in: rivers.txt, page 1]" in out  # the follow-up searched near the first answer
    monkeypatch.setattr("sys.stdin", io.StringIO("Where does the Rhine rise?\nnew\nWhich planet has rings?\n"))
    code, out, _ = cli.run("chat", "--json")
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert code == 0 and [r["question"] for r in rows] == ["Where does the Rhine rise?", "Which planet has rings?"]


# --- docs -----------------------------------------------------------------------------------------


def test_docs_list_json(cli: Harness, mixed_folder: Path) -> None:
    cli.run("index", str(mixed_folder))
    code, out, _ = cli.run("docs", "list", "--json")
    assert code == 0
    docs = json.loads(out)["documents"]
    assert sorted(d["source"] for d in docs) == ["planets.md", "rivers.txt"]
    for d in docs:
        assert d["id"] and d["chunks"] >= 1 and d["pages"] == 1


def test_docs_list_on_an_empty_store(cli: Harness) -> None:
    code, out, _ = cli.run("docs", "list")
    assert code == 0 and out.strip() == f"no documents indexed in {cli.data_dir} (collection documents)"


def test_docs_delete_removes_a_document(cli: Harness, mixed_folder: Path) -> None:
    cli.run("index", str(mixed_folder))
    doc_id = next(d.id for d in cli.apps[-1].store.documents() if d.source == "rivers.txt")
    code, out, _ = cli.run("docs", "delete", doc_id)
    assert code == 0 and out.strip() == f"deleted {doc_id}"
    assert [d.source for d in cli.apps[-1].store.documents()] == ["planets.md"]


def test_docs_delete_of_an_unknown_id_is_a_one_line_error(cli: Harness, mixed_folder: Path) -> None:
    cli.run("index", str(mixed_folder))
    code, out, err = cli.run("docs", "delete", "0123456789abcdef")
    assert code == EXIT_USER_ERROR
    assert out == ""
    assert_one_line_error(err, "0123456789abcdef", "docs list")
    assert len(cli.apps[-1].store.documents()) == 2


# --- persistence through an embedded Chroma store -------------------------------------------------


def test_index_then_ask_through_an_embedded_chroma_store(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          mixed_folder: Path) -> None:
    cli = Harness(tmp_path, capsys, chroma=True)
    code, _, _ = cli.run("index", str(mixed_folder))
    assert code == EXIT_PARTIAL
    code, out, _ = cli.run("index", str(mixed_folder / "rivers.txt"))
    assert code == 0 and out.startswith("unchanged")
    code, out, _ = cli.run("docs", "list", "--json")
    assert sorted(d["source"] for d in json.loads(out)["documents"]) == ["planets.md", "rivers.txt"]
    code, out, _ = cli.run("ask", "Where does the Rhine rise?", "--json")
    assert code == 0
    first = json.loads(out)["answers"][0]
    assert RIVERS[first["start"] : first["end"]] == ANSWER


def test_docs_collections_lists_every_collection_with_its_documents(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                    mixed_folder: Path) -> None:
    cli = Harness(tmp_path, capsys, chroma=True)
    cli.run("index", str(mixed_folder / "rivers.txt"), "--collection", "rivers")
    cli.run("index", str(mixed_folder / "rivers.txt"), str(mixed_folder / "planets.md"), "--collection", "all-docs")
    code, out, _ = cli.run("docs", "collections", "--json", "--collection", "rivers")
    assert code == 0
    assert json.loads(out)["collections"] == [{"name": "all-docs", "documents": 2}, {"name": "rivers", "documents": 1}]
    code, out, _ = cli.run("docs", "collections", "--collection", "rivers")
    assert out.splitlines() == ["all-docs  2 documents", "rivers  1 documents  (current)"]


# --- parsing and settings -------------------------------------------------------------------------


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    def never(settings: Settings) -> Any:
        raise AssertionError("no app is built without a command")

    assert main([], make_app=never) == EXIT_USER_ERROR
    assert "usage: qa-app" in capsys.readouterr().out


def test_a_bad_setting_is_a_one_line_error(cli: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_TOP_K", "many")
    code, _, err = cli.run("docs", "list")
    assert code == EXIT_USER_ERROR
    assert_one_line_error(err, "top_k")
    assert cli.apps == []


def test_flags_reach_the_settings(cli: Harness) -> None:
    made: list[Settings] = []

    def factory(settings: Settings) -> App:
        made.append(settings)
        return cli.factory(settings)

    code = main(["docs", "list", "--collection", "books", "--data-dir", str(cli.data_dir)], make_app=factory)
    assert code == 0
    assert made[0].store.collection == "books" and made[0].store.data_dir == str(cli.data_dir)


def test_a_chroma_token_that_starts_with_a_dash_is_taken_in_the_equals_form() -> None:
    from qa_app.cli import build_parser

    args = build_parser().parse_args(["docs", "list", "--chroma-token=-Xy_1", "--chroma-host", "127.0.0.1"])
    assert args.chroma_token == "-Xy_1" and args.chroma_host == "127.0.0.1"


@pytest.mark.parametrize("name, says", [("lstm", "export one of: transformer-mpnet, transformer"),
                                        ("cascade", "reads with transformer and transformer-mpnet"),
                                        ("nonsense", "unknown reader 'nonsense'")])
def test_export_takes_transformer_readers_only(name: str, says: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", name, "--out", str(tmp_path / "out")]) == EXIT_USER_ERROR
    assert says in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("device, says", [("cuda", "no CUDA GPU here"), ("gpu", "choose auto, cpu, cuda or cuda:N")])
def test_train_refuses_a_device_it_cannot_use_before_loading_anything(
        device: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code = main(["train", "--reader", "transformer", "--device", device, "--run-dir", str(tmp_path / "run"),
                 "--out", str(tmp_path / "out")])
    assert code == EXIT_USER_ERROR
    assert says in capsys.readouterr().err
    assert not (tmp_path / "run").exists() and not (tmp_path / "out").exists()
