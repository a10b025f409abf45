"""How chunks and registry rows are stored as Chroma metadata (flat str/int values) and read back."""

from __future__ import annotations

import json
from typing import Any, Mapping

from indexing.stores.memory import replace_surrogates
from qa_app.types import Chunk, DocumentInfo


def chunk_metadata(chunk: Chunk, source: str) -> dict[str, str | int]:
    return {
        "doc_id": chunk.doc_id,
        "index": chunk.index,
        "start": chunk.start,
        "end": chunk.end,
        "page": chunk.page,
        "header": chunk.header,
        "gap_before": chunk.gap_before,
        "source": source,
    }


def chunk_from(meta: Mapping[str, Any], text: str | None) -> Chunk:
    return Chunk(
        doc_id=str(meta["doc_id"]),
        index=int(meta["index"]),
        text=text or "",
        start=int(meta["start"]),
        end=int(meta["end"]),
        page=int(meta["page"]),
        header=str(meta.get("header") or ""),
        gap_before=str(meta.get("gap_before") or ""),
    )


def info_metadata(info: DocumentInfo) -> dict[str, str | int]:
    return {
        "source": info.source,
        "title": info.title,
        "pages": info.pages,
        "chunks": info.chunks,
        "chars": info.chars,
        "indexed_at": replace_surrogates(info.indexed_at),
        "page_starts": json.dumps(list(info.page_starts)),
        "origin": replace_surrogates(info.origin),
    }


def info_from(doc_id: str, meta: Mapping[str, Any] | None) -> DocumentInfo:
    meta = meta or {}
    return DocumentInfo(
        id=doc_id,
        source=str(meta.get("source", "")),
        title=str(meta.get("title", "")),
        pages=int(meta.get("pages", 1)),
        chunks=int(meta.get("chunks", 0)),
        chars=int(meta.get("chars", 0)),
        indexed_at=str(meta.get("indexed_at", "")),
        page_starts=tuple(int(p) for p in json.loads(str(meta.get("page_starts", "[0]")))),
        origin=str(meta.get("origin", "")),
    )
