"""KV-cache shift on prefix-window moves: same greedy suggestions? how many tokens saved?

    PYTHONPATH=server python -m bench.kv_shift --docs gcc-O2,clang-O0 --out bench/results/kv_shift

The typing replay's documents and keystrokes (bench/typing_replay.py: the typed function is
typed back key by key, the user pauses at line starts after the indentation and after a
mnemonic + separator), driven straight into a ``CompletionEngine`` in this process, once with
``kv_shift`` off and once on. After every key the engine prefills the prompt there (as the
server does on didChange) and we wait until it is idle, so both runs see the same sequence of
prompts; at every pause point a greedy completion is asked (no assembler check, no
follow-ups, suggestion cache cleared first). Figures: pause points whose suggestion differs
between the two runs (split into before/after the first window move, where the shift
matters), prompt tokens evaluated, and the time of the requests right after a window move.

Writes OUT.json and OUT.md.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from asm_lsp.model.engine import CompletionEngine, CompletionRequest
from asm_lsp.model.prompt import cut_window
from asm_lsp.model.store import resolve_model
from asm_lsp.model.suggest import Hole, SuggestionCache
from bench.common import ROOT, write_report
from bench.typing_replay import Document, build_documents, pause_kind


def matching_lines(text: str, truth: str) -> int:
    """How many of the suggestion's leading lines equal what the user types there (trailing blanks aside)."""
    count = 0
    for got, want in zip(text.split("\n") if text else [], truth.split("\n")):
        if got.rstrip() != want.rstrip():
            break
        count += 1
    return count


def wait_idle(engine: CompletionEngine) -> None:
    while engine.busy:
        time.sleep(0.005)


def replay(doc: Document, files: Any, kv_shift: bool, threads: int) -> dict[str, Any]:
    engine = CompletionEngine(files, threads=threads, kv_shift=kv_shift)
    engine.start()
    if not engine.wait_ready(300):
        raise SystemExit(f"model not ready: {engine.status()}")
    lines = doc.opened.split("\n")
    line, col = doc.start, 0
    points: list[dict[str, Any]] = []
    window = -1
    t_start = time.monotonic()
    prefill_s = 0.0
    key_window = -1
    moves: list[dict[str, Any]] = []  # keys whose prompt has the prefix window moved: their prefill time

    def ask(kind: str) -> None:
        nonlocal window
        text = "\n".join(lines)
        hole = Hole.at(text, line, col)
        start = cut_window(hole.prefix, hole.suffix).prefix_first_line
        moved = window >= 0 and start != window
        window = start
        engine.cache = SuggestionCache(64)
        t0 = time.monotonic()
        suggestion = engine.submit(CompletionRequest(text, line, col, time_budget_ms=600_000, follow_up=False)).result()
        info = dict(engine.last_timings)
        offset = line - doc.start
        truth = "\n".join([doc.typed[offset][col:]] + doc.typed[offset + 1:])
        points.append({"typed_line": line - doc.start, "col": col, "kind": kind, "window_start": start,
                       "window_moved": moved, "ms": round((time.monotonic() - t0) * 1000, 1),
                       "text": suggestion.text if suggestion else "", "truth_lines": matching_lines(
                           suggestion.text if suggestion else "", truth),
                       "truth": truth.split("\n", 1)[0],
                       "prompt_tokens": int(info.get("prompt_tokens", 0)), "reused_tokens": int(info.get("reused_tokens", 0))})

    events: list[str] = []
    for index, typed_line in enumerate(doc.typed):
        if index:
            events.append("\n")
        events.extend(typed_line)
    for piece in events:
        current = lines[line]
        new = (current[:col] + piece + current[col:]).split("\n")
        lines[line:line + 1] = new
        line += len(new) - 1
        col = len(new[-1]) - len(current[col:])
        text = "\n".join(lines)
        hole = Hole.at(text, line, col)
        start = cut_window(hole.prefix, hole.suffix).prefix_first_line
        t0 = time.monotonic()
        engine.prefill(text, line, col)
        wait_idle(engine)
        prefill_s += time.monotonic() - t0
        if key_window >= 0 and start != key_window:
            moves.append({"typed_line": line - doc.start, "prefill_ms": round((time.monotonic() - t0) * 1000, 1)})
        key_window = start
        kind = pause_kind(doc.typed[line - doc.start], col)
        if kind:
            ask(kind)
    result = {"kv_shift": kv_shift, "points": points, "moves": moves, "wall_s": round(time.monotonic() - t_start, 1),
              "prefill_s": round(prefill_s, 1), "stats": dict(engine.stats)}
    engine.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", default="gcc-O2,clang-O0", help="compilers for the documents (bench/typing_replay.py)")
    parser.add_argument("--adapter", default="default", help='"default" (shipped LoRA) or "none"')
    parser.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0 = physical cores)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "kv_shift")
    args = parser.parse_args()
    files = resolve_model("", args.adapter, "")
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load_start = [round(x, 2) for x in os.getloadavg()]
    runs = []
    with tempfile.TemporaryDirectory(prefix="kv-shift-") as tmp:
        docs = build_documents([d for d in args.docs.split(",") if d], Path(tmp))
        for doc in docs:
            off = replay(doc, files, False, args.threads)
            on = replay(doc, files, True, args.threads)
            runs.append({"document": doc.name, "lines": len(doc.lines), "typed": [doc.start, doc.end], "off": off, "on": on})
            print(summary_line(runs[-1]), file=sys.stderr, flush=True)
    report = {"command": "PYTHONPATH=server python -m bench.kv_shift " + " ".join(sys.argv[1:]), "started": started,
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "load_avg_start": load_start,
              "load_avg_end": [round(x, 2) for x in os.getloadavg()],
              "adapter": files.adapter.name if files.adapter else "none", "runs": runs}
    write_report(args.out, report, markdown(report))
    print(markdown(report))


def figures(run: dict[str, Any]) -> dict[str, Any]:
    off, on = run["off"]["points"], run["on"]["points"]
    first_move = next((i for i, p in enumerate(off) if p["window_moved"]), len(off))
    differ = [i for i, (a, b) in enumerate(zip(off, on)) if a["text"] != b["text"]]
    return {
        "pause_points": len(off), "after_first_move": len(off) - first_move,
        "differ": len(differ), "differ_after_first_move": sum(i >= first_move for i in differ),
        "differ_at": [{"typed_line": off[i]["typed_line"], "off": off[i]["text"], "on": on[i]["text"],
                       "truth": off[i]["truth"]} for i in differ],
        "moves": len(run["off"]["moves"]),
        "move_ms_off": [m["prefill_ms"] for m in run["off"]["moves"]],
        "move_ms_on": [m["prefill_ms"] for m in run["on"]["moves"]],
        "tokens_evaluated_off": run["off"]["stats"]["prompt_tokens_evaluated"],
        "tokens_evaluated_on": run["on"]["stats"]["prompt_tokens_evaluated"],
        "kv_shifts": run["on"]["stats"].get("kv_shifts", 0),
        "first_line_exact_off": sum(p["truth_lines"] > 0 for p in off),
        "first_line_exact_on": sum(p["truth_lines"] > 0 for p in on),
        "lines_exact_off": sum(p["truth_lines"] for p in off), "lines_exact_on": sum(p["truth_lines"] for p in on),
        "prefill_s_off": run["off"]["prefill_s"], "prefill_s_on": run["on"]["prefill_s"],
    }


def summary_line(run: dict[str, Any]) -> str:
    f = figures(run)
    return (f"{run['document']}: {f['differ']}/{f['pause_points']} pause points differ "
            f"({f['differ_after_first_move']}/{f['after_first_move']} after the first move); tokens evaluated "
            f"{f['tokens_evaluated_off']} -> {f['tokens_evaluated_on']}; shifts {f['kv_shifts']}")


def markdown(report: dict[str, Any]) -> str:
    out = ["# KV-cache shift on prefix-window moves", "",
           f"`{report['command']}` — {report['started']}, {report['machine']}, load {report['load_avg_start']} -> "
           f"{report['load_avg_end']}, adapter {report['adapter']}", "",
           "Every key prefilled and waited for; a greedy suggestion at every pause point; `kv_shift` off vs on "
           "(see the module docstring of bench/kv_shift.py).", "",
           "| document | pause points (after 1st move) | suggestions differ (after 1st move) | window moves | "
           "prefill ms at moves off / on | prompt tokens evaluated off / on | time in prefills off / on, s | "
           "exact first lines off / on | exact leading lines off / on |",
           "|---|---|---|---|---|---|---|---|---|"]
    for run in report["runs"]:
        f = figures(run)
        out.append(f"| `{run['document']}` | {f['pause_points']} ({f['after_first_move']}) | {f['differ']} "
                   f"({f['differ_after_first_move']}) | {f['moves']} ({f['kv_shifts']} shifts) | {f['move_ms_off']} / "
                   f"{f['move_ms_on']} | {f['tokens_evaluated_off']:,} / {f['tokens_evaluated_on']:,} | "
                   f"{f['prefill_s_off']} / {f['prefill_s_on']} | {f['first_line_exact_off']} / {f['first_line_exact_on']} | "
                   f"{f['lines_exact_off']} / {f['lines_exact_on']} |")
    out.append("")
    for run in report["runs"]:
        for d in figures(run)["differ_at"]:
            out.append(f"- `{run['document']}` typed line {d['typed_line']}: off `{d['off']!r}`, on `{d['on']!r}`, "
                       f"user types `{d['truth']!r}`")
    out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    main()
