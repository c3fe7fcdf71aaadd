"""Merged weights vs the runtime adapter: speed, agreement, exact match, RSS, merge time, size.

    PYTHONPATH=server:. nice -n 5 python -m bench.merged_weights --holes 3
    -> bench/results/merged_weights.json and bench/results/merged_weights.md

Systems (each a server engine, asked as models/evaluate.py asks: greedy, no assembler check):
    runtime-adapter   the packaged base Q4_K_M + the shipped LoRA applied by llama.cpp at run time
    merged-q8_0       the LoRA merged in by asm_lsp.model.lora_merge, merged tensors stored Q8_0
    merged-same       the same merge, each merged tensor re-quantized to its base type where
                      numpy can (Q5_0, Q8_0), else Q8_0 (the Q4_K/Q6_K ffn_down tensors)

Holes: models/evaluate.py's held-out cases (bench/exec_completion/cases/*.c compiled by gcc
and clang at --opts), ``--holes`` line holes and half as many 3-line block holes per
(compiler, opt) group, evaluate.py's seed. The systems answer hole by hole, in a rotating
order, so their speeds are measured under the same machine load.

Figures: decode ms/token and prompt tokens/s from the engine's own timings; agreement =
the same answer text as the runtime adapter; exact = evaluate.exact_match against the
removed lines; RSS after loading and answering one hole, each system in its own process;
merge time and file size of each merged GGUF, made fresh in this run.
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

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # as the server: before llama_cpp loads libgomp

from asm_lsp.model import lora_merge  # noqa: E402
from asm_lsp.model.store import llama_cpp_version, packaged_adapter, resolve_model  # noqa: E402
from bench.common import write_report
from models import evaluate  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
TARGETS = ("q8_0", "same")


def machine() -> dict:
    return {"uptime_before": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
            "cpus": os.cpu_count(), "python": platform.python_version(), "llama_cpp_python": llama_cpp_version()}



def answer_rotating(runners: dict, holes: list, by_id: dict, show) -> dict[str, list[dict]]:
    """Each hole answered by every runner, who goes first rotating hole by hole, so the systems'
    speeds are measured under the same machine load; the runners are closed at the end.
    ``show(row)`` is what the progress line prints of each answer."""
    answers: dict[str, list[dict]] = {name: [] for name in runners}
    names = list(runners)
    try:
        for index, hole in enumerate(holes):
            document = hole.document(by_id)
            for name in names[index % len(names):] + names[:index % len(names)]:
                text, timings = runners[name].answer(document, hole.line, hole.col, hole.n_lines)
                answers[name].append({"text": text, "timings": timings, "kind": hole.kind,
                                      "exact": evaluate.exact_match(text, hole.expected)})
            print(f"hole {index + 1}/{len(holes)} {hole.id}: "
                  + " | ".join(f"{n}: {show(answers[n][-1])}" for n in names), flush=True)
    finally:
        for runner in runners.values():
            runner.close()
    return answers

def rss_of(system: str, hole_json: str, threads: int) -> dict:
    """VmRSS / VmHWM (MB) of a fresh process that loaded ``system`` and answered one hole."""
    done = subprocess.run([sys.executable, "-m", "bench.merged_weights", "--rss-child", system,
                           "--rss-hole", hole_json, "--threads", str(threads)],
                          capture_output=True, text=True, cwd=REPO, env=os.environ)
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    return {"error": done.stderr.strip()[-500:]}


def rss_child(system: str, hole: dict, threads: int) -> int:
    runner = evaluate.Runner(evaluate.System.parse(system), threads, 2048)
    runner.answer(hole["document"], hole["line"], hole["col"], hole["max_lines"])
    status = Path("/proc/self/status").read_text()
    fields = {k: int(v.split()[0]) // 1024 for k, v in (line.split(":", 1) for line in status.splitlines())
              if k in ("VmRSS", "VmHWM")}
    runner.close()
    print(json.dumps({"rss_mb": fields.get("VmRSS"), "peak_rss_mb": fields.get("VmHWM")}))
    return 0


def decode_rates(models: dict[str, tuple[Path, Path | None]], prompt: str, rounds: int, tokens: int,
                 threads: int) -> dict:
    """Raw llama.cpp, one Llama per system: each round evaluates ``prompt`` and decodes ``tokens``
    greedy tokens with every system in turn (the order rotates), so a change in the machine's
    load falls on all of them. Medians over rounds of prompt ms/token and decode ms/token."""
    from models.merge import load

    llms = {name: load(model, lora, n_ctx=1024, threads=threads) for name, (model, lora) in models.items()}
    ids = next(iter(llms.values())).tokenize(prompt.encode(), add_bos=False, special=True)
    times: dict[str, dict[str, list[float]]] = {name: {"prompt": [], "decode": []} for name in llms}
    names = list(llms)
    try:
        for round_ in range(rounds):
            for name in names[round_ % len(names):] + names[:round_ % len(names)]:
                llms[name].reset()  # else generate() reuses the cached prompt and evaluates 1 token
                started = time.perf_counter()
                stamps = []
                for _ in llms[name].generate(ids, temp=0.0, top_k=1, reset=True):
                    stamps.append(time.perf_counter())
                    if len(stamps) > tokens:
                        break
                times[name]["prompt"].append((stamps[0] - started) * 1000 / len(ids))
                times[name]["decode"].append((stamps[-1] - stamps[0]) * 1000 / (len(stamps) - 1))
    finally:
        for llm in llms.values():
            llm.close()
    out = {name: {"prompt_ms_per_token": round(statistics.median(t["prompt"]), 3),
                  "decode_ms_per_token": round(statistics.median(t["decode"]), 2),
                  "decode_ms_per_token_p25_p75": [round(statistics.quantiles(t["decode"], n=4)[0], 2),
                                                  round(statistics.quantiles(t["decode"], n=4)[2], 2)]}
           for name, t in times.items()}
    reference = out[names[0]]
    for name in names:
        out[name]["decode_vs_first"] = round(out[name]["decode_ms_per_token"] / reference["decode_ms_per_token"], 3)
        out[name]["prompt_vs_first"] = round(out[name]["prompt_ms_per_token"] / reference["prompt_ms_per_token"], 3)
    return {"rounds": rounds, "prompt_tokens": len(ids), "decode_tokens": tokens, "systems": out}


def summarize(rows: list[dict], reference: list[dict]) -> dict:
    decode_ms = sum(r["timings"].get("decode_ms", 0.0) for r in rows)
    decode_tokens = sum(r["timings"].get("generated_tokens", 0) for r in rows)
    per_token = [r["timings"]["decode_ms"] / r["timings"]["generated_tokens"] for r in rows
                 if r["timings"].get("generated_tokens")]
    same = [a["text"] == b["text"] for a, b in zip(rows, reference)]
    return {
        **evaluate.speed(rows),
        "decode_ms_per_token": round(decode_ms / decode_tokens, 2) if decode_tokens else None,
        "decode_ms_per_token_median_hole": round(statistics.median(per_token), 2) if per_token else None,
        "agreement_with_runtime_adapter_pct": round(100.0 * sum(same) / len(same), 1) if same else None,
        "exact_pct": round(100.0 * sum(r["exact"] for r in rows) / len(rows), 1) if rows else None,
        "exact_line_pct": _pct([r["exact"] for r in rows if r["kind"] == "line"]),
        "exact_block_pct": _pct([r["exact"] for r in rows if r["kind"] == "block"]),
    }


def _pct(values: list[bool]) -> float | None:
    return round(100.0 * sum(values) / len(values), 1) if values else None


def markdown(report: dict) -> str:
    out = ["# Merged weights vs the runtime adapter", "",
           f"`{report['command']}`", "",
           f"Machine: {report['machine']['cpus']} CPUs, llama-cpp-python {report['machine']['llama_cpp_python']}; "
           f"load before: `{report['machine']['uptime_before']}`; after: `{report['uptime_after']}`.", "",
           f"{report['holes']} held-out holes ({report['hole_source']}), systems interleaved hole by hole.", "",
           "| system | file MB | merge s | decode ms/token | vs runtime | prompt tok/s | agreement % | exact % "
           "(line / block) | RSS MB (peak) |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    ref = report["systems"]["runtime-adapter"]["decode_ms_per_token"]
    for name, s in report["systems"].items():
        ratio = f"{s['decode_ms_per_token'] / ref:.2f}x" if ref and s["decode_ms_per_token"] else "-"
        rss = s.get("rss", {})
        out.append(f"| {name} | {s['file_mb']} | {s.get('merge_seconds', '-')} | {s['decode_ms_per_token']} | {ratio} | "
                   f"{s['prompt_tok_s']} | {s['agreement_with_runtime_adapter_pct']} | {s['exact_pct']} "
                   f"({s['exact_line_pct']} / {s['exact_block_pct']}) | {rss.get('rss_mb', '-')} "
                   f"({rss.get('peak_rss_mb', '-')}) |")
    raw = report.get("raw_llama_cpp")
    if raw:
        out += ["", f"Raw llama.cpp ({raw['rounds']} rounds, systems in rotating order each round; "
                f"{raw['prompt_tokens']}-token prompt, {raw['decode_tokens']} greedy tokens; medians):", "",
                "| system | prompt ms/token | vs runtime | decode ms/token (p25-p75) | vs runtime |",
                "| --- | --- | --- | --- | --- |"]
        for name, r in raw["systems"].items():
            out.append(f"| {name} | {r['prompt_ms_per_token']} | {r['prompt_vs_first']:.2f}x | {r['decode_ms_per_token']} "
                       f"({r['decode_ms_per_token_p25_p75'][0]}-{r['decode_ms_per_token_p25_p75'][1]}) | "
                       f"{r['decode_vs_first']:.2f}x |")
        out += ["", "The first table: the engine's own timings on the holes (decode ms/token = all decode time / all "
                "generated tokens); this one: raw llama.cpp, the cleaner speed figure on a loaded machine."]
    out += ["", "file MB for runtime-adapter: base + adapter. sha256 of each merged file: "
            + ", ".join(f"{n} `{s['sha256']}`" for n, s in report["systems"].items() if s.get("sha256")), ""]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--holes", type=int, default=3, help="line holes per compiler x opt (and half as many blocks)")
    p.add_argument("--opts", default="O0,O2", help="opt levels of the holes")
    p.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    p.add_argument("--decode-rounds", type=int, default=10, help="rounds of the raw llama.cpp decode measurement")
    p.add_argument("--decode-tokens", type=int, default=32, help="greedy tokens decoded per round")
    p.add_argument("--out", type=Path, default=RESULTS / "merged_weights", help="report path without suffix")
    p.add_argument("--rss-child", default="", help=argparse.SUPPRESS)
    p.add_argument("--rss-hole", default="", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.rss_child:
        return rss_child(args.rss_child, json.loads(args.rss_hole), args.threads)

    report: dict = {"command": "python -m bench.merged_weights " + " ".join(sys.argv[1:] if argv is None else argv),
                    "machine": machine()}
    base = resolve_model(adapter="none").model
    lora, _ = packaged_adapter()
    work = Path(tempfile.mkdtemp(prefix="asm-lsp-merged-"))
    systems = {"runtime-adapter": {"spec": f"runtime-adapter=adapter:{lora}",
                                   "file_mb": round((base.stat().st_size + lora.stat().st_size) / 1e6, 1)}}
    for target in TARGETS:
        result = lora_merge.merge_lora(base, lora, work / f"merged-{target}.gguf", target)
        systems[f"merged-{target}"] = {"spec": f"merged-{target}=model:{result.path}", "file_mb": round(result.size / 1e6, 1),
                                       "merge_seconds": result.seconds, "sha256": result.sha256}
        print(f"merged {target}: {result.size:,} bytes in {result.seconds} s", flush=True)

    opts = tuple(o for o in args.opts.split(",") if o)
    holes, by_id, hole_source = evaluate.case_holes(opts, args.holes)

    # Raw speed first: the prompt is the first hole's document up to the hole (~the server's prefix).
    first = holes[0]
    document = first.document(by_id).split("\n")
    prompt = "<|fim_prefix|>" + "\n".join(document[max(0, first.line - 40):first.line]) + "\n" + first.indent
    raw = {"runtime-adapter": (base, lora), **{f"merged-{t}": (Path(systems[f"merged-{t}"]["spec"].split("model:", 1)[1]), None)
                                              for t in TARGETS}}
    report["raw_llama_cpp"] = decode_rates(raw, prompt, args.decode_rounds, args.decode_tokens, args.threads)
    print(json.dumps(report["raw_llama_cpp"], indent=1), flush=True)
    report["holes"] = len(holes)
    report["hole_source"] = hole_source

    runners = {name: evaluate.Runner(evaluate.System.parse(s["spec"]), args.threads, 2048) for name, s in systems.items()}
    answers = answer_rotating(runners, holes, by_id, lambda row: repr(row["text"][:30]))

    first = holes[0]
    hole_json = json.dumps({"document": first.document(by_id), "line": first.line, "col": first.col,
                            "max_lines": first.n_lines})
    for name, system in systems.items():
        system.update(summarize(answers[name], answers["runtime-adapter"]))
        system["rss"] = rss_of(system.pop("spec"), hole_json, args.threads)
    report["systems"] = systems
    report["disagreements"] = [
        {"hole": h.id, "expected": h.expected, **{n: answers[n][i]["text"] for n in answers}}
        for i, h in enumerate(holes) if len({answers[n][i]["text"] for n in answers}) > 1]
    report["uptime_after"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    for path in work.iterdir():
        path.unlink()
    work.rmdir()
    write_report(args.out, report, markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
