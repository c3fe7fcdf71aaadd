"""Function retrieval benchmark: find the same C function compiled another way, names hidden.

Held-out TEST projects of the corpus only (models/work/corpus, split by project in its
manifest). Tasks (bench/retrieval/tasks.py): T1 gcc -O0 -> gcc -O3; T3 gcc -> clang at
the same level (O0, O1, O2, O3, Os, averaged); T4 random pairs of (compiler, level)
(averaged). A query ranks a pool of N candidates: its positive plus N-1 other functions
of the positive's own setting. Each seed shuffles the task's keys and cuts them into
disjoint pools of N, so every key is a query once per seed; Recall@1 and MRR are the mean
over seeds (± their standard deviation). Ties count against the positive.

Two views:
  side by side  every llama.cpp system on the first --model-keys keys of each task (what
                2 cores can embed: the base model evaluates ~30-170 tokens/s per core
                here); only when --systems names a model system;
  full          the lexical floor and every --embeddings system on every key of the test
                split, pools up to 10,000 (or all there is: the table says when a pool was
                capped).

    PYTHONPATH=server python -m bench.retrieval.run --corpus models/work/corpus \\
        --systems lexical,base-last,base-mean --model-keys 300 --threads 1 \\
        --out bench/results/retrieval

Full scale with a GPU (models/hf_embed.py, transformers):
    run.py --export-texts texts.jsonl.gz     # here: {"key": text sha256, "text": normalised}
                                             # for every variant of every task, all keys
    python -m models.hf_embed --base DIR --texts texts.jsonl.gz --out base-mean.npz   # there
    run.py --systems lexical --embeddings base-mean=base-mean.npz ...   # here: one table

Or with llama.cpp on a machine with more cores:
    run.py --texts texts.jsonl.gz --embed-only --cache DIR --threads 16 --model X.gguf   # there
and copy DIR's sqlite files into --cache here (keys: model identity, text sha256).
Writes OUT.json and OUT.md.
"""
from __future__ import annotations

import argparse
import gzip
import json
import platform
import time
from collections import defaultdict
from pathlib import Path

import numpy as np


from asm_lsp.embed.store import text_sha
from bench.common import ROOT, command_line, write_report
from bench.retrieval.systems import LexicalTfidf, ModelSystem, ModelVectors, Precomputed, available_systems
from bench.retrieval.tasks import PairTask, build_tasks, load_test_split, setting_name


def ranks_in_pools(sim: np.ndarray, pool: int, seeds: int) -> list[np.ndarray]:
    """Per seed: the positive's rank (1 = best) for every query placed in a pool of ``pool``.

    ``sim[i, j]`` = similarity of query i to candidate j; candidate i is query i's positive."""
    n = sim.shape[0]
    pool = min(pool, n)
    out = []
    for seed in range(seeds if pool < n else 1):
        perm = np.random.default_rng(seed).permutation(n)
        ranks = []
        for k in range(n // pool):
            group = perm[k * pool:(k + 1) * pool]
            sub = sim[np.ix_(group, group)]
            pos = np.diag(sub)[:, None]
            ranks.append(1 + (sub > pos).sum(1) + (sub == pos).sum(1) - 1)
        out.append(np.concatenate(ranks))
    return out


def score(qv: np.ndarray, cv: np.ndarray, pools: list[int], seeds: int) -> list[dict]:
    sim = qv @ cv.T
    rows = []
    for pool in pools:
        per_seed = ranks_in_pools(sim, pool, seeds)
        r1 = [float((r == 1).mean()) for r in per_seed]
        mrr = [float((1.0 / r).mean()) for r in per_seed]
        rows.append({"pool": pool, "pool_used": min(pool, sim.shape[0]), "queries_per_seed": int(per_seed[0].size),
                     "seeds": len(per_seed), "r1": float(np.mean(r1)), "r1_std": float(np.std(r1)),
                     "mrr": float(np.mean(mrr)), "mrr_std": float(np.std(mrr))})
    return rows


def vectors_for(system: object, task: PairTask, model: ModelVectors | None) -> tuple[np.ndarray, np.ndarray] | None:
    if isinstance(system, LexicalTfidf):
        q, c = system.embed_many([task.queries, task.positives])
        return q, c
    if isinstance(system, Precomputed):
        q, c = system.vectors(task.queries), system.vectors(task.positives)
        return None if q is None or c is None else (q, c)
    assert isinstance(system, ModelSystem) and model is not None
    q = model.vectors(system, task.queries)
    c = model.vectors(system, task.positives)
    return None if q is None or c is None else (q, c)


def aggregate(rows: list[dict]) -> list[dict]:
    """Macro mean over a task's setting pairs (T3: five levels; T4: the random pairs)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["view"], r["system"], r["task"], r["pool"])].append(r)
    out = []
    for (view, system, task, pool), rs in sorted(groups.items()):
        out.append({"view": view, "system": system, "task": task, "pool": pool,
                    "pool_used": [r["pool_used"] for r in rs], "pairs": len(rs),
                    "queries_per_seed": sum(r["queries_per_seed"] for r in rs),
                    "r1": float(np.mean([r["r1"] for r in rs])), "mrr": float(np.mean([r["mrr"] for r in rs]))})
    return out


def markdown(report: dict) -> str:
    lines = ["# Function retrieval (names hidden), held-out test projects", ""]
    c = report["corpus"]
    lines.append(f"Test projects: {', '.join(c['test_projects'])} ({c['keys']:,} functions by source+name, "
                 f"{c['functions']:,} compiled variants). Command: `{report['command']}`")
    lines += [""] + [f"> {n}" for n in report.get("report_notes", [])]
    lines.append("")
    lines.append("Recall@1 / MRR, mean over pool seeds (each seed: every key a query once, in disjoint pools). "
                 "T3 and T4 are macro means over their setting pairs. `pool` = candidates per query "
                 "(1 positive + negatives of the positive's compiler and level).")
    for view, title in (("side_by_side", "Side by side (all systems, same keys)"),
                        ("full", "Whole test split (lexical floor and precomputed embeddings, same keys)")):
        agg = [a for a in report["aggregate"] if a["view"] == view]
        if not agg:
            continue
        lines += ["", f"## {title}", ""]
        systems = list(dict.fromkeys(a["system"] for a in agg))
        tasks = list(dict.fromkeys(a["task"] for a in agg))
        pools = []
        for pool in sorted({a["pool"] for a in agg}):  # a pool capped like the one before repeats its rows
            used = sorted(tuple(a["pool_used"]) for a in agg if a["pool"] == pool)
            if pools and used == sorted(tuple(a["pool_used"]) for a in agg if a["pool"] == pools[-1]):
                continue
            pools.append(pool)
        lines.append("| pool | system | " + " | ".join(f"{t} R@1 | {t} MRR" for t in tasks) + " |")
        lines.append("|---|---|" + "---|---|" * len(tasks))
        for pool in pools:
            for system in systems:
                cells = []
                for t in tasks:
                    a = next((a for a in agg if a["system"] == system and a["task"] == t and a["pool"] == pool), None)
                    if a is None:
                        cells += ["–", "–"]
                        continue
                    capped = "*" if any(u < pool for u in a["pool_used"]) else ""
                    cells += [f"{a['r1']:.3f}{capped}", f"{a['mrr']:.3f}{capped}"]
                lines.append(f"| {pool:,} | {system} | " + " | ".join(cells) + " |")
        capped = []
        for pool in pools:
            used = {a["task"]: a["pool_used"] for a in agg if a["pool"] == pool and a["system"] == systems[0]}
            if any(u < pool for us in used.values() for u in us):
                capped.append(f"- {pool:,}: " + "; ".join(f"{t} {', '.join(f'{u:,}' for u in us)}" for t, us in used.items()))
        if capped:
            lines += ["", "`*` pool capped: fewer candidates exist than asked; pools actually used per pair:"] + capped
    lines += ["", "## Setting pairs", "", "| task | pair | keys with both | identical text (dropped) | "
              "ambiguous (dropped) | keys used: full / side by side |", "|---|---|---|---|---|---|"]
    for t in report["tasks"]:
        lines.append(f"| {t['task']} | {t['pair']} | {t['available']:,} | {t['dropped_identical']:,} | "
                     f"{t['dropped_ambiguous']:,} | {t['keys_full']:,} / {t['keys_side_by_side']:,} |")
    lines += ["", "## Systems", ""]
    for name, desc in report["systems"].items():
        lines.append(f"- **{name}**: {desc}")
    if report.get("notes"):
        lines += ["", "Notes:"] + [f"- {n}" for n in report["notes"]]
    if report.get("embedding"):
        e = report["embedding"]
        lines += ["", f"Embedding: {e}"]
    lines += ["", f"Machine: {report['machine']}. Run time {report['seconds']:.0f} s.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=ROOT / "models/work/corpus", help="corpus folder (manifest.json, *.jsonl.gz)")
    p.add_argument("--split", default="test", help='corpus split to use; "all" only for a corpus none of whose projects is trained on')
    p.add_argument("--systems", default="lexical,base-last,base-mean,ours", help="comma list; unknown/unavailable ones are skipped with a note")
    p.add_argument("--pools", default="32,100,1000,10000", help="pool sizes")
    p.add_argument("--seeds", type=int, default=5, help="pool seeds (a pool holding every key has one)")
    p.add_argument("--seed", type=int, default=0, help="key order and T4 pair choice")
    p.add_argument("--t4-pairs", type=int, default=4, help="random (compiler, level) pairs for T4")
    p.add_argument("--model-keys", default="T1=300,T3=100,T4=100", help="keys per setting pair for the side-by-side view")
    p.add_argument("--cache", type=Path, default=ROOT / "bench/work/retrieval/cache", help="embedding cache folder (sqlite per system)")
    p.add_argument("--threads", type=int, default=1, help="llama.cpp threads (shared 2-core machine: 1)")
    p.add_argument("--model", default="", help="GGUF path (default: the packaged base model)")
    p.add_argument("--time-budget-s", type=float, default=None, help="stop embedding after this long; evaluate what is cached")
    p.add_argument("--no-compute", action="store_true", help="never run the model; systems with missing vectors are skipped")
    p.add_argument("--export-texts", type=Path, help="write every variant text the tasks need, all keys (jsonl.gz "
                   '{"key": sha256, "text": ...}), and exit')
    p.add_argument("--embeddings", action="append", default=[], metavar="NAME=FILE.npz",
                   help="precomputed vectors (npz: keys, vectors; models/hf_embed.py) as system NAME, full view")
    p.add_argument("--adapter", action="append", default=[], metavar="NAME=PATH",
                   help="also the system NAME: the base + this GGUF LoRA, mean pooling (a candidate adapter)")
    p.add_argument("--texts", type=Path, help="with --embed-only: embed these texts (from --export-texts)")
    p.add_argument("--embed-only", action="store_true", help="fill the cache and exit")
    p.add_argument("--note", action="append", default=[], help="a line for the report (what this corpus is, ...)")
    p.add_argument("--out", type=Path, default=ROOT / "bench/results/retrieval", help="OUT.json and OUT.md")
    args = p.parse_args(argv)
    started = time.monotonic()
    deadline = started + args.time_budget_s if args.time_budget_s else None

    registry = available_systems()
    wanted = [s for s in args.systems.split(",") if s]
    for spec in args.adapter:
        name, sep, path = spec.partition("=")
        if not sep or not name or name in registry:
            raise SystemExit(f"--adapter {spec!r}: want NAME=FILE.gguf with a new system name")
        registry[name] = (lambda n=name, a=Path(path).resolve():
                          ModelSystem(n, f"base + {a.name}, mean pooling", "mean", a))
        wanted.append(name)
    notes = [f"system {s!r} not available (no adapter shipped?)" for s in wanted if s not in registry]
    systems = {s: registry[s]() for s in wanted if s in registry}
    model_systems = [s for s in systems.values() if isinstance(s, ModelSystem)]
    model = ModelVectors(args.cache, args.threads, args.model) if model_systems else None
    precomputed = {}
    for spec in args.embeddings:
        name, sep, path = spec.partition("=")
        if not sep or not name or name in systems or name in precomputed:
            raise SystemExit(f"--embeddings {spec!r}: want NAME=FILE.npz with a new system name")
        precomputed[name] = Precomputed.load(name, Path(path))
        print(f"{name}: {len(precomputed[name].index):,} precomputed vectors from {path}", flush=True)

    if args.texts is not None:  # the far side of a split run: no corpus needed
        with gzip.open(args.texts, "rt") as f:
            texts = [json.loads(line)["text"] for line in f]
        print(f"{len(texts):,} texts to embed", flush=True)
        model.compute(model_systems, texts, deadline=deadline)
        model.close()
        print(json.dumps(model.stats), flush=True)
        return 0

    split = load_test_split(args.corpus, args.split)
    print(f"test split: {len(split.projects)} projects ({', '.join(split.projects)}), {len(split.keys):,} keys, "
          f"{split.functions:,} functions", flush=True)
    tasks = build_tasks(split, args.seed, args.t4_pairs)
    limits = dict(kv.split("=") for kv in args.model_keys.split(","))
    small = [t.head(int(limits.get(t.task, 100))) for t in tasks]
    for t, s in zip(tasks, small):
        print(f"  {t.name}: {len(t.queries):,} keys (side by side {len(s.queries):,}); {t.available:,} with both, "
              f"{t.dropped_identical:,} identical, {t.dropped_ambiguous:,} ambiguous", flush=True)
    # Key by key across all tasks (round robin): a run stopped by its time budget
    # still has whole keys to score.
    longest = max((len(s.queries) for s in small), default=0)
    needed = list(dict.fromkeys(x for k in range(longest) for s in small if k < len(s.queries)
                                for x in (s.queries[k], s.positives[k])))
    if args.export_texts is not None:
        # Every key of every task (not the side-by-side heads): the full view's systems.
        # The text is what the embedder is given; it cuts to its first max_tokens tokens.
        every = list(dict.fromkeys(x for t in tasks for x in (*t.queries, *t.positives)))
        args.export_texts.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(args.export_texts, "wt") as f:
            for text in every:
                f.write(json.dumps({"key": text_sha(text), "text": text}) + "\n")
        print(f"wrote {len(every):,} texts to {args.export_texts} ({args.export_texts.stat().st_size / 2**20:.1f} MiB)")
        return 0
    embedding_note = ""
    if model is not None:
        missing = model.missing(model_systems, needed)
        print(f"model systems need {len(needed):,} texts; missing: "
              + ", ".join(f"{k} {len(v):,}" for k, v in missing.items()), flush=True)
        if not args.no_compute and any(missing.values()):
            model.compute(model_systems, needed, deadline=deadline)
            s = model.stats
            if s["seconds"]:
                embedding_note = (f"{s['computed']:,} texts, {s['tokens']:,} tokens in {s['seconds']:.0f} s "
                                  f"({s['tokens'] / s['seconds']:.0f} tok/s, {args.threads} threads) this run")
        if args.embed_only:
            return 0
        # Side by side uses the keys every model system has both vectors for (all, unless the
        # time budget ran out), the same keys for every system.
        have = set(needed)
        for system in model_systems:
            have &= model.have(system, needed)
        for i, s in enumerate(small):
            keep = [k for k, (q, c) in enumerate(zip(s.queries, s.positives)) if q in have and c in have]
            if len(keep) < len(s.queries):
                notes.append(f"{s.name}: side by side on {len(keep)} of {len(s.queries)} keys (embedding time budget)")
            small[i] = PairTask(s.task, s.a, s.b, [s.queries[k] for k in keep], [s.positives[k] for k in keep],
                                s.dropped_identical, s.dropped_ambiguous, s.available)

    pools = [int(x) for x in args.pools.split(",")]
    rows = []
    side_by_side = list(systems) if model_systems else []
    full = ["lexical"] * ("lexical" in systems) + list(precomputed)
    for view, task_list, names in (("side_by_side", small, side_by_side), ("full", tasks, full)):
        for name in names:
            system = systems.get(name) or precomputed.get(name)
            if system is None:
                continue
            for t in task_list:
                if len(t.queries) < 2:
                    continue
                vecs = vectors_for(system, t, model)
                if vecs is None:
                    notes.append(f"{name}: vectors missing for {t.name} ({view}); skipped")
                    continue
                for r in score(vecs[0], vecs[1], pools, args.seeds):
                    rows.append({"view": view, "system": name, "task": t.task, "pair": t.name, **r})
            print(f"scored {name} ({view})", flush=True)
    report = {
        "command": command_line(argv),
        "corpus": {"path": str(args.corpus), "split": args.split, "test_projects": split.projects, "keys": len(split.keys),
                   "functions": split.functions},
        "systems": {n: getattr(s, "description", n) for n, s in (systems | precomputed).items()},
        "tasks": [{"task": t.task, "pair": t.name, "a": setting_name(t.a), "b": setting_name(t.b),
                   "available": t.available, "dropped_identical": t.dropped_identical,
                   "dropped_ambiguous": t.dropped_ambiguous, "keys_full": len(t.queries),
                   "keys_side_by_side": len(s.queries)} for t, s in zip(tasks, small)],
        "pools": pools, "seeds": args.seeds, "results": rows, "aggregate": aggregate(rows),
        "embedding": embedding_note, "notes": notes, "report_notes": args.note,
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "seconds": time.monotonic() - started,
    }
    write_report(args.out, report, markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
