"""Hover, definition and outline latency on a 3,000-line macro-heavy file, through the server.

    python -m bench.macro_latency          # writes bench/results/macro_latency.{json,md}

File: dav1d 1.0.0's `src/arm/64/mc.S` (3,310 lines, unmodified; Debian bookworm source,
fetched by models/corpus/fetch.py into bench/work/handwritten/): 400 `.macro`
invocations, functions made by `function` (defined in `src/arm/asm.S`, included) and by
the file's own macros through two levels. The workspace is dav1d's `src/arm/` folder (its 64-bit
files and asm.S), so the macros resolve across files as in an editor.

Requests go one at a time over stdio to `python -m asm_lsp --stdio --no-model` (the
defaults otherwise):
- hover and definition at sampled positions: macro invocations (`function`, `endfunc`,
  `movrel`, the file's own macros), function names made by macros, and branch targets;
- documentSymbol (the outline) of the open file, and documentSymbol right after an
  edit (a didChange that adds then removes a blank line; the answer includes the new parse).

Goal (issue 15): p95 <= 50 ms for hover, definition and outline.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import RESULTS, ROOT, command_line, cpu_seconds, machine, percentile, write_report
from bench.lsp_client import LspClient

GOAL_MS = 50.0


def targets(text: str, macro_names: set[str]) -> dict[str, list[tuple[int, int]]]:
    """(line, column) positions of each kind in ``text``."""
    from asm_lsp.syntax import parse

    doc = parse(text)
    found: dict[str, list[tuple[int, int]]] = {"macro invocation": [], "macro-made function": [], "branch target": []}
    for s in doc.statements:
        if s.kind == "instruction" and s.name in macro_names:
            found["macro invocation"].append((s.line, s.name_start + 1))
    for f in doc.functions:
        label = next((d for d in doc.definitions(f.name) if d.line == f.label_line), None)
        if label is not None:
            found["macro-made function"].append((label.line, label.start + 1))
    for n, line in enumerate(doc.lines):
        m = re.match(r"\s*(?:bl?|b\.\w+|cbn?z\s+\w+,|tbn?z\s+\w+,\s*#?\w+,)\s+([A-Za-z_]\w*)", line)
        if m:
            found["branch target"].append((n, m.start(1) + 1))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="hover and definition requests each")
    parser.add_argument("--outlines", type=int, default=60, help="documentSymbol requests (each kind)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "macro_latency")
    args = parser.parse_args()
    from models.corpus.fetch import fetch_package
    from asm_lsp.syntax import parse

    work = ROOT / "bench" / "work" / "handwritten"
    package = fetch_package("dav1d", work / "downloads" / "dav1d", work / "src" / "dav1d")
    rng = random.Random(args.seed)
    results: dict = {**machine(), "command": command_line(), "source": f"dav1d {package.version} src/arm/64/mc.S"}
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "dav1d"
        shutil.copytree(package.root / "src" / "arm", ws / "src" / "arm")
        path = ws / "src" / "arm" / "64" / "mc.S"
        text = path.read_text()
        macro_names = set()
        for other in list((ws / "src" / "arm").glob("*.S")) + list((ws / "src" / "arm" / "64").glob("*.S")):
            macro_names |= {m.name.lower() for m in parse(other.read_text()).macros if m.kind == "macro"}
        places = targets(text, macro_names)
        results["file"] = {"lines": text.count("\n") + 1, **{k: len(v) for k, v in places.items()}}
        print(f"{results['source']}: {results['file']}", flush=True)

        client = LspClient(stderr_log=Path(tmp) / "server.log", strict=False)
        client.request("initialize", {"processId": os.getpid(), "rootUri": ws.as_uri(),
                                      "workspaceFolders": [{"uri": ws.as_uri(), "name": "dav1d"}],
                                      "capabilities": {"window": {"workDoneProgress": True}}}, timeout=60)
        client.notify("initialized", {})
        start = time.perf_counter()
        while time.perf_counter() - start < 120:
            if any(n.get("method") == "asmLsp/status" and n["params"].get("indexing", "").endswith("files")
                   for n in client.notifications):
                break
            time.sleep(0.01)
        uri = path.as_uri()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "aarch64-asm",
                                                                "version": 1, "text": text}})
        first = client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}}, timeout=30)
        results["outline_functions"] = sum(1 for s in first if s.get("kind") == 12)
        sample = [(kind, pos) for kind, ps in places.items() for pos in ps]
        sample = rng.sample(sample, min(args.requests, len(sample)))
        latencies: dict[str, list[float]] = {"hover": [], "definition": [], "outline": [], "outline after an edit": []}
        answered = {"hover": 0, "definition": 0}
        by_kind: dict[str, list[float]] = {}
        cpu: dict[str, float] = {}
        for method in ("hover", "definition"):
            cpu_start = cpu_seconds(client.proc.pid)
            for kind, (line, col) in sample:
                t0 = time.perf_counter()
                answer = client.request(f"textDocument/{method}", {"textDocument": {"uri": uri},
                                                                   "position": {"line": line, "character": col}}, timeout=30)
                ms = 1000 * (time.perf_counter() - t0)
                latencies[method].append(ms)
                by_kind.setdefault(f"{method}: {kind}", []).append(ms)
                answered[method] += bool(answer)
            cpu[method] = 1000 * (cpu_seconds(client.proc.pid) - cpu_start) / len(sample)
        version = 1
        outline_cpu = edit_cpu = 0.0
        for i in range(args.outlines):
            c0 = cpu_seconds(client.proc.pid)
            t0 = time.perf_counter()
            client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}}, timeout=30)
            latencies["outline"].append(1000 * (time.perf_counter() - t0))
            c1 = cpu_seconds(client.proc.pid)
            outline_cpu += c1 - c0
            version += 1
            edit = {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "\n"}
            if i % 2:
                edit = {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}, "text": ""}
            t0 = time.perf_counter()
            client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                                     "contentChanges": [edit]})
            client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}}, timeout=30)
            latencies["outline after an edit"].append(1000 * (time.perf_counter() - t0))
            edit_cpu += cpu_seconds(client.proc.pid) - c1
        cpu["outline"] = 1000 * outline_cpu / args.outlines
        cpu["outline after an edit"] = 1000 * edit_cpu / args.outlines
        client.request("shutdown", None, timeout=10)
        client.notify("exit", None)
        client.close()
    results["answered"] = answered
    results["load_average"] = os.getloadavg()
    results["uptime"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    results["latency_ms"] = {k: {"p50": round(percentile(v, 0.5), 2), "p95": round(percentile(v, 0.95), 2),
                                 "max": round(max(v), 2), "n": len(v)} for k, v in latencies.items()}
    results["latency_ms_by_target"] = {k: {"p95": round(percentile(v, 0.95), 2), "n": len(v)} for k, v in by_kind.items()}
    results["server_cpu_ms_per_request"] = {k: round(v, 2) for k, v in cpu.items()}
    results["goal_ms"] = GOAL_MS
    results["goals_met"] = {k: v["p95"] <= GOAL_MS for k, v in results["latency_ms"].items()}
    rows = [f"| {k} | {v['p50']:.1f} | {v['p95']:.1f} | {v['max']:.1f} | {cpu[k]:.1f} | {v['n']} "
            f"| {'yes' if results['goals_met'][k] else 'NO'} |" for k, v in results["latency_ms"].items()]
    md = (f"# Hover, definition and outline on a macro-heavy file\n\n{results['date']}, {results['cpus']} CPUs, load "
          f"{results['load']}, "
          f"`{results['command']}`\n\n{results['source']}: {results['file']['lines']:,} lines; targets "
          f"{ {k: v for k, v in results['file'].items() if k != 'lines'} }; the outline lists "
          f"{results['outline_functions']} functions.\n\n"
          f"| request | p50 ms | p95 ms | max ms | server CPU ms a request (mean) | n | p95 ≤ {GOAL_MS:.0f} ms |\n"
          "|---|---:|---:|---:|---:|---:|---|\n"
          + "\n".join(rows) + f"\n\nAnswered (non-empty): hover {answered['hover']}/{len(sample)}, "
          f"definition {answered['definition']}/{len(sample)}.\n\nLoad: `{results['uptime']}` (2 cores shared by "
          "seven people's jobs: wall times include waiting for a core).\n")
    write_report(args.out, results, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
