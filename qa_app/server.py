"""`qa-app serve`: the HTTP API (FastAPI) over one `qa_app.api.QA`, models loaded once.

Endpoints (OpenAPI docs at /docs): `GET /health`; `POST /ask`; `GET /documents`, `POST /documents`
(multipart upload, the same size limit and skipped-file reasons as the CLI and the web app),
`DELETE /documents/{doc_id}`; `GET /collections`; `POST /evaluate` (a question file). One server
process owns the embedded store; requests run in FastAPI's thread pool, so questions are answered
while an upload is indexed (the store shows whole documents or nothing).

Authentication: with a token configured (`--token`, `QA_SERVER_TOKEN`) every endpoint but /health
needs `Authorization: Bearer <token>` (compared in constant time): none is 401, a wrong one 403.
Listening on anything but loopback without a token is refused (`check_exposure`). No CORS headers
are sent, so browsers on other sites cannot call it. Imports fastapi: only `qa-app serve` loads it.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from indexing.loaders import safe_source_name
from qa_app import __version__
from qa_app.api import QA
from qa_app.conversation import Turn
from qa_app.errors import ConfigError, DocumentNotFoundError, QAError, StoreLockedError
from qa_app.serialize import answer_to_json

READ_CHUNK = 1 << 20
MAX_FILES_PER_UPLOAD = 100
MAX_QUESTION_FILE_BYTES = 20 << 20


class TurnIn(BaseModel):
    question: str
    answer: str = ""
    doc_id: str = Field(default="", description="the document the answer was cited from (its answers[0].doc_id)")
    chunk: int = Field(default=-1, description="the chunk it was cited from (answers[0].chunk); follow-ups search near it")


class AskIn(BaseModel):
    question: str = Field(description="the question; asked over the whole collection")
    history: list[TurnIn] = Field(default_factory=list, description="earlier turns of the conversation, oldest first")
    top_k: int | None = Field(default=None, ge=1, le=50, description="retrieval hits read (default: the server's)")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: str | None) -> None:
    """ConfigError when the server would listen beyond this machine without a token."""
    if not is_loopback(host) and not token:
        raise ConfigError(f"qa-app serve would listen on {host} without authentication; set a bearer token "
                          "(--token or QA_SERVER_TOKEN) or listen on 127.0.0.1")


def upload_name(raw: str | None) -> str:
    """The file name of an upload as the loader shows it (`safe_source_name`: no folder part, no
    control characters); "upload" when none was given."""
    return safe_source_name(raw) if raw and raw.strip() else "upload"


def create_server(qa: QA, *, token: str | None, max_upload_bytes: int) -> FastAPI:
    app = FastAPI(title="qa-app", version=__version__,
                  description="Ask questions about your documents; get exact, cited answer spans.")
    expected = token.encode() if token else None

    def authorize(request: Request) -> None:
        if expected is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if not header:
            raise HTTPException(401, "missing bearer token: send 'Authorization: Bearer <token>'",
                                headers={"WWW-Authenticate": "Bearer"})
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            raise HTTPException(403, "wrong bearer token")

    guarded = [Depends(authorize)]

    @app.exception_handler(QAError)
    def user_error(_: Request, exc: QAError) -> JSONResponse:
        status = 404 if isinstance(exc, DocumentNotFoundError) else 503 if isinstance(exc, StoreLockedError) else 400
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/ask", dependencies=guarded)
    def ask(body: AskIn) -> dict[str, Any]:
        answer = qa.ask(body.question, [Turn(**t.model_dump()) for t in body.history], top_k=body.top_k)
        return answer_to_json(answer)

    @app.get("/documents", dependencies=guarded)
    def documents() -> dict[str, Any]:
        return {"documents": [_document_json(d) for d in qa.documents()]}

    @app.get("/collections", dependencies=guarded)
    def collections() -> dict[str, Any]:
        return {"current": qa.settings.store.collection, "collections": qa.collections()}

    @app.post("/documents", dependencies=guarded)
    def upload(files: list[UploadFile] = File(description="PDF, DOCX, HTML, text or Markdown files")) -> dict[str, Any]:
        if len(files) > MAX_FILES_PER_UPLOAD:
            raise HTTPException(413, f"at most {MAX_FILES_PER_UPLOAD} files per request")
        outcomes: list[dict[str, Any]] = []
        for file in files:
            name = upload_name(file.filename)
            data = _read_limited(file, max_upload_bytes)
            if data is None:
                outcomes.append({"name": name, "status": "skipped", "reason": f"over the size limit of "
                                 f"{max_upload_bytes / (1 << 20):g} MB; split the file or raise max_file_mb"})
                continue
            outcome = qa.index_bytes(data, name)
            outcomes.append({"name": name, "status": outcome.status, "doc_id": outcome.doc_id, "source": outcome.source,
                             "pages": outcome.pages, "chunks": outcome.chunks, "reason": outcome.reason,
                             "replaced_id": outcome.replaced_id})
        return {"outcomes": outcomes}

    @app.delete("/documents/{doc_id}", dependencies=guarded, status_code=204)
    def delete(doc_id: str) -> Response:
        qa.delete(doc_id)
        return Response(status_code=204)

    @app.post("/evaluate", dependencies=guarded)
    def evaluate(file: UploadFile = File(description="a question file: CSV, JSONL or SQuAD JSON"),
                 limit: int | None = Form(default=None, ge=1)) -> dict[str, Any]:
        from qa_app.data.questions import parse_questions

        data = _read_limited(file, MAX_QUESTION_FILE_BYTES)
        if data is None:
            raise HTTPException(413, f"question files are limited to {MAX_QUESTION_FILE_BYTES >> 20} MB")
        return qa.evaluate(parse_questions(data, upload_name(file.filename)), limit=limit)

    return app


def _read_limited(file: UploadFile, limit: int) -> bytes | None:
    """The upload's bytes, or None as soon as it is over `limit` (never reads more than limit + 1 MB)."""
    parts, size = [], 0
    while chunk := file.file.read(READ_CHUNK):
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


def _document_json(d: Any) -> dict[str, Any]:
    return {"id": d.id, "source": d.source, "title": d.title, "pages": d.pages, "chunks": d.chunks,
            "indexed_at": d.indexed_at}


def serve(qa: QA, *, host: str, port: int, token: str | None, max_upload_bytes: int,
          log: Any = print) -> None:
    """Load the models, then serve until interrupted."""
    import uvicorn

    check_exposure(host, token)
    log(f"qa-app: loading the encoder and the {qa.settings.reader.reader} reader ...")
    qa.load_models()
    log(f"qa-app: serving on http://{host}:{port} (API docs at /docs; authentication "
        f"{'on' if token else 'off: loopback only'})")
    uvicorn.run(create_server(qa, token=token, max_upload_bytes=max_upload_bytes), host=host, port=port,
                log_level="warning")
