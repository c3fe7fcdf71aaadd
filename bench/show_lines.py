"""How many lines to show at once, per situation: how often the lines after the first are right.

    PYTHONPATH=server python -m bench.show_lines            # ~5 min on 2 quiet cores
    -> bench/results/show_lines.json and bench/results/show_lines.md

The engine answers at the first line and decodes on (up to 4 lines here) into the suggestion
cache behind it (suggest.show_lines decides how many lines the first answer waits for). Showing
a second line at once pays only when it is right often enough, since waiting for it costs its
decode tokens before anything is shown.

Test data: the typing replay's documents (bench/typing_replay.py: bench/exec_completion/cases
compiled by gcc -O2 and clang -O0, ~300 lines around one typed function). Holes, for every line
of the typed function after its label (quality only, in this process, greedy, no time budget):
- ``between``: that line emptied, the rest of the function after it (a blank line with code after);
- ``block-end`` / ``empty-function``: the function cut at that line (the user is writing it; what
  follows is the next function), classified by ``suggest.situation``.
Per situation: holes, first line exact, second line exact when the first is, all shown lines
exact for 1, 2 and 3 lines, and the decode tokens the second line costs.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from asm_lsp.model.engine import CompletionEngine, CompletionRequest
from asm_lsp.model.store import resolve_model
from asm_lsp.model.suggest import Hole, situation
from bench.common import RESULTS, machine
from bench.typing_replay import build_documents

MAX_LINES = 4


def holes(doc: Any) -> list[tuple[str, str, int, list[str]]]:
    """(kind, text, line, the true lines from there) for the typed function's lines."""
    out = []
    typed = doc.typed
    label = next((i for i, line in enumerate(typed) if line.endswith(":") and not line.startswith(".")), 0)
    for i in range(label + 1, len(typed)):
        if not typed[i].strip():
            continue
        line = doc.start + i
        between = doc.lines[:line] + [""] + doc.lines[line + 1:]
        out.append(("between", "\n".join(between), line, typed[i:]))
        cut = doc.lines[:line] + [""] + doc.lines[doc.end + 1:]
        out.append(("cut", "\n".join(cut), line, typed[i:]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", default="gcc-O2,clang-O0", help="compilers for the documents")
    parser.add_argument("--adapter", default="default", help='"default" (shipped) or "none"')
    parser.add_argument("--limit", type=int, default=0, help="at most this many holes per document and kind (0: all)")
    parser.add_argument("--out", type=Path, default=RESULTS / "show_lines", help="results path without suffix")
    args = parser.parse_args(argv)
    load = [round(x, 2) for x in os.getloadavg()]
    t0 = time.monotonic()
    engine = CompletionEngine(lambda: resolve_model("", args.adapter, ""), kv_shift=True)
    engine.start()
    if not engine.wait_ready(600):
        raise SystemExit(f"model not ready: {engine.status()}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="show-lines-") as tmp:
        docs = build_documents([d for d in args.docs.split(",") if d], Path(tmp))
    for doc in docs:
        found = holes(doc)
        if args.limit:
            found = [h for h in found if h[0] == "between"][: args.limit] + [h for h in found if h[0] == "cut"][: args.limit]
        for kind, text, line, truth in found:
            hole = Hole.at(text, line, 0)
            engine.cache.clear()
            before = engine.stats["generated_tokens"]
            engine.submit(CompletionRequest(text, line, 0, max_lines=MAX_LINES, time_budget_ms=600_000,
                                            follow_up=False)).result()
            while engine.busy:
                time.sleep(0.01)
            tokens = engine.stats["generated_tokens"] - before
            decoded = engine.cache.lookup(hole)
            lines = decoded[0].split("\n") if decoded else []
            exact = [i < len(truth) and i < len(lines) and lines[i].strip() == truth[i].strip() for i in range(MAX_LINES)]
            rows.append({"doc": doc.name, "kind": kind, "situation": situation(hole), "line": line,
                         "decoded_lines": len(lines), "tokens": tokens, "exact": exact,
                         "shown": lines[:MAX_LINES], "truth": [t.strip() for t in truth[:MAX_LINES]]})
            print(rows[-1]["situation"], exact, lines[:2], file=sys.stderr)
    engine.close()
    report = {"command": "PYTHONPATH=server python -m bench.show_lines " + " ".join(argv or sys.argv[1:]),
              "machine": machine(), "load_avg_start": load, "load_avg_end": [round(x, 2) for x in os.getloadavg()],
              "wall_s": round(time.monotonic() - t0), "adapter": args.adapter, "max_lines": MAX_LINES,
              "documents": [d.name for d in docs], "by_situation": summarize(rows), "holes": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for name in sorted({r["situation"] for r in rows}):
        group = [r for r in rows if r["situation"] == name]
        first = [r for r in group if r["exact"][0]]
        two = [r for r in group if r["decoded_lines"] >= 2]
        per_line = [r["tokens"] / r["decoded_lines"] for r in group if r["decoded_lines"]]
        out[name] = {
            "holes": len(group),
            "first_exact": len(first),
            "second_decoded": len(two),
            "second_exact_given_first": sum(r["exact"][1] for r in first),
            "first_two_exact": sum(r["exact"][0] and r["exact"][1] for r in group),
            "first_three_exact": sum(all(r["exact"][:3]) for r in group),
            "tokens_per_line": round(sum(per_line) / len(per_line), 1) if per_line else None,
        }
    return out


def markdown(r: dict[str, Any]) -> str:
    lines = ["# Lines to show at once, per situation", "",
             f"`{r['command']}` — {r['machine']}; load average {r['load_avg_start']} at start, {r['load_avg_end']} at end; "
             f"{r['wall_s']} s; adapter {r['adapter']}; documents {', '.join(r['documents'])}.", "",
             "| situation | holes | 1st line exact | 2nd line decoded | 2nd exact when 1st is | 1st+2nd exact | 1st-3rd exact | decode tokens a line |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, s in r["by_situation"].items():
        lines.append(f"| {name} | {s['holes']} | {s['first_exact']} | {s['second_decoded']} | "
                     f"{s['second_exact_given_first']} / {s['first_exact']} | {s['first_two_exact']} | "
                     f"{s['first_three_exact']} | {s['tokens_per_line']} |")
    lines += ["", "Reading: showing two lines at once is right only where the 1st+2nd column is close to the 1st; "
              "every further line waits its decode tokens (~30-60 ms each on 2 quiet cores) before anything is "
              "shown, and the engine decodes it into the cache behind a one-line answer anyway.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
