"""A client of a running `qa-app serve` (qa_app/server.py): what `qa-app ask/index/docs --server URL` use.

Returns the server's JSON (dicts); turns refusals and unreachable servers into QAErrors that say what
to do. Files are found and checked for type locally (the same rules as local indexing), then
uploaded one at a time. Uses httpx; `transport` lets tests talk to an in-process app.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterable, Sequence

import httpx

from qa_app.conversation import Turn
from qa_app.errors import DocumentNotFoundError, QAError

TIMEOUT_S = 600.0  # indexing a large PDF on a busy server takes minutes


class RemoteQA:
    def __init__(self, url: str, *, token: str = "", transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._url = url.rstrip("/")
        self._http = httpx.Client(base_url=self._url, headers=headers, timeout=TIMEOUT_S, transport=transport)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise QAError(f"cannot reach the qa-app server at {self._url} ({exc}); start it with `qa-app serve` "
                          "or check --server") from None
        if response.status_code in (401, 403):
            raise QAError(f"the server at {self._url} refused the request ({response.status_code}: "
                          f"{_detail(response)}); give its token with --server-token or QA_SERVER_TOKEN")
        if response.status_code == 404 and path.startswith("/documents/"):
            raise DocumentNotFoundError(_detail(response))
        if response.status_code >= 400:
            raise QAError(f"the server at {self._url} says: {_detail(response)} ({response.status_code})")
        return response.json() if response.content else None

    def ask(self, question: str, history: Sequence[Turn] = (), top_k: int | None = None) -> dict[str, Any]:
        body = {"question": question, "history": [asdict(t) for t in history], "top_k": top_k}
        return dict(self._call("POST", "/ask", json=body))

    def upload(self, file: Path) -> dict[str, Any]:
        with open(file, "rb") as handle:
            outcomes = self._call("POST", "/documents", files=[("files", (file.name, handle))])["outcomes"]
        return dict(outcomes[0]) | {"name": str(file)}

    def index(self, paths: Iterable[str | Path]) -> list[dict[str, Any]]:
        """Outcomes in the shape of local indexing: files found locally and uploaded, bad paths skipped."""
        from indexing.loaders import discover_files

        files, problems = discover_files(list(paths))
        outcomes = [{"name": p, "status": "skipped", "reason": r} for p, r in problems]
        return outcomes + [self.upload(f) for f in files]

    def documents(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/documents")["documents"])

    def collections(self) -> dict[str, Any]:
        return dict(self._call("GET", "/collections"))

    def delete(self, doc_id: str) -> None:
        self._call("DELETE", f"/documents/{doc_id}")

    def close(self) -> None:
        self._http.close()


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    return str(detail)[:500]
