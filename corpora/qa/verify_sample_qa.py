"""Check corpora/qa/sample-qa.json against the documents in corpora/docs.

Checks the SQuAD v2.0 shape, that every context is an exact passage of its document
(a whole page's `pypdf` text, right-stripped, for PDFs; a blank-line separated paragraph
for .txt/.md), that every answer_start is exact, and that every `page` is the 1-based
PDF page whose text holds the answer (1 for .txt/.md). Needs pypdf; exits non-zero on failure.

Usage: python corpora/qa/verify_sample_qa.py [path/to/qa.json]
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

import pypdf

DOCS = Path(__file__).resolve().parent.parent / "docs"


def main(qa_path: Path) -> int:
    squad = json.loads(qa_path.read_text(encoding="utf-8"))
    errors: list[str] = []
    assert squad["version"] == "v2.0", squad["version"]
    counts: Counter[str] = Counter()
    ids: Counter[str] = Counter()
    for art in squad["data"]:
        doc = DOCS / art["title"]
        if doc.suffix == ".pdf":
            pages = [p.extract_text().rstrip() for p in pypdf.PdfReader(doc).pages]
        else:
            text = doc.read_text(encoding="utf-8")
            paragraphs = set(p for p in re.split(r"\n\s*\n", text) if p.strip())
        for para in art["paragraphs"]:
            ctx = para["context"]
            if doc.suffix == ".pdf":
                ctx_pages = [i + 1 for i, t in enumerate(pages) if t == ctx]
                if not ctx_pages:
                    errors.append(f"{art['title']}: context is not a page's extracted text")
            elif ctx not in paragraphs:
                errors.append(f"{art['title']}: context is not a paragraph of the file")
            for q in para["qas"]:
                ids[q["id"]] += 1
                tag = f"{art['title']} {q['id']}"
                page = q["page"]
                if q["is_impossible"]:
                    counts["unanswerable"] += 1
                    if q["answers"]:
                        errors.append(f"{tag}: impossible question has answers")
                else:
                    counts["answerable"] += 1
                    if not q["answers"]:
                        errors.append(f"{tag}: answerable question has no answer")
                for a in q["answers"]:
                    s, t = a["answer_start"], a["text"]
                    if ctx[s:s + len(t)] != t:
                        errors.append(f"{tag}: answer_start {s} does not give {t!r}")
                    if doc.suffix == ".pdf" and t not in pages[page - 1]:
                        errors.append(f"{tag}: {t!r} not on PDF page {page}")
                if doc.suffix == ".pdf":
                    if ctx_pages and page not in ctx_pages:
                        errors.append(f"{tag}: page {page} but context is page(s) {ctx_pages}")
                elif page != 1:
                    errors.append(f"{tag}: page must be 1 for {doc.suffix}")
        counts["articles"] += 1
    errors += [f"duplicate id {i}" for i, n in ids.items() if n > 1]
    print(f"{qa_path.name}: {counts['articles']} documents, "
          f"{counts['answerable'] + counts['unanswerable']} questions "
          f"({counts['answerable']} answerable, {counts['unanswerable']} unanswerable)")
    for e in errors:
        print("ERROR", e)
    print("OK" if not errors else f"{len(errors)} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    default = Path(__file__).resolve().parent / "sample-qa.json"
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else default))
