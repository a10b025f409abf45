"""Helpers of the page tests (`test_pages.py`, `test_evaluate_collection.py`): start the real web app
shell `ui.main.main` in Streamlit's AppTest with a fake wiring, on a given page, and index documents
into the collection its Apps share. Their fixtures (`settings`, `fresh_caches`) are in `conftest.py`.
"""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from qa_app.config import Settings
from tests.ui.fake_wiring import FakeWiring
from ui.main import page_path

TIMEOUT = 30


def _entry(make_app, settings):  # type: ignore[no-untyped-def]
    from ui.main import main

    main(make_app=make_app, settings=settings)


def start(wiring: FakeWiring, settings: Settings, page: str = "ask") -> AppTest:
    at = AppTest.from_function(_entry, kwargs={"make_app": wiring, "settings": settings}, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    if page != "ask":
        at.switch_page(page_path(page)).run()
        assert not at.exception, at.exception
    return at


def indexed(wiring: FakeWiring, settings: Settings, *docs: tuple[str, str]) -> None:
    app = wiring(settings)
    for name, text in docs:
        assert app.indexer.index_bytes(text.encode(), name).status == "added"
