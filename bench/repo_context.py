"""Repo-level context A/B: the same holes answered with and without the block before the window.

    PYTHONPATH=server:. nice -n 5 python -m bench.repo_context --holes 7 --opts O0,O2 --max-holes 40
    -> bench/results/repo_context.json and bench/results/repo_context.md
    (--model PATH / --lora PATH: another GGUF / GGUF LoRA, e.g. a round-three adapter trained
    with context; --out NAME: other result file names)

    PYTHONPATH=server:. nice -n 5 python -m bench.repo_context --source test --corpus models/work/corpus \
        --no-similar --opts O0,O2 --out repo_context_test
    (the corpus's TEST projects: each project's other files are the workspace, so callees
    defined in other files appear; --no-similar skips embedding whole projects on 2 cores)

Holes: models/evaluate.py's held-out cases (bench/exec_completion/cases/*.c compiled by gcc
and clang at --opts), its sampling (``sample_holes`` with seed 0, ``round_robin``): ``--holes``
line holes and half as many 3-line block holes per (compiler, opt) group, the first
``--max-holes`` of them.

Workspace: each case is a project of its own (one file), so the workspace of a hole is every
case compiled by the same compiler at the same level: the hole's document (the hole's lines
removed, as the user has it) and the other cases' files, in a WorkspaceIndex and an
embeddings FunctionIndex (vectors from the server's embedder and its shipped embedding
adapter; the hole's function embedded as it stands with the hole). The block is what the
server builds (features/repo_context.RepoContext) at the hole. Nothing of another compilation
of the same source is in that workspace.

Systems: one server engine (the shipped model: the packaged base merged with the shipped LoRA,
as the server loads it; no cold window, no assembler check; greedy), asked per hole twice,
``plain`` and ``context`` in a rotating order. After each answer, the first character of the
removed line is typed and the engine asked again: that second prompt's evaluation is the
per-keystroke cost with a warm cache.

Figures: exact match (evaluate.exact_match), first line exact, edit similarity; prompt tokens;
prompt evaluation ms cold (nothing of the prompt cached but what the other system's
last prompt shared) and warm (one typed character later), from the engine's own timings.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # as the server: before llama_cpp loads libgomp

import numpy as np  # noqa: E402

from asm_lsp.model.store import llama_cpp_version, resolve_model, sha256_file  # noqa: E402
from bench.common import write_report  # noqa: E402
from models import evaluate  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
SYSTEMS = ("plain", "context")


def root_of(file) -> str:
    """The workspace folder of a file: every case of one compiler and level (each case is a
    project of one file), or the test project's files of one compiler and level."""
    if file.id.startswith("cases/"):
        return f"/cases/{file.compiler}-{file.opt}"
    return f"/{file.project}/{file.compiler}-{file.opt}"


def uri_of(file) -> str:
    name = file.project if file.id.startswith("cases/") else file.id.rsplit("/", 1)[-1]
    return f"file://{root_of(file)}/{name}.s"


class Workspace:
    """One (compiler, opt) group of cases as the server would index it."""

    def __init__(self, files: list, embed) -> None:
        self.root = Path(root_of(files[0]))
        from asm_lsp.embed.index import FunctionIndex, extract_functions
        from asm_lsp.workspace.index import WorkspaceIndex

        self.index = WorkspaceIndex()
        self.functions = FunctionIndex()
        self.embed = embed
        self.texts = {}
        for file in files:
            uri = uri_of(file)
            self.texts[uri] = file.text
            self.index.update(uri, file.text)
            self.functions.set_document(uri, extract_functions(uri, file.text))
        self._vectors()

    def _vectors(self) -> None:
        missing = {e.sha: e.text for e in self.functions.missing()}
        if missing and self.embed is not None:
            vectors = self.embed(list(missing.values()))
            self.functions.set_vectors(dict(zip(missing, vectors)))

    def open(self, uri: str, text: str) -> None:
        """The hole's document replaces its file (the open buffer), embedded as it stands."""
        from asm_lsp.embed.index import extract_functions

        self.index.update(uri, text)
        self.functions.set_document(uri, extract_functions(uri, text))
        self._vectors()

    def close(self, uri: str) -> None:
        self.open(uri, self.texts[uri])

    def block(self, uri: str, line: int, col: int) -> tuple[str, list]:
        """The server's block at the cursor, and the nearest functions' scores (for the report)."""
        from asm_lsp.features.repo_context import RepoContext

        repo = RepoContext(self.index.get, self.index, lambda: self.functions if self.embed else None,
                           lambda: [self.root])
        doc = self.index.get(uri)
        function = doc.function_at(line) if doc else None
        hits = self.functions.similar(uri, function.name, 3) if function and self.embed else None
        return repo.block(uri, line, col), [(h.name, round(h.score, 3)) for h in hits or []]


def typed(document: str, line: int, col: int, char: str) -> str:
    lines = document.split("\n")
    lines[line] = lines[line][:col] + char + lines[line][col:]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--holes", type=int, default=7, help="line holes per (compiler, opt); block holes: half")
    parser.add_argument("--max-holes", type=int, default=40, help="answer the first this many (round robin)")
    parser.add_argument("--opts", default="O0,O2", help="opt levels of the cases (each group's workspace is embedded: ~5 min on 2 cores)")
    parser.add_argument("--model", default="", help="GGUF model (default: the packaged base of the server)")
    parser.add_argument("--lora", default="default", help="GGUF LoRA (default: the shipped adapter, merged)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--context-size", type=int, default=2048)
    parser.add_argument("--out", default="repo_context", help="result name under bench/results")
    parser.add_argument("--work", type=Path, default=evaluate.DEFAULT_WORK, help="compiled cases, embedding cache")
    parser.add_argument("--source", choices=("cases", "test"), default="cases",
                        help="cases: evaluate.py's cases (one file each: no calls across files); test: the corpus's "
                             "TEST projects (--corpus), each project's files of one compiler and level a workspace")
    parser.add_argument("--corpus", type=Path, default=REPO / "models" / "work" / "corpus", help="with --source test")
    parser.add_argument("--no-similar", dest="similar", action="store_false",
                        help="no embeddings: callee definitions only (a big test project takes long to embed on 2 cores)")
    args = parser.parse_args(argv)

    from asm_lsp.embed.embedder import EMBEDDING_ADAPTER, Embedder
    from asm_lsp.model.engine import CompletionEngine, CompletionRequest

    uptime_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    opts = tuple(o.strip() for o in args.opts.split(",") if o.strip())
    if args.source == "cases":
        files = evaluate.compile_cases(evaluate.CASES_DIR, args.work / "cases", opts)
    else:
        files = [f for f in evaluate.load_test_split(args.corpus) if f.opt in opts or f.compiler == "handwritten"]
    holes = evaluate.round_robin(evaluate.sample_holes(files, {"line": args.holes, "block": max(1, args.holes // 2)}, 0))
    holes = holes[:args.max_holes]
    by_id = {f.id: f for f in files}

    shipped = REPO / "server" / "asm_lsp" / "data" / EMBEDDING_ADAPTER
    embedder = Embedder(lambda: resolve_model(), threads=args.threads, adapter=shipped if shipped.is_file() else None)
    started = time.time()
    embedded_texts = [0]
    # Vectors by text sha, kept between runs (always the shipped embedder, whatever --model says):
    # embedding the workspaces is most of a run's time on 2 cores.
    cache_path = args.work / "repo_context_vectors.npz"
    cache = dict(np.load(cache_path)) if cache_path.exists() else {}

    def embed(texts: list[str]) -> list[np.ndarray]:
        from asm_lsp.embed.store import text_sha

        shas = [text_sha(t) for t in texts]
        todo = [t for t, sha in zip(texts, shas) if sha not in cache]
        if todo:
            embedded_texts[0] += len(todo)
            for text, vector in zip(todo, embedder.embed(todo, timeout=3600)):
                cache[text_sha(text)] = np.asarray(vector, dtype=np.float32)
            np.savez(cache_path, **cache)
        return [cache[sha] for sha in shas]

    groups = {root_of(by_id[h.file_id]) for h in holes}
    workspaces = {g: Workspace([f for f in files if root_of(f) == g], embed if args.similar else None)
                  for g in sorted(groups)}
    embed_seconds = time.time() - started
    print(f"embedded {embedded_texts[0]} functions of {len(workspaces)} workspaces in {embed_seconds:.0f} s", flush=True)

    model_files = resolve_model(args.model, args.lora)
    engine = CompletionEngine(model_files, threads=args.threads, context_size=args.context_size)
    engine.start()
    if not engine.wait_ready(timeout=600):
        raise SystemExit(f"model did not load: {engine.status()}")

    def ask(document: str, line: int, col: int, max_lines: int, context: str) -> tuple[str, dict]:
        while engine.busy:  # the last job's background decoding: nothing may answer from it
            time.sleep(0.01)
        engine.cache.clear()  # no typed-ahead hits: every answer is computed
        request = CompletionRequest(document, line, col, max_lines=max_lines, validate=None, candidates=1,
                                    time_budget_ms=10**9, follow_up=False, context=context)
        suggestion = engine.submit(request).result()
        if suggestion is not None and suggestion.source != "model":
            raise SystemExit(f"answer not computed ({suggestion.source}): the A/B would compare nothing")
        while engine.busy:  # last_timings is the job's once its decoding is over
            time.sleep(0.01)
        return (suggestion.text if suggestion else ""), dict(engine.last_timings)

    rows = []
    try:
        for index, hole in enumerate(holes):
            workspace = workspaces[root_of(by_id[hole.file_id])]
            uri = uri_of(by_id[hole.file_id])
            document = hole.document(by_id)
            workspace.open(uri, document)
            t0 = time.perf_counter()
            block, scores = workspace.block(uri, hole.line, hole.col)
            block_ms = (time.perf_counter() - t0) * 1000
            row = {"id": hole.id, "kind": hole.kind, "compiler": hole.compiler, "opt": hole.opt,
                   "expected": hole.expected, "block_chars": len(block), "block_ms": round(block_ms, 2),
                   "nearest": scores, "block_files": block.count("<|file_sep|>") - 1 if block else 0}
            order = SYSTEMS if index % 2 == 0 else SYSTEMS[::-1]
            for name in order:
                context = block if name == "context" else ""
                text, timings = ask(document, hole.line, hole.col, hole.n_lines, context)
                warm_doc = typed(document, hole.line, hole.col, hole.expected[:1])
                _, warm = ask(warm_doc, hole.line, hole.col + 1, hole.n_lines, context)
                row[name] = {"text": text, "exact": evaluate.exact_match(text, hole.expected),
                             "first_line": evaluate.exact_match(text.split("\n", 1)[0], hole.expected.split("\n", 1)[0]),
                             "edit_similarity": round(evaluate.edit_similarity(text, hole.expected), 1),
                             "prompt_tokens": timings.get("prompt_tokens", 0),
                             "reused_tokens": timings.get("reused_tokens", 0),
                             "prompt_ms": round(timings.get("prompt_ms", 0.0), 1),
                             "warm_prompt_tokens": warm.get("prompt_tokens", 0),
                             "warm_reused_tokens": warm.get("reused_tokens", 0),
                             "warm_prompt_ms": round(warm.get("prompt_ms", 0.0), 1)}
            workspace.close(uri)
            rows.append(row)
            print(f"hole {index + 1}/{len(holes)} {hole.id}: block {len(block)} chars {row['block_files']} files | "
                  + " | ".join(f"{n}: {'=' if row[n]['first_line'] else 'x'} {row[n]['text'].split(chr(10))[0]!r} "
                               f"{row[n]['prompt_tokens']} tok {row[n]['prompt_ms']:.0f} ms, warm {row[n]['warm_prompt_ms']:.0f} ms"
                               for n in SYSTEMS), flush=True)
    finally:
        engine.close()
        embedder.close()

    report = {
        "config": {"source": args.source, "similar": args.similar,
                   "corpus": str(args.corpus) if args.source == "test" else None,
                   "corpus_files_sha256": ({n: sha256_file(args.corpus / n) for n in ("files.jsonl.gz",)}
                                           if args.source == "test" else None),
                   "holes_per_group": {"line": args.holes, "block": max(1, args.holes // 2)}, "max_holes": args.max_holes,
                   "opts": opts, "threads": args.threads, "context_size": args.context_size, "seed": 0},
        "model": {"model": model_files.model.name, "model_sha256": model_files.model_sha256 or sha256_file(model_files.model),
                  "adapter": str(model_files.adapter) if model_files.adapter else None,
                  "source": getattr(model_files, "model_source", "")},
        "machine": {"uptime_before": uptime_before,
                    "uptime_after": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
                    "cpus": os.cpu_count(), "llama_cpp_python": llama_cpp_version()},
        "embedding": {"functions": embedded_texts[0], "seconds": round(embed_seconds, 1)},
        "summary": summarize(rows),
        "holes": rows,
    }
    write_report(RESULTS / args.out, report, render(report))
    print(render(report))
    return 0


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1) if values else 0.0


def summarize(rows: list[dict]) -> dict:
    out: dict = {"holes": len(rows), "holes_with_block": sum(1 for r in rows if r["block_chars"])}
    for subset, chosen in (("all", rows), ("with_block", [r for r in rows if r["block_chars"]])):
        entry = {}
        for name in SYSTEMS:
            got = [r[name] for r in chosen]
            entry[name] = {
                "exact": sum(g["exact"] for g in got), "first_line": sum(g["first_line"] for g in got),
                "edit_similarity": round(sum(g["edit_similarity"] for g in got) / max(1, len(got)), 1),
                "prompt_tokens_median": _median([g["prompt_tokens"] for g in got]),
                "cold_prompt_ms_median": _median([g["prompt_ms"] for g in got]),
                "cold_evaluated_tokens_median": _median([g["prompt_tokens"] - g["reused_tokens"] for g in got]),
                "warm_prompt_ms_median": _median([g["warm_prompt_ms"] for g in got]),
                "warm_evaluated_tokens_median": _median([g["warm_prompt_tokens"] - g["warm_reused_tokens"] for g in got]),
            }
        both = [(r["plain"], r["context"]) for r in chosen]
        entry["context_only_right"] = sum(1 for p, c in both if c["first_line"] and not p["first_line"])
        entry["plain_only_right"] = sum(1 for p, c in both if p["first_line"] and not c["first_line"])
        entry["n"] = len(chosen)
        out[subset] = entry
    by_group: dict[str, dict] = defaultdict(lambda: {"n": 0, "plain": 0, "context": 0})
    for r in rows:
        g = by_group[f"{r['compiler']}-{r['opt']}"]
        g["n"] += 1
        g["plain"] += r["plain"]["first_line"]
        g["context"] += r["context"]["first_line"]
    out["first_line_by_group"] = dict(sorted(by_group.items()))
    out["block_ms_median"] = round(statistics.median([r["block_ms"] for r in rows]), 2) if rows else 0.0
    scores = [r["nearest"][0][1] for r in rows if r["nearest"]]
    out["nearest_score_quartiles"] = [round(q, 3) for q in statistics.quantiles(scores, n=4)] if len(scores) > 1 else scores
    return out


def render(report: dict) -> str:
    s = report["summary"]
    source = report["config"].get("source", "cases")
    lines = [f"# Repo-level context A/B ({s['holes']} held-out {'case' if source == 'cases' else 'test-project'} holes"
             f"{'' if report['config'].get('similar', True) else ', callees only'})", "",
             f"Model: `{report['model']['model']}` ({report['model']['source'] or 'given'}); "
             f"{report['config']['threads']} threads; context {report['config']['context_size']}.",
             f"Load: before `{report['machine']['uptime_before']}`, after `{report['machine']['uptime_after']}`.",
             f"Holes with a block: {s['holes_with_block']} of {s['holes']}; block assembled in {s['block_ms_median']} ms (median); "
             f"nearest-function cosine quartiles {s['nearest_score_quartiles']}.", ""]
    for subset in ("all", "with_block"):
        e = s[subset]
        lines += [f"## {subset.replace('_', ' ')} ({e['n']} holes)", "",
                  "| system | exact | first line | edit sim | prompt tokens | cold ms (evaluated tokens) | warm ms/keystroke (evaluated tokens) |",
                  "|---|---|---|---|---|---|---|"]
        for name in SYSTEMS:
            g = e[name]
            lines.append(f"| {name} | {g['exact']}/{e['n']} | {g['first_line']}/{e['n']} | {g['edit_similarity']} | "
                         f"{g['prompt_tokens_median']} | {g['cold_prompt_ms_median']} ({g['cold_evaluated_tokens_median']}) | "
                         f"{g['warm_prompt_ms_median']} ({g['warm_evaluated_tokens_median']}) |")
        lines += ["", f"First line right only with context: {e['context_only_right']}; only without: {e['plain_only_right']}.", ""]
    lines += ["First line right by group (plain / context):", ""]
    lines += [f"- {g}: {v['plain']} / {v['context']} of {v['n']}" for g, v in s["first_line_by_group"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
