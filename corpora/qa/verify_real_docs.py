#!/usr/bin/env python3
"""Check the real-document QA benchmark, ``corpora/qa/real-docs.jsonl``.

The benchmark is a test set: questions written by hand for two long, real
manuals, each with exact answer spans and the 1-based physical page index
that holds them. This script checks, for every line of the file:

* the schema: exactly the keys ``id``, ``question``, ``answers``, ``source``,
  ``page`` and ``follows``, with the right types; ids unique and prefixed by
  the document's short name;
* that every answer span occurs verbatim in
  ``pypdf.PdfReader(path).pages[page - 1].extract_text()``;
* that unanswerable questions have ``answers: []`` and ``page: null``;
* that a follow-up (``follows`` not null) names an earlier id of the same
  document;

and, for every document, that its sha256 and page count are the recorded
ones. It prints the counts per document (answerable / unanswerable /
follow-ups) and exits 1 on any problem.

``R-intro.pdf`` is in ``corpora/docs/``. ``gnuplot.pdf`` is not copied into the
repository; install it with ``apt-get install gnuplot-doc`` (it lands in
``/usr/share/doc/gnuplot/``) or point ``--docs-dir`` at a folder holding it.

``--questions corpora/qa/real-docs-validation.jsonl`` checks the validation set
the same way: questions over two other manuals, ``R-exts.pdf`` and
``R-admin.pdf`` (``apt-get install r-doc-pdf``, in ``/usr/share/R/doc/manual/``),
on which settings that only real documents can tell apart are chosen; the test
set above is never used for choosing.

Page texts are cached per document sha256 and pypdf version (only the pages
the questions use), so runs after the first take well under a second per
document. Needs only the standard library and pypdf.

Usage::

    python corpora/qa/verify_real_docs.py [--docs-dir DIR] [--allow-missing]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_QUESTIONS = HERE / "real-docs.jsonl"
REPO_DOCS_DIR = HERE.parent / "docs"

# The pypdf version the answer spans were checked against when written.
WRITTEN_WITH_PYPDF = "7.1.1"

# The documents the questions were written for. ``in_repo`` documents live in
# corpora/docs/; the others are read from --docs-dir (default: their Debian
# install folder).
DOCUMENTS = {
    "R-intro.pdf": {
        "id_prefix": "rintro",
        "sha256": "337ccd0b490b1e66f7e783b45f4588d0599730b4206c0c051edfe1419c568c51",
        "pages": 113,
        "in_repo": True,
        "package": "r-doc-pdf",
        "version": "4.2.2.20221110-2",
        "debian_path": "/usr/share/R/doc/manual/R-intro.pdf",
    },
    "gnuplot.pdf": {
        "id_prefix": "gnuplot",
        "sha256": "df68dd0613f043141512fc4436d17aaf96727d5a758d85233915ac5056a97206",
        "pages": 311,
        "in_repo": False,
        "package": "gnuplot-doc",
        "version": "5.4.4+dfsg1-2",
        "debian_path": "/usr/share/doc/gnuplot/gnuplot.pdf",
    },
    # The validation set (real-docs-validation.jsonl) is written over other manuals than the test set.
    "R-exts.pdf": {
        "id_prefix": "rexts",
        "sha256": "792220b273d40e8629664d5dd0d6ae4151419d14f613a949aebe85b8c2a1f85c",
        "pages": 236,
        "in_repo": False,
        "package": "r-doc-pdf",
        "version": "4.2.2.20221110-2",
        "debian_path": "/usr/share/R/doc/manual/R-exts.pdf",
    },
    "R-admin.pdf": {
        "id_prefix": "radmin",
        "sha256": "50e256b5f873bbee4c8482df3754fa8654f02ef693409fe5e30b2f114e3efe9f",
        "pages": 85,
        "in_repo": False,
        "package": "r-doc-pdf",
        "version": "4.2.2.20221110-2",
        "debian_path": "/usr/share/R/doc/manual/R-admin.pdf",
    },
}

KEYS = ("id", "question", "answers", "source", "page", "follows")
ID_RE = re.compile(r"^([a-z0-9]+)-(\d{3,})$")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "qa-real-docs"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_line(lineno: int, raw: str, seen: dict, problems: list) -> dict | None:
    """Check one line's schema; return the record, or None if unusable."""
    where = f"line {lineno}"
    try:
        rec = json.loads(raw)
    except json.JSONDecodeError as e:
        problems.append(f"{where}: not valid JSON ({e})")
        return None
    if not isinstance(rec, dict):
        problems.append(f"{where}: not a JSON object")
        return None
    if set(rec) != set(KEYS):
        missing = sorted(set(KEYS) - set(rec))
        extra = sorted(set(rec) - set(KEYS))
        problems.append(f"{where}: wrong keys (missing {missing}, unexpected {extra})")
        return None

    qid = rec["id"]
    if not isinstance(qid, str) or not ID_RE.match(qid):
        problems.append(f"{where}: id {qid!r} is not of the form <prefix>-NNN")
        return None
    where = f"line {lineno} ({qid})"
    ok = True
    if qid in seen:
        problems.append(f"{where}: duplicate id (first on line {seen[qid]['_line']})")
        ok = False

    source = rec["source"]
    doc = DOCUMENTS.get(source) if isinstance(source, str) else None
    if doc is None:
        problems.append(f"{where}: unknown source {source!r} (known: {sorted(DOCUMENTS)})")
        ok = False
    elif ID_RE.match(qid).group(1) != doc["id_prefix"]:
        problems.append(f"{where}: id prefix should be {doc['id_prefix']!r} for {source}")
        ok = False

    q = rec["question"]
    if not isinstance(q, str) or not q.strip() or q != q.strip() or not q.endswith("?"):
        problems.append(f"{where}: question must be a non-empty, stripped string ending in '?'")
        ok = False

    answers = rec["answers"]
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        problems.append(f"{where}: answers must be a list of strings")
        ok = False
        answers = []
    else:
        for a in answers:
            if not a or a != a.strip() or "\n" in a:
                problems.append(f"{where}: answer {a!r} is empty, has edge whitespace or a newline")
                ok = False
        if len(set(answers)) != len(answers):
            problems.append(f"{where}: duplicate answers")
            ok = False

    page = rec["page"]
    if answers:
        if type(page) is not int:
            problems.append(f"{where}: answerable question needs an integer page, got {page!r}")
            ok = False
        elif doc is not None and not 1 <= page <= doc["pages"]:
            problems.append(f"{where}: page {page} outside 1..{doc['pages']}")
            ok = False
    elif page is not None:
        problems.append(f"{where}: unanswerable question (answers: []) must have page null")
        ok = False

    follows = rec["follows"]
    if follows is not None:
        if not isinstance(follows, str) or follows not in seen:
            problems.append(f"{where}: follows {follows!r}, which is not an earlier id")
            ok = False
        elif seen[follows]["source"] != source:
            problems.append(f"{where}: follows {follows}, a question about another document")
            ok = False
        elif follows == qid:
            problems.append(f"{where}: follows itself")
            ok = False

    rec["_line"] = lineno
    if qid not in seen:
        seen[qid] = rec
    return rec if ok else None


class PageTexts:
    """Page texts of one PDF, extracted with pypdf and cached on disk."""

    def __init__(self, path: Path, sha: str, cache_dir: Path | None):
        import pypdf

        self.path = path
        self.reader = None
        self.cache_file = None
        self.texts: dict[str, str] = {}
        self.count: int | None = None
        self.dirty = False
        if cache_dir is not None:
            self.cache_file = cache_dir / f"{sha}-pypdf-{pypdf.__version__}.json"
            try:
                cached = json.loads(self.cache_file.read_text(encoding="utf-8"))
                self.texts = dict(cached["pages"])
                self.count = int(cached["page_count"])
            except (OSError, ValueError, KeyError, TypeError):
                self.texts, self.count = {}, None

    def page_count(self) -> int:
        if self.count is None:
            import pypdf

            if self.reader is None:
                self.reader = pypdf.PdfReader(str(self.path))
            self.count = len(self.reader.pages)
            self.dirty = True
        return self.count

    def text(self, page: int) -> str:
        key = str(page)
        if key not in self.texts:
            import pypdf

            if self.reader is None:
                self.reader = pypdf.PdfReader(str(self.path))
            self.texts[key] = self.reader.pages[page - 1].extract_text()
            self.dirty = True
        return self.texts[key]

    def save(self) -> None:
        if self.cache_file is None or not self.dirty:
            return
        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_file.with_suffix(".tmp")
            cached = {"page_count": self.page_count(), "pages": self.texts}
            tmp.write_text(json.dumps(cached, ensure_ascii=False), encoding="utf-8")
            tmp.replace(self.cache_file)
        except OSError as e:
            print(f"note: could not write text cache {self.cache_file}: {e}", file=sys.stderr)


def locate(name: str, doc: dict, docs_dir: Path | None) -> Path | None:
    """The document in the repository, in `docs_dir`, or where its Debian package installs it."""
    candidates = [REPO_DOCS_DIR / name] if doc["in_repo"] else []
    candidates.append(docs_dir / name if docs_dir is not None else Path(doc["debian_path"]))
    for c in candidates:
        if c.is_file():
            return c
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS,
                    help="the JSON Lines file to check (default: %(default)s)")
    ap.add_argument("--docs-dir", type=Path, default=None,
                    help="folder holding the manuals that are not in the repository (default: where "
                         "their Debian packages install them, e.g. /usr/share/doc/gnuplot for gnuplot-doc)")
    ap.add_argument("--cache-dir", type=Path, default=default_cache_dir(),
                    help="where extracted page texts are cached (default: %(default)s)")
    ap.add_argument("--no-cache", action="store_true", help="neither read nor write the text cache")
    ap.add_argument("--allow-missing", action="store_true",
                    help="skip the answer and sha256 checks of a document that is not installed "
                         "instead of failing (the schema is still checked)")
    args = ap.parse_args(argv)

    try:
        import pypdf
    except ImportError:
        print("error: pypdf is not installed", file=sys.stderr)
        return 1

    problems: list[str] = []
    seen: dict[str, dict] = {}
    records: list[dict] = []
    try:
        lines = args.questions.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        print(f"error: cannot read {args.questions}: {e}", file=sys.stderr)
        return 1
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            problems.append(f"line {lineno}: blank line")
            continue
        rec = check_line(lineno, raw, seen, problems)
        if rec is not None:
            records.append(rec)

    print(f"{args.questions}: {len(lines)} lines; pypdf {pypdf.__version__}"
          + ("" if pypdf.__version__ == WRITTEN_WITH_PYPDF
             else f" (spans were checked with pypdf {WRITTEN_WITH_PYPDF}; text extraction may differ)"))

    cache_dir = None if args.no_cache else args.cache_dir
    totals = [0, 0, 0]
    for name, doc in DOCUMENTS.items():
        recs = [r for r in records if r["source"] == name]
        if not recs:
            continue  # a document another question file is about
        answerable = [r for r in recs if r["answers"]]
        n_un = len(recs) - len(answerable)
        n_fu = sum(1 for r in recs if r["follows"] is not None)
        totals[0] += len(answerable)
        totals[1] += n_un
        totals[2] += n_fu
        pages = sorted({r["page"] for r in answerable})
        span = f", pages {pages[0]}-{pages[-1]} ({len(pages)} distinct)" if pages else ""
        status = "ok"

        path = locate(name, doc, args.docs_dir)
        if path is None:
            msg = (f"{name}: not found in {args.docs_dir or Path(doc['debian_path']).parent}"
                   f" (install with: apt-get install {doc['package']}; "
                   f"then it is {doc['debian_path']})")
            if args.allow_missing:
                status = "SKIPPED (not installed)"
                print(f"note: {msg}", file=sys.stderr)
            else:
                problems.append(msg)
                status = "MISSING"
        else:
            sha = sha256_of(path)
            if sha != doc["sha256"]:
                problems.append(f"{name}: sha256 of {path} is {sha}, expected {doc['sha256']} "
                                f"({doc['package']} {doc['version']})")
                status = "WRONG FILE"
            else:
                texts = PageTexts(path, sha, cache_dir)
                n_pages = texts.page_count()
                if n_pages != doc["pages"]:
                    problems.append(f"{name}: pypdf counts {n_pages} pages, expected {doc['pages']}")
                bad = 0
                for r in answerable:
                    text = texts.text(r["page"])
                    for a in r["answers"]:
                        if a not in text:
                            bad += 1
                            problems.append(f"line {r['_line']} ({r['id']}): answer {a!r} "
                                            f"not on {name} page {r['page']}")
                texts.save()
                if bad:
                    status = f"{bad} answer(s) not found"
        print(f"  {name}: {len(answerable)} answerable, {n_un} unanswerable, "
              f"{n_fu} follow-ups{span} [{status}]")

    print(f"  total: {totals[0]} answerable, {totals[1]} unanswerable, {totals[2]} follow-ups, "
          f"{len(records)} valid of {len(lines)} lines")
    if problems:
        print(f"\n{len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
