"""Peak memory (RSS) when indexing long generated PDFs with the real encoder, one fresh child
process per size, each into a fresh embedded data dir. Prints one JSON object (progress on stderr).

    python bench/index_memory.py [--pages 500,1000,2000,4000] [--words-per-page 350] [--seed 0]

Each PDF holds deterministic pseudo-random prose (sentences drawn from a word list, so every chunk
differs), one page per generated page of text. A child process builds the App (real
all-MiniLM-L6-v2, Chroma, BM25), loads the encoder and opens the store, records that baseline RSS,
resets its peak (`/proc/self/clear_refs`), runs `indexer.index_paths([pdf])` and reports `VmHWM`:
the peak RSS while indexing, model included. Target: <= 1.5 GB (1536 MiB), flat in page count.
MB here means MiB. Generating the PDFs (fpdf2) happens in the parent and is not measured.

This module also provides the prose/PDF generator that `bench/indexing_throughput.py` uses.
It changes nothing in the project; everything it writes lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TARGET_MB = 1536.0

# Everyday English words; drawn with Zipf-like weights so the text has common and rare words.
WORDS = """
the of and to in a is that for it as was with be by on not he this are or his from at which but
have an they you were her she there been one all we their has would when if so no will can more
its about other into than them these some could time only new may first any like two then
people water river city council report year state government market committee village school
system harbour bridge station engine survey measure record sample season winter summer
morning evening valley mountain island coast forest field garden village road railway canal
museum library archive letter notice chapter section table figure method result value answer
question problem reason example account process product company office worker farmer teacher
doctor engineer captain officer student writer painter musician merchant sailor soldier
king queen prince bishop mayor judge senator minister president governor clerk keeper
stone iron copper silver gold timber grain cotton wool salt coal oil glass paper cloth
north south east west upper lower inner outer early late long short high low great small
old young ancient modern local national public private common rare simple complex careful
built opened closed moved carried measured recorded described wrote found lost kept held
raised lowered crossed reached followed returned bought sold paid owed traded shipped
increased reduced changed improved repaired replaced extended divided joined signed
because although while during after before since until unless whether between among
through across along around within without against toward beneath beyond despite
alpaca zeppelin quokka lighthouse observatory aqueduct windmill granary foundry tannery
cathedral monastery fortress citadel boulevard terrace pavilion orchard vineyard meadow
glacier estuary lagoon plateau canyon delta marsh tundra savanna prairie archipelago
telescope barometer sextant compass chronometer lantern furnace loom anvil crucible
""".split()
NAMES = ("Adler Brandt Castell Duval Eriksen Fontaine Garrido Halloran Ishikawa Janssen Kowalski "
         "Lindqvist Moreau Novak Okafor Petrov Quintana Rossi Sandoval Takahashi Umarov Varga "
         "Whitfield Xavier Yilmaz Zeller").split()


def prose_page(rng: random.Random, words: int) -> str:
    """About `words` words of varied prose in paragraphs (Latin-1 only, for fpdf2 core fonts)."""
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(WORDS))]
    paragraphs: list[str] = []
    count = 0
    while count < words:
        sentences = []
        for _ in range(rng.randint(3, 6)):
            n = rng.randint(8, 24)
            picked = rng.choices(WORDS, weights=weights, k=n)
            if rng.random() < 0.4:  # a name and a number make chunks distinguishable, like real text
                picked[rng.randrange(n)] = rng.choice(NAMES)
            if rng.random() < 0.3:
                picked[rng.randrange(n)] = str(rng.randint(2, 2024))
            if n > 10 and rng.random() < 0.5:
                picked[rng.randrange(3, n - 3)] += ","
            sentence = " ".join(picked)
            sentences.append(sentence[0].upper() + sentence[1:] + rng.choice("....!?"))
            count += n
            if count >= words:
                break
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs)


def prose_pages(pages: int, *, words_per_page: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [prose_page(rng, words_per_page) for _ in range(pages)]


def write_prose_pdf(path: Path, pages: int, *, words_per_page: int, seed: int) -> Path:
    """A PDF of `pages` pages of generated prose at `path` (fpdf2, via tests/pdf_factory)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.pdf_factory import make_text_pdf

    path.write_bytes(make_text_pdf(prose_pages(pages, words_per_page=words_per_page, seed=seed),
                                   title=f"Generated prose, {pages} pages"))
    return path


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _mb(kb: int) -> float:
    return round(kb / 1024, 1)


def child(pdf: str, data_dir: str) -> int:
    """Index one PDF in this (fresh) process; print one JSON line with the RSS figures."""
    t0 = time.perf_counter()
    from qa_app.config import Settings
    from qa_app.wiring import App

    app = App(Settings().replace(data_dir=data_dir))
    app.encoder.encode(["warm-up"])  # load the model: part of the baseline, not of indexing
    indexer = app.indexer  # opens Chroma and the BM25 index
    setup_s = time.perf_counter() - t0
    startup_peak_kb = _status_kb("VmHWM")
    baseline_kb = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS: what follows is the indexing peak
    last = [0.0]

    def progress(event: Any) -> None:
        now = time.perf_counter()
        if now - last[0] > 10 or event.done == event.total:
            last[0] = now
            print(f"  {event.stage} {event.done}/{event.total}  rss={_mb(_status_kb('VmRSS'))} MB",
                  file=sys.stderr, flush=True)

    t1 = time.perf_counter()
    outcomes = indexer.index_paths([pdf], progress=progress)
    index_s = time.perf_counter() - t1
    peak_kb = _status_kb("VmHWM")
    outcome = outcomes[0]
    print(json.dumps({
        "status": outcome.status, "reason": outcome.reason, "pages": outcome.pages, "chunks": outcome.chunks,
        "setup_s": round(setup_s, 2), "index_s": round(index_s, 2),
        "chunks_per_s": round(outcome.chunks / index_s, 2) if index_s else None,
        "baseline_rss_mb": _mb(baseline_kb), "startup_peak_rss_mb": _mb(startup_peak_kb),
        "indexing_peak_rss_mb": _mb(peak_kb), "indexing_growth_mb": _mb(peak_kb - baseline_kb),
        "end_rss_mb": _mb(_status_kb("VmRSS")),
    }))
    return 0 if outcome.status == "added" else 1


def slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of ys over xs (None with fewer than two distinct xs)."""
    if len(set(xs)) < 2:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", default="500,1000,2000", help="comma-separated page counts")
    ap.add_argument("--words-per-page", type=int, default=350)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--child", nargs=2, metavar=("PDF", "DATA_DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(*args.child)
    sizes = [int(p) for p in args.pages.split(",") if p.strip()]
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-index-memory-", ignore_cleanup_errors=True) as tmp:
        for pages in sizes:
            t = time.perf_counter()
            pdf = write_prose_pdf(Path(tmp) / f"prose-{pages}.pdf", pages,
                                  words_per_page=args.words_per_page, seed=args.seed)
            print(f"[{pages} pages] PDF of {pdf.stat().st_size / 2**20:.1f} MB generated in "
                  f"{time.perf_counter() - t:.1f}s; indexing in a child process", file=sys.stderr, flush=True)
            proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(pdf),
                                   str(Path(tmp) / f"data-{pages}")],
                                  stdout=subprocess.PIPE, text=True, cwd=str(REPO), check=False)
            lines = proc.stdout.strip().splitlines()
            if proc.returncode != 0 or not lines:
                print(json.dumps({"benchmark": "index_memory", "error": f"child for {pages} pages exited "
                                  f"{proc.returncode}", "stdout": proc.stdout[-2000:]}))
                return 1
            run = {"requested_pages": pages, "pdf_mb": round(pdf.stat().st_size / 2**20, 2), **json.loads(lines[-1]),
                   # cumulative: the largest child so far (a cross-check of VmHWM, not per size)
                   "rusage_children_maxrss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}
            runs.append(run)
            print(f"[{pages} pages] {json.dumps(run)}", file=sys.stderr, flush=True)
    peaks = [r["indexing_peak_rss_mb"] for r in runs]
    per_page = slope([float(r["pages"]) for r in runs], peaks)
    result = {
        "benchmark": "index_memory",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "words_per_page": args.words_per_page, "seed": args.seed,
        "runs": runs,
        "max_peak_rss_mb": max(peaks),
        "slope_mb_per_1000_pages": round(per_page * 1000, 1) if per_page is not None else None,
        "growth_smallest_to_largest_mb": round(peaks[-1] - peaks[0], 1),
        "target_mb": TARGET_MB,
        "meets_target": max(peaks) <= TARGET_MB,
    }
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
