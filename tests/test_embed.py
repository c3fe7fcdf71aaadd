"""Embeddings without the model: sqlite cache, function index, the service's scheduling.

Test data: tests/fixtures/workspace/*.s and small hand-written functions below; vectors
are hand-made (index) or a deterministic hash of the normalised text (service).
"""
from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest

from asm_lsp.embed.index import FunctionEntry, FunctionIndex, Similar, extract_functions
from asm_lsp.embed.service import EMBED_BATCH, SimilarFunctions, embedding_summary, sparkline
from asm_lsp.embed.store import FILE_NAME, EmbeddingStore, text_sha
from asm_lsp.settings import Settings
from asm_lsp.syntax.outline import OUTLINE_CHARS, OUTLINE_LINES

FIXTURES = Path(__file__).parent / "fixtures" / "workspace"

ADD = """\t.text
\t.globl\tadd2
\t.type\tadd2, %function
add2:
\tadd\tw0, w0, w1   // sum
\tret
\t.size\tadd2, .-add2
"""


# ---------------------------------------------------------------- store

def vec(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float32)


def test_store_round_trip_is_float16(tmp_path):
    store = EmbeddingStore(tmp_path / FILE_NAME)
    v = np.linspace(-3, 3, 896).astype(np.float32)
    store.put("a" * 64, v, "m1")
    store.close()
    again = EmbeddingStore(tmp_path / FILE_NAME)
    got = again.get("a" * 64, "m1")
    assert got is not None and got.dtype == np.float32
    np.testing.assert_allclose(got, v.astype(np.float16).astype(np.float32))
    assert again.get("a" * 64, "other-model") is None
    assert again.count("m1") == 1 and again.note == ""
    assert again._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_store_corrupt_file_is_moved_aside_and_rebuilt(tmp_path):
    path = tmp_path / FILE_NAME
    path.write_bytes(b"this is not a database" * 100)
    store = EmbeddingStore(path)
    assert "moved to" in store.note
    store.put("b" * 64, vec(1, 2), "m")
    assert store.get("b" * 64, "m") is not None
    asides = list(tmp_path.glob(FILE_NAME + ".bad-*"))
    assert len(asides) == 1 and asides[0].read_bytes().startswith(b"this is not")


def test_store_locked_file_falls_back_to_memory_and_leaves_it_alone(tmp_path, monkeypatch):
    path = tmp_path / FILE_NAME
    EmbeddingStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr("asm_lsp.embed.store._BUSY_TIMEOUT_S", 0.1)
    try:
        store = EmbeddingStore(path)
        assert "locked" in store.note and "memory" in store.note
        store.put("c" * 64, vec(3, 4), "m")
        assert store.get("c" * 64, "m") is not None
        assert not list(tmp_path.glob(FILE_NAME + ".bad-*"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_store_file_replaced_mid_session_is_rebuilt(tmp_path):
    path = tmp_path / FILE_NAME
    store = EmbeddingStore(path)
    store.put("d" * 64, vec(1, 1), "m")
    store._db.close()  # as if the connection broke under us
    assert store.get("d" * 64, "m") is None  # no raise
    store.put("e" * 64, vec(2, 2), "m")
    assert store.get("e" * 64, "m") is not None


# ---------------------------------------------------------------- index

def entry(uri: str, name: str, line: int = 0, text: str | None = None) -> FunctionEntry:
    text = text if text is not None else f"{uri}/{name}"
    return FunctionEntry(uri, name, line, line, line + 3, text_sha(text), text)


def test_index_top_k_against_hand_made_vectors():
    index = FunctionIndex()
    entries = [entry("file:///a.s", "q"), entry("file:///a.s", "near", 10), entry("file:///b.s", "mid", 5),
               entry("file:///b.s", "far", 9), entry("file:///b.s", "opposite", 20)]
    index.set_document("file:///a.s", entries[:2])
    index.set_document("file:///b.s", entries[2:])
    vectors = {entries[0].sha: vec(1, 0, 0), entries[1].sha: vec(10, 1, 0),  # norm must not matter
               entries[2].sha: vec(1, 1, 0), entries[3].sha: vec(0, 0, 1), entries[4].sha: vec(-1, 0, 0)}
    assert index.set_vectors(vectors) == 5
    got = index.similar("file:///a.s", "q", 3)
    s = 1 / np.sqrt(2)
    assert [(g.uri, g.name, g.line) for g in got] == [("file:///a.s", "near", 10), ("file:///b.s", "mid", 5),
                                                       ("file:///b.s", "far", 9)]
    np.testing.assert_allclose([g.score for g in got], [10 / np.sqrt(101), s, 0.0], atol=1e-6)
    assert index.similar("file:///a.s", "q", 10)[-1] == Similar("file:///b.s", "opposite", 20, pytest.approx(-1.0))
    assert index.counts() == (5, 5)


def test_index_update_keeps_unchanged_vectors_and_drops_removed():
    index = FunctionIndex()
    a, b = entry("file:///a.s", "f"), entry("file:///a.s", "g")
    index.set_document("file:///a.s", [a, b])
    index.set_vectors({a.sha: vec(1, 0), b.sha: vec(0, 1)})
    changed = entry("file:///a.s", "g", text="new body")
    index.set_document("file:///a.s", [a, changed])
    assert index.vector("file:///a.s", "f") is not None
    assert index.vector("file:///a.s", "g") is None
    assert index.missing() == [changed] and index.counts() == (1, 2)
    index.remove_document("file:///a.s")
    assert index.counts() == (0, 0) and index.query(vec(1, 0), 5) == []


def test_index_compacts_and_stays_correct_after_many_updates():
    index = FunctionIndex()
    rng = np.random.default_rng(0)
    for round_ in range(30):
        es = [entry(f"file:///{d}.s", f"f{i}", text=f"{round_}-{d}-{i}") for d in range(3) for i in range(20)]
        for d in range(3):
            index.set_document(f"file:///{d}.s", es[d * 20:(d + 1) * 20])
        index.set_vectors({e.sha: rng.normal(size=8).astype(np.float32) for e in es})
    assert index.counts() == (60, 60)
    assert len(index._row_entries) < 200  # dead rows were compacted away
    probe = index.vector("file:///1.s", "f7")
    assert index.query(probe, 1)[0][:2] == ("file:///1.s", "f7")


def test_index_query_over_10000_functions_is_fast():
    index = FunctionIndex()
    rng = np.random.default_rng(1)
    es = [entry(f"file:///{i // 100}.s", f"f{i}") for i in range(10_000)]
    for d in range(100):
        index.set_document(f"file:///{d}.s", es[d * 100:(d + 1) * 100])
    index.set_vectors({e.sha: rng.normal(size=896).astype(np.float32) for e in es})
    index.query(rng.normal(size=896), 10)
    times = []
    for _ in range(9):
        t0 = time.perf_counter()
        hits = index.similar("file:///42.s", "f4242", 10)
        times.append(time.perf_counter() - t0)
    assert len(hits) == 10 and all(h.name != "f4242" for h in hits)
    # Budget 50 ms (bench/embed_figures.py reports the median); the best of 9 keeps a busy
    # shared machine from failing this.
    assert min(times) < 0.05, times


def test_extract_functions_normalises_and_finds_label_lines():
    got = extract_functions("file:///t.s", ADD)
    assert [(e.name, e.line, e.start_line, e.end_line) for e in got] == [("add2", 3, 1, 6)]
    assert "sum" not in got[0].text and "FUNC:" in got[0].text and "add2" not in got[0].text
    commented = ADD.replace("\tret", "\t// tail\n\tret   ").replace("add\tw0", "add    w0")
    assert extract_functions("file:///u.s", commented)[0].sha == got[0].sha


def test_extract_functions_skips_a_document_too_big_to_parse_with_one_note(caplog):
    """Test data: ADD repeated past syntax.outline's 100,000-line bound (~1 MB, 100,008 lines)."""
    big = ADD * (100_001 // ADD.count("\n") + 1)
    assert big.count("\n") > OUTLINE_LINES and len(big) < OUTLINE_CHARS
    fits = "".join(ADD.replace("add2", f"f{i}") for i in range(100))
    assert [e.name for e in extract_functions("file:///fits.s", fits)] == [f"f{i}" for i in range(100)]
    caplog.set_level(logging.INFO, logger="asm_lsp.embed.index")
    started = time.monotonic()
    assert extract_functions("file:///big.s", big) == [] and extract_functions("file:///big.s", big + "\n") == []
    assert time.monotonic() - started < 1.0  # the full parse of these would take ~5 s
    notes = [r.getMessage() for r in caplog.records if "not embedded" in r.getMessage()]
    assert notes == [f"file:///big.s ({len(big)} characters) is not embedded for similar functions: documents "
                     f"over {OUTLINE_CHARS} characters or {OUTLINE_LINES} lines are only outlined"]


# ---------------------------------------------------------------- service (fake embedder)

class HashEmbedder:
    """Embedder API with vectors from the text's hash; counts what it embedded."""

    def __init__(self, delay: float = 0.0) -> None:
        self.identity = ""
        self.state = "not started"
        self.delay = delay
        self.seen: list[str] = []
        self.ready = threading.Event()

    def start(self) -> None:
        self.identity, self.state = "hash-v1", "ready"
        self.ready.set()

    def wait_ready(self, timeout=None) -> bool:
        return self.ready.wait(timeout)

    def submit(self, texts) -> Future:
        future: Future = Future()
        time.sleep(self.delay)
        self.seen.extend(texts)
        future.set_result([self.vector(t) for t in texts])
        return future

    @staticmethod
    def vector(text: str) -> np.ndarray:
        seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
        return np.random.default_rng(seed).normal(size=16).astype(np.float32)

    def status(self) -> str:
        return self.state

    def close(self) -> None:
        pass


def make_service(tmp_path: Path, embedder: HashEmbedder, **kw) -> SimilarFunctions:
    return SimilarFunctions(Settings(), tmp_path / "cache", embedder=embedder, debounce_s=0.0, **kw)


def test_service_indexes_workspace_finds_duplicates_and_reopens_from_cache(tmp_path, monkeypatch):
    work = tmp_path / "ws"
    work.mkdir()
    for f in FIXTURES.glob("*.s"):
        (work / f.name).write_text(f.read_text())
    (work / "copy.s").write_text(ADD)
    (work / "other.s").write_text(ADD.replace("add2", "plus").replace("// sum", "// same body"))
    calls: list[tuple[int, int, str]] = []
    fake = HashEmbedder()
    service = make_service(tmp_path, fake, progress=lambda d, t, m: calls.append((d, t, m)))
    service.start([work])
    assert service.wait_idle(10)
    done, total = service.counts()
    assert done == total >= 4
    copy_uri = (work / "copy.s").resolve().as_uri()
    other_uri = (work / "other.s").resolve().as_uri()
    best = service.similar(copy_uri, "add2", 3)[0]
    assert (best.uri, best.name, best.line, round(best.score, 6)) == (other_uri, "plus", 3, 1.0)
    assert calls and calls[-1][0] == done
    # Same text embedded once; the second session computes nothing.
    assert len(fake.seen) == len(set(fake.seen)) == total - 1
    service.close()
    fake2 = HashEmbedder()
    again = make_service(tmp_path, fake2)

    def no_reading(path):
        raise AssertionError(f"read {path}: unchanged files come from the cache")

    monkeypatch.setattr("asm_lsp.embed.service.read_text", no_reading)
    again.start([work])
    assert again.wait_idle(10)
    assert again.counts() == (done, total) and fake2.seen == [] and again.stats["from_cache"] == total
    monkeypatch.undo()
    md = again.hover_markdown(copy_uri, "add2")
    assert md is not None and md.startswith("**Similar functions** to `add2`")
    assert f"[other.s:4]({other_uri}#L4)" in md and "`plus` 1.00" in md and "16 dims, norm" in md
    again.close()
    # Another model: the function list still comes from the cache, the texts from disk.
    fake3 = HashEmbedder()
    fake3.start = lambda: (setattr(fake3, "identity", "hash-v2"), setattr(fake3, "state", "ready"), fake3.ready.set())
    third = make_service(tmp_path, fake3)
    third.start([work])
    assert third.wait_idle(10)
    assert third.counts() == (done, total) and len(fake3.seen) == total - 1
    third.close()


def test_service_open_documents_first_and_debounced(tmp_path):
    work = tmp_path / "ws"
    work.mkdir()
    for i in range(30):
        (work / f"f{i}.s").write_text(ADD.replace("add2", f"fn{i}").replace("w1", f"w{(i % 7) + 1}")
                                      .replace("ret", "ret\n" + "\tnop\n" * i))
    fake = HashEmbedder(delay=0.1)  # 4 batches of 8: 0.4 s; the open buffer arrives after 0.2 s
    service = SimilarFunctions(Settings(), tmp_path / "cache", embedder=fake, debounce_s=0.2)
    open_uri = "file:///open/buffer.s"
    for k in range(5):  # typing: only the last text counts
        service.update_document(open_uri, ADD.replace("add2", "mine").replace("w1", f"w{20 + k}"))
    service.start([work])
    assert service.wait_idle(20)
    first_open = next(i for i, t in enumerate(fake.seen) if "w24" in t)
    # It cuts in: first of the next batch, before the workspace is done.
    assert first_open % EMBED_BATCH == 0 and first_open < 30, first_open
    assert not any(f"w{20 + k}" in t for t in fake.seen for k in range(4))
    assert service.similar_at(open_uri, 4, 2) and service.similar_at(open_uri, 100, 2) == []
    service.close()


def test_service_cancel_stops_workspace_embedding(tmp_path):
    work = tmp_path / "ws"
    work.mkdir()
    for i in range(40):
        (work / f"f{i}.s").write_text(ADD.replace("add2", f"fn{i}").replace("ret", "ret\n" + "\tnop\n" * i))
    fake = HashEmbedder(delay=0.05)
    service = make_service(tmp_path, fake)
    service.start([work])
    time.sleep(0.15)
    service.cancel()
    assert service.wait_idle(5)
    assert len(fake.seen) < 40
    service.close()


def test_service_off_when_embeddings_disabled(tmp_path):
    settings = Settings()
    settings.index.embeddings = False
    service = SimilarFunctions(settings, tmp_path)
    service.start([tmp_path])
    service.update_document("file:///x.s", ADD)
    assert service.similar("file:///x.s", "add2") == [] and service.hover_markdown("file:///x.s", "add2") is None
    assert "off" in service.status()
    service.close()


def test_sparkline_and_summary():
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert embedding_summary(np.array([3.0, 4.0])).startswith("2 dims, norm 5.0, values +3.0 `")
