"""Model sizes on this machine: the 0.5B (merged weights, the default) vs the 1.5B (base, no adapter).

    PYTHONPATH=server:. nice -n 5 python -m bench.model_sizes --holes 2
    -> bench/results/model_sizes.json and bench/results/model_sizes.md

Both models answer the same held-out holes (models/evaluate.py cases at --opts, gcc and clang,
evaluate.py's seed) through the server's engine, hole by hole in a rotating order, so they
run under the same machine load. Per model: load time, answer latency (p50/p95 of the whole
request: prompt evaluation with whatever the KV cache still holds, plus decoding), prompt
tokens/s, decode ms/token, exact match (few holes: a sanity figure, not an evaluation), file
size, and RSS after loading and answering one hole in a process of its own.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from asm_lsp.model.store import resolve_model
from bench.common import percentile, rounded, write_report
from bench.merged_weights import answer_rotating, machine, rss_of, summarize
from models import evaluate

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"


def markdown(report: dict) -> str:
    out = ["# Model sizes: 0.5B (merged, default) vs 1.5B (base)", "", f"`{report['command']}`", "",
           f"Machine: {report['machine']['cpus']} CPUs, {report['threads']} llama.cpp threads, llama-cpp-python "
           f"{report['machine']['llama_cpp_python']}; load before: `{report['machine']['uptime_before']}`; "
           f"after: `{report['uptime_after']}`.", "",
           f"{report['holes']} held-out holes ({report['hole_source']}), models interleaved hole by hole.", "",
           "| model | file MB | load s | answer p50 / p95 ms | prompt tok/s | decode ms/token | exact % | RSS MB (peak) |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, s in report["systems"].items():
        rss = s.get("rss", {})
        out.append(f"| {name} | {s['file_mb']} | {s['load_s']} | {s['answer_ms_p50']} / {s['answer_ms_p95']} | "
                   f"{s['prompt_tok_s']} | {s['decode_ms_per_token']} | {s['exact_pct']} | "
                   f"{rss.get('rss_mb', '-')} ({rss.get('peak_rss_mb', '-')}) |")
    ratio = report.get("ratio_1_5b_over_0_5b", {})
    out += ["", "1.5B / 0.5B: " + ", ".join(f"{k} {v}x" for k, v in ratio.items()), ""]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--holes", type=int, default=2, help="line holes per compiler x opt (and half as many blocks)")
    p.add_argument("--opts", default="O0,O2", help="opt levels of the holes")
    p.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    p.add_argument("--out", type=Path, default=RESULTS / "model_sizes", help="report path without suffix")
    args = p.parse_args(argv)
    report: dict = {"command": "python -m bench.model_sizes " + " ".join(sys.argv[1:] if argv is None else argv),
                    "machine": machine(), "threads": args.threads}
    small = resolve_model()  # the default: merged weights
    large = resolve_model(size="1.5b")
    systems = {
        f"0.5b ({small.weights})": {"spec": f"small=model:{small.model}", "file_mb": round(small.model_size / 1e6, 1)},
        f"1.5b ({large.weights})": {"spec": f"large=model:{large.model}", "file_mb": round(large.model_size / 1e6, 1)},
    }
    opts = tuple(o for o in args.opts.split(",") if o)
    holes, by_id, hole_source = evaluate.case_holes(opts, args.holes)
    report["holes"] = len(holes)
    report["hole_source"] = hole_source

    runners = {}
    for name, system in systems.items():
        started = time.monotonic()
        runners[name] = evaluate.Runner(evaluate.System.parse(system["spec"]), args.threads, 2048)
        system["load_s"] = round(time.monotonic() - started, 1)
    names = list(runners)
    answers = answer_rotating(runners, holes, by_id, lambda row: f"{row['timings'].get('elapsed_ms', 0):.0f} ms")
    first = holes[0]
    hole_json = json.dumps({"document": first.document(by_id), "line": first.line, "col": first.col,
                            "max_lines": first.n_lines})
    for name, system in systems.items():
        rows = answers[name]
        elapsed = [r["timings"].get("elapsed_ms", 0.0) for r in rows]
        system.update({k: v for k, v in summarize(rows, rows).items() if k != "agreement_with_runtime_adapter_pct"})
        system["answer_ms_p50"] = rounded(percentile(elapsed, 0.5))
        system["answer_ms_p95"] = rounded(percentile(elapsed, 0.95))
        system["answer_ms_mean"] = round(statistics.fmean(elapsed), 1) if elapsed else None
        system["rss"] = rss_of(system.pop("spec"), hole_json, args.threads)
    small_s, large_s = (systems[n] for n in names)
    report["ratio_1_5b_over_0_5b"] = {
        key: round(large_s[key] / small_s[key], 2)
        for key in ("answer_ms_p50", "answer_ms_mean", "decode_ms_per_token", "load_s")
        if small_s.get(key) and large_s.get(key)}
    if small_s.get("prompt_tok_s") and large_s.get("prompt_tok_s"):
        report["ratio_1_5b_over_0_5b"]["prompt_time"] = round(small_s["prompt_tok_s"] / large_s["prompt_tok_s"], 2)
    report["systems"] = systems
    report["answers"] = [{"hole": h.id, "expected": h.expected, **{n: answers[n][i]["text"] for n in names}}
                         for i, h in enumerate(holes)]
    report["uptime_after"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    write_report(args.out, report, markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
