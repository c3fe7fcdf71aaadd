"""Product figures for function embeddings (asm_lsp.embed), measured on this machine.

    PYTHONPATH=server python -m bench.embed_figures --threads 1 --out bench/results/embed_figures

1. Indexing throughput vs llama.cpp: a folder of ``--functions`` functions indexed cold by
   SimilarFunctions (parse, normalise, embed, cache) against a plain llama.cpp context
   evaluating exactly the same tokens (``Llama.eval``: logits of the last token only, the
   same 64-token batches and threads, same run). Ratio = indexing tokens/s over wall time /
   raw prompt-eval tokens/s.
2. Reopening a 1,000-function workspace whose vectors are in the cache (the real model
   identity; the vectors themselves are random, what is timed is the reading): seconds
   from ``start()`` until every function has its vector. Budget 2 s.
3. A similar-functions query over 10,000 functions: median of 50. Budget 50 ms.
4. RSS of one process holding the model (after embedding) and a 10,000-function index. Budget 1 GB.

Functions come from tests/fixtures/**/*.c and bench/exec_completion/cases/*.c compiled
with aarch64-linux-gnu-gcc at -O0..-O3 (the held-out style of code, not the corpus).
Writes OUT.json and OUT.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np

from asm_lsp.embed.embedder import DEFAULT_BATCH_TOKENS, DEFAULT_MAX_TOKENS, DEFAULT_POOLING, model_identity
from asm_lsp.embed.index import FunctionIndex, extract_functions
from asm_lsp.embed.service import SimilarFunctions
from asm_lsp.embed.store import FILE_NAME, EmbeddingStore
from asm_lsp.model.store import resolve_model
from asm_lsp.settings import Settings
from bench.common import ROOT, compile_case, rss_mb, write_report


def compile_sources(out: Path) -> list[Path]:
    sources = sorted((ROOT / "tests/fixtures").glob("**/*.c")) + sorted(
        p for p in (ROOT / "bench/exec_completion/cases").glob("*.c") if not p.name.endswith("_test.c"))
    files = []
    for src in sources:
        for opt in ("O0", "O1", "O2", "O3"):
            target = out / f"{src.parent.name}_{src.stem}_{opt}.s"
            try:
                compile_case("gcc", opt, src, target)
            except subprocess.CalledProcessError:
                continue
            files.append(target)
    return files


def settings(threads: int, cache: Path) -> Settings:
    s = Settings()
    s.model.threads = threads
    s.model.adapter = "none"
    s.model.cache_dir = str(cache)
    return s


def throughput(files: list[Path], n_functions: int, threads: int, work: Path, files_model) -> dict:
    """Index ``n_functions`` cold, then evaluate the same tokens with a plain context."""
    import llama_cpp

    from asm_lsp.model.llama import load_llama

    chosen: list[Path] = []
    count = 0
    folder = work / "throughput"
    folder.mkdir()
    for f in files:
        k = len(extract_functions("file:///x", f.read_text()))
        if k and count < n_functions:
            (folder / f.name).write_text(f.read_text())
            count += k
    service = SimilarFunctions(settings(threads, work / "cache-throughput"), work / "cache-throughput", debounce_s=0)
    t0 = time.perf_counter()
    service.start([folder])
    service.wait_idle()
    index_s = time.perf_counter() - t0
    embedder = service._embedder
    tokens, embed_s = embedder.stats["tokens"], embedder.stats["seconds"]
    unique = list(dict.fromkeys(e.text for e in service.index.entries()))
    service.close()
    llm = load_llama(files_model.model, n_ctx=DEFAULT_MAX_TOKENS, n_batch=DEFAULT_BATCH_TOKENS, threads=threads)
    raw_tokens = 0
    t0 = time.perf_counter()
    for text in unique:
        toks = llm.tokenize(text.encode(), add_bos=False, special=False)[:DEFAULT_MAX_TOKENS]
        llm.reset()
        llm.eval(toks)
        raw_tokens += len(toks)
    raw_s = time.perf_counter() - t0
    llm.close()
    done, total = service.counts()
    return {"functions": total, "embedded": int(embedder.stats["texts"]), "tokens": int(tokens),
            "index_wall_s": round(index_s, 2), "embed_s": round(embed_s, 2),
            "index_tok_s": round(tokens / index_s, 1), "embed_tok_s": round(tokens / embed_s, 1),
            "raw_tokens": raw_tokens, "raw_eval_s": round(raw_s, 2), "raw_tok_s": round(raw_tokens / raw_s, 1),
            "ratio_index_vs_raw": round((tokens / index_s) / (raw_tokens / raw_s), 3)}


def reopen(files: list[Path], threads: int, work: Path, files_model, n_functions: int = 1000) -> dict:
    folder = work / "reopen"
    folder.mkdir()
    entries = []
    k = 0
    while len(entries) < n_functions:  # copies under other names: distinct files, same code
        for f in files:
            text = f.read_text()
            part = extract_functions("file:///x", text)
            if not part:
                continue
            target = folder / f"{k:04d}_{f.name}"
            target.write_text(text)
            entries += part
            k += 1
            if len(entries) >= n_functions:
                break
    cache = work / "cache-reopen"
    store = EmbeddingStore(cache / FILE_NAME)
    ident = model_identity(files_model, DEFAULT_POOLING, DEFAULT_MAX_TOKENS)
    rng = np.random.default_rng(0)
    store.put_many([(e.sha, rng.normal(size=896).astype(np.float32)) for e in entries], ident)
    store.close()

    def open_once() -> tuple[float, int, int, dict]:
        service = SimilarFunctions(settings(threads, cache), cache, debounce_s=0)
        t0 = time.perf_counter()
        service.start([folder])
        while True:
            done, total = service.counts()
            if (total >= len(entries) and done == total) or time.perf_counter() - t0 > 300:
                break
            time.sleep(0.01)
        elapsed = time.perf_counter() - t0
        service.close()
        return elapsed, done, total, service.stats

    first, _, _, _ = open_once()  # vectors cached, files never seen: every file parsed
    elapsed, done, total, stats = open_once()  # what an editor restart sees
    return {"files": k, "functions": total, "with_vectors": done, "seconds": round(elapsed, 3), "budget_s": 2.0,
            "first_open_parse_all_s": round(first, 3), "embedded_during_reopen": stats["embedded"]}


def query_and_rss(threads: int, files_model) -> dict:
    from asm_lsp.embed.embedder import Embedder
    from asm_lsp.embed.index import FunctionEntry

    base = rss_mb()
    embedder = Embedder(files_model, threads=threads)
    embedder.wait_ready(300)
    embedder.embed(["FUNC:\nstp x29, x30, [sp, -16]!\nmov x29, sp\nbl abort\n" * 20])
    after_model = rss_mb()
    index = FunctionIndex()
    rng = np.random.default_rng(0)
    text = "FUNC:\n" + "add w0, w0, w1\n" * 40  # ~600 bytes, a typical normalised function
    for d in range(100):
        uri = f"file:///ws/f{d}.s"
        es = [FunctionEntry(uri, f"f{d}_{i}", i * 50, i * 50, i * 50 + 40, f"{d}-{i}", text + str(i)) for i in range(100)]
        index.set_document(uri, es)
        index.set_vectors({e.sha: rng.normal(size=embedder.dim).astype(np.float32) for e in es})
    after_index = rss_mb()
    times = []
    for i in range(50):
        t0 = time.perf_counter()
        hits = index.similar(f"file:///ws/f{i}.s", f"f{i}_{i}", 10)
        times.append(time.perf_counter() - t0)
    embedder.close()
    return {"query_functions": index.counts()[1], "query_ms_median": round(1000 * statistics.median(times), 2),
            "query_ms_max": round(1000 * max(times), 2), "query_budget_ms": 50, "hits": len(hits),
            "rss_mb_python": round(base, 1), "rss_mb_with_model": round(after_model, 1),
            "rss_mb_with_model_and_index": round(after_index, 1), "rss_budget_mb": 1024}


def markdown(r: dict) -> str:
    t, o, q = r["throughput"], r["reopen"], r["query_rss"]
    return "\n".join([
        "# Function embeddings: product figures", "",
        f"Machine: {r['machine']}; llama.cpp threads: {r['threads']}; model {r['model']} (no adapter). "
        f"Command: `{r['command']}`", "",
        "| figure | measured | budget |", "|---|---|---|",
        f"| indexing throughput (cold, {t['functions']} functions, {t['tokens']:,} tokens) | "
        f"{t['index_tok_s']} tok/s wall ({t['embed_tok_s']} tok/s inside the embedder) | — |",
        f"| llama.cpp prompt eval, same tokens, plain context | {t['raw_tok_s']} tok/s | — |",
        f"| ratio indexing / raw prompt eval | {t['ratio_index_vs_raw']:.2f} | — (below) |",
        f"| reopen {o['functions']:,}-function workspace ({o['files']} files) from cache | {o['seconds']:.2f} s | ≤ 2 s |",
        f"| first open, vectors cached but files never parsed | {o['first_open_parse_all_s']:.2f} s | — |",
        f"| similar-functions query over {q['query_functions']:,} functions | {q['query_ms_median']} ms median "
        f"({q['query_ms_max']} ms max) | ≤ 50 ms |",
        f"| RSS: Python + model (after embedding) + 10,000-function index | {q['rss_mb_with_model_and_index']:.0f} MB "
        f"(python {q['rss_mb_python']:.0f}, + model {q['rss_mb_with_model']:.0f}) | ≤ 1,024 MB |",
        "", "The 2-core machine is shared with other jobs, so throughput figures are what was available "
        "then; the ratio is the comparable figure (both halves in the same run, same threads).",
        "", "Why the ratio is below 1: embeddings need every token as an output, and llama.cpp then runs the "
        "output layer (151,936 x 896, tied embeddings) on every token, about +38% work per token over a "
        "prompt eval that computes the last token's logits only. llama.cpp's own MEAN pooling does the same "
        "(measured: same speed and RSS as pooling NONE), so there is nothing to gain there; the rest is load "
        "varying between the two halves. Decoding in 64-token chunks keeps the logits buffer at 39 MB "
        "instead of 233 MB (RSS with the model went from 1,021 MB to the figure above).",
        "", "The first open parses every file (background, nothing waits on it); later opens read the "
        "function list of unchanged files (size + mtime) from the cache.", ""])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1, help="llama.cpp threads")
    p.add_argument("--functions", type=int, default=24, help="functions for the throughput figure")
    p.add_argument("--parts", default="query,reopen,throughput", help="which figures to (re)measure; others are kept from OUT.json")
    p.add_argument("--out", type=Path, default=ROOT / "bench/results/embed_figures")
    args = p.parse_args(argv)
    files_model = resolve_model("", "none", "")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sources = compile_sources(work / "src") if (work / "src").mkdir() is None else []
        print(f"{len(sources)} assembly files", flush=True)
        previous = args.out.with_suffix(".json")
        report = json.loads(previous.read_text()) if previous.exists() else {}
        parts = args.parts.split(",")
        if "query" in parts:
            report["query_rss"] = query_and_rss(args.threads, files_model)
            print(report["query_rss"], flush=True)
        if "reopen" in parts:
            report["reopen"] = reopen(sources, args.threads, work, files_model)
            print(report["reopen"], flush=True)
        if "throughput" in parts:
            report["throughput"] = throughput(sources, args.functions, args.threads, work, files_model)
            print(report["throughput"], flush=True)
    report.setdefault("commands", []).append("python -m bench.embed_figures " + " ".join(sys.argv[1:] if argv is None else argv))
    report.update({"command": "; ".join(report["commands"]),
                   "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared), Python {platform.python_version()}",
                   "threads": args.threads, "model": files_model.model.name})
    write_report(args.out, report, markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
