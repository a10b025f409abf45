"""Settings: frozen dataclasses and the one loader that fills them.

Precedence, highest first: explicit overrides (CLI flags) > environment `QA_*` > config file
(TOML, `--config` or `./qa-app.toml`) > defaults below. Flat keys: every field of every section
is addressed by its own name (e.g. `QA_TOP_K=8`, `top_k = 8` in the file, `--top-k 8`).
This module reads files and the environment but imports nothing heavy.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from qa_app.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODELS_DIR = PROJECT_ROOT / "models"
ENCODER_ID = "sentence-transformers/all-MiniLM-L6-v2"
PRECISIONS = ("auto", "fp32", "bf16", "int8")  # ReaderConfig.precision (qa_app/readers/inference.py applies it)
CALIBRATIONS = ("documents", "squad")  # ReaderConfig.calibration
ENCODER_DIMENSION = 384  # all-MiniLM-L6-v2 sentence embedding size
DEFAULT_READER = "cascade"  # MiniLM reads every window, mpnet re-reads around its best answer (qa_app/readers/cascade.py)


@dataclass(frozen=True)
class ChunkingConfig:
    chunk_tokens: int = 200  # target chunk size in embedder word pieces
    overlap_tokens: int = 40  # word pieces shared by neighbouring chunks
    contextual: str = "header"  # what is embedded with a chunk: plain | header | neighbours | late


@dataclass(frozen=True)
class StoreConfig:
    data_dir: str = ".qa-data"  # embedded Chroma + BM25 live here (created on first use)
    collection: str = "documents"  # Chroma collection name
    chroma_host: str = ""  # set to use a Chroma server instead of the embedded store
    chroma_port: int = 8000  # port of the Chroma server (or of the proxy in front of it)
    chroma_token: str = ""  # bearer token sent to the authenticating proxy in front of the server
    chroma_ssl: bool = False  # https to the proxy
    ray_address: str = ""  # a Ray cluster (host:port) for `qa-app index` and `qa-app eval`; "" = this process
    max_file_mb: float = 200.0  # files above this size are refused (MB = 1024 * 1024 bytes)
    encode_batch_size: int = 64  # chunks per encoder batch
    lock_timeout_s: float = 30.0  # how long to wait for another process holding the embedded store
    # HNSW candidates per query, fixed when a collection is created: more = better recall in big stores, slower
    ef_search: int = 100


@dataclass(frozen=True)
class RetrievalConfig:
    retriever: str = "hybrid"  # hybrid | dense | sparse
    top_k: int = 5  # retrieval hits turned into windows
    candidates: int = 30  # hits fetched from each retriever before fusion
    rrf_k: int = 60  # reciprocal rank fusion constant
    dense_weight: float = 1.0  # weight of the dense ranking in fusion
    sparse_weight: float = 2.0  # weight of the BM25 ranking in fusion (chosen on validation: bench/retrieval_variants.py)
    window_chunks: int = 1  # neighbouring chunks added on each side of a hit
    token_budget: int = 640  # total reader word pieces per question (chosen on validation: docs/readers.md)
    max_per_document: int = 3  # windows from one document (diversity)
    dynamic: bool = True  # reader-driven window growth
    max_growth_steps: int = 2  # growth steps per question
    # also grow the first-ranked window when the reader abstains (off: it cost about 1 F1 on the real-document
    # validation set, docs/readers.md)
    grow_on_abstention: bool = False


@dataclass(frozen=True)
class ReaderConfig:
    reader: str = DEFAULT_READER  # a name of qa_app/readers/registry.py READERS
    models_dir: str = str(DEFAULT_MODELS_DIR)  # where trained checkpoints live
    max_answer_tokens: int = 30  # longest answer in word pieces
    n_best: int = 20  # start/end candidates per window
    null_threshold: float | None = None  # None: the checkpoint's threshold for `calibration`
    # which no-answer threshold of the checkpoint applies: documents = chosen on real manuals whose questions are
    # mostly answerable (answers more often) | squad = chosen on SQuAD v2 validation, half unanswerable (abstains
    # more; SQuAD evaluations in gold and open mode always use it)
    calibration: str = "documents"
    max_question_tokens: int = 64  # longer questions are cut to this many word pieces
    whole_words: bool = True  # answer edges cut inside a word move to its edges (qa_app/readers/word_edges.py)
    # the cascade reader (qa_app/readers/cascade.py): its accurate reader re-reads this many passages of about
    # cascade_tokens word pieces, each centred on one of the fast reader's best answers
    cascade_rereads: int = 1
    cascade_tokens: int = 192
    batch_size: int = 32  # windows per forward pass (the training export scores with the same batching)
    # auto: the reader's own default (qa_app/readers/registry.py; bf16 autocast only where the CPU has native
    # bf16) | fp32 | bf16 (forced) | int8 (Linear layers quantised at load)
    precision: str = "auto"


@dataclass(frozen=True)
class ServerConfig:
    server_host: str = "127.0.0.1"  # where `qa-app serve` listens; beyond loopback it needs server_token
    server_port: int = 8700  # its port
    server_token: str = ""  # bearer token every request but /health must carry (QA_SERVER_TOKEN); "" = none
    server_url: str = ""  # `qa-app ask/index/docs` talk to this running server instead of opening the store


@dataclass(frozen=True)
class Settings:
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    reader: ReaderConfig = field(default_factory=ReaderConfig)
    server: ServerConfig = field(default_factory=ServerConfig)

    def hash(self) -> str:
        """Short stable hash of every setting but where the work runs (`ray_address`: a run on a Ray
        cluster gives the same results), for stamping runs and cache keys."""
        values = dataclasses.asdict(self)
        del values["store"]["ray_address"]
        blob = json.dumps(values, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def replace(self, **overrides: Any) -> "Settings":
        """A copy with flat overrides applied (same keys as the loader)."""
        return _apply(self, overrides, origin="override")


_SECTIONS = ("chunking", "store", "retrieval", "reader", "server")


def _field_index() -> dict[str, tuple[str, dataclasses.Field[Any]]]:
    index: dict[str, tuple[str, dataclasses.Field[Any]]] = {}
    for section in fields(Settings):
        for f in fields(_section_type(section.name)):
            index[f.name] = (section.name, f)
    return index


def _section_type(name: str) -> type:
    return {"chunking": ChunkingConfig, "store": StoreConfig,
            "retrieval": RetrievalConfig, "reader": ReaderConfig, "server": ServerConfig}[name]


def _coerce(name: str, f: dataclasses.Field[Any], value: Any, origin: str) -> Any:
    default: Any = f.default  # every settings field has a plain default (no default_factory)
    kind: type = type(default) if default is not None else float
    if isinstance(value, str) and kind is not str:
        text = value.strip()
        try:
            if kind is bool:
                if text.lower() in ("1", "true", "yes", "on"):
                    return True
                if text.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(text)
            if default is None and text.lower() in ("", "none", "auto"):
                return None
            return kind(text)
        except ValueError:
            raise ConfigError(f"{origin}: {name} must be a {kind.__name__}, got {value!r}") from None
    if isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"{origin}: {name} must be a {kind.__name__}, got {value!r}")
    if kind is float and isinstance(value, int):
        return float(value)
    if value is not None and not isinstance(value, kind):
        raise ConfigError(f"{origin}: {name} must be a {kind.__name__}, got {value!r}")
    return value


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else ""


def _apply(settings: Settings, flat: Mapping[str, Any], origin: str | Callable[[str], str]) -> Settings:
    """`origin` names where the values come from in error messages (or, given a key, where that key came from)."""
    index = _field_index()
    where = origin if callable(origin) else (lambda _key: origin)
    per_section: dict[str, dict[str, Any]] = {s: {} for s in _SECTIONS}
    for key, value in flat.items():
        key = key.replace("-", "_")
        if key not in index:
            raise ConfigError(f"{where(key)}: unknown setting {key!r}{_did_you_mean(key, index)} "
                              f"(known: {', '.join(sorted(index))})")
        section, f = index[key]
        per_section[section][key] = _coerce(key, f, value, where(key))
    updated = {s: dataclasses.replace(getattr(settings, s), **v) for s, v in per_section.items() if v}
    result = dataclasses.replace(settings, **updated)
    _validate(result)
    return result


def _validate(s: Settings) -> None:
    c, r = s.chunking, s.retrieval
    if c.chunk_tokens < 16:
        raise ConfigError("chunk_tokens must be at least 16")
    if not 0 <= c.overlap_tokens < c.chunk_tokens:
        raise ConfigError("overlap_tokens must be >= 0 and smaller than chunk_tokens")
    if c.contextual not in ("plain", "header", "neighbours", "late"):
        raise ConfigError("contextual must be one of plain, header, neighbours, late")
    if r.retriever not in ("hybrid", "dense", "sparse"):
        raise ConfigError("retriever must be one of hybrid, dense, sparse")
    if r.top_k < 1 or r.candidates < 1:
        raise ConfigError("top_k and candidates must be at least 1")
    if min(r.dense_weight, r.sparse_weight) < 0 or max(r.dense_weight, r.sparse_weight) <= 0:
        raise ConfigError("dense_weight and sparse_weight must be >= 0 and not both 0")
    if r.window_chunks < 0 or r.token_budget < 64 or r.max_per_document < 1:
        raise ConfigError("window_chunks >= 0, token_budget >= 64 and max_per_document >= 1 are required")
    if s.store.ef_search < 1:
        raise ConfigError("ef_search must be at least 1")
    if s.reader.precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}")
    if s.reader.calibration not in CALIBRATIONS:
        raise ConfigError(f"calibration must be one of {', '.join(CALIBRATIONS)}")
    if s.reader.cascade_rereads < 1 or s.reader.cascade_tokens < 16:
        raise ConfigError("cascade_rereads >= 1 and cascade_tokens >= 16 are required")


NON_SETTING_VARIABLES = frozenset({"QA_CONFIG", "QA_CACHE_DIR", "QA_CHROMIUM"})  # read elsewhere, not settings
NON_SETTING_PREFIXES = ("QA_TEST_", "QA_REQUIRE_")  # the test suite's own switches


def _env_overrides(environ: Mapping[str, str]) -> dict[str, str]:
    """Settings from `QA_<FIELD>` variables. A QA_ variable that is no setting but looks like one
    (QA_TOPK) is an error with the likely name; others are left alone (another tool's)."""
    index = _field_index()
    found = {}
    for key, value in environ.items():
        if not key.startswith("QA_") or key in NON_SETTING_VARIABLES or key.startswith(NON_SETTING_PREFIXES):
            continue
        name = key[3:].lower()
        if name in index:
            found[name] = value
        elif hint := _did_you_mean(key, [f"QA_{n.upper()}" for n in index]):
            raise ConfigError(f"environment variable {key} is not a setting{hint}")
    return found


def _file_overrides(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(value)  # sections are optional: [retrieval] top_k = 8 == top_k = 8
        else:
            flat[key] = value
    return flat


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build Settings from defaults, a config file, `QA_*` variables and explicit overrides."""
    environ = os.environ if environ is None else environ
    settings = Settings()
    path = Path(config_file) if config_file else None
    if path is None and environ.get("QA_CONFIG"):
        path = Path(environ["QA_CONFIG"])
    if path is None and Path("qa-app.toml").is_file():
        path = Path("qa-app.toml")
    if path is not None:
        settings = _apply(settings, _file_overrides(path), origin=str(path))
    settings = _apply(settings, _env_overrides(environ), origin=lambda key: f"environment variable QA_{key.upper()}")
    clean = {k: v for k, v in (overrides or {}).items() if v is not None}
    return _apply(settings, clean, origin="command line")


def offline_environment() -> None:
    """No hub at run time: models come from installed packages or this project.
    Also silences the libraries' own progress bars; ours show progress instead."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
