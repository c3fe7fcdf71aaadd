"""Large inputs over stdio (issue 7): time, memory, and how long other requests wait meanwhile.

    python -m bench.large_input                     # this checkout: bench/results/large_input.{json,md}
    python -m bench.large_input --label before --server-root /tmp/old/server --server-name "efde8e2"
    python -m bench.large_input --cases 50MB 1M_lines
    python -m bench.large_input --model --label "model on" --cases 50MB 1M_lines

The real server (``python -m asm_lsp --stdio --no-model``, pull diagnostics; with ``--model``
the code model, its prefill and the similar-functions embeddings on, as a user has them:
the big document is opened once the model is loaded and idle) gets, per case:
a small document (tests/fixtures/workspace/util.s) opened first, then the big one. From the
``didOpen`` of the big document on, a second thread asks a hover on the small document every
50 ms until the big document's ``documentSymbol`` is answered: its latencies are what a user
typing in another file sees while the big one is read and parsed. Then hover and definition
on the big document, one edit in its middle (the hover on the small document right after it,
and the time until ``documentSymbol`` shows the edit), and RSS (after, peak: VmHWM).

Cases (test data from bench/samples.py, as tests/test_large_input.py: real gcc/clang output of tests/fixtures/c,
labels renamed per copy): ``50MB`` (50,015,286 characters, 2.5M lines), ``1M_lines``
(1,024,831 lines, 19 MB), ``100k_char_line`` (one 138,895-character ``.word`` line after
one copy of the sample: 179,126 characters), ``5000_files`` (a workspace of 5,000 .s
files: the hovers run while it is indexed, until the status says so).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import threading
import time
from pathlib import Path

from bench.common import ROOT, peak_rss_mb, percentile, rounded, rss_mb, write_report
from bench.lsp_client import LspClient
from bench.samples import big_text, first_function, sample_text

SMALL = ROOT / "tests" / "fixtures" / "workspace" / "util.s"
SMALL_HOVER = (6, 2)  # `mov` in util.s
CASES = ("50MB", "1M_lines", "100k_char_line", "5000_files")


def case_text(kind: str) -> str:
    if kind == "50MB":
        return big_text(50_000_000)
    if kind == "1M_lines":
        text = big_text(600_000)
        return "\n".join(text.split("\n") * (1_000_000 // text.count("\n") + 1))
    return big_text(20_000) + "\t.word " + ", ".join(f"sym{i}" for i in range(15_000)) + "\n"


def timed(client: LspClient, method: str, params: dict, timeout: float = 600) -> tuple[dict, float]:
    reply, seconds = client.timed(method, params, timeout)
    return reply, round(seconds, 3)


class HoverProbe:
    """Hovers on the small document every ``period`` s from a thread; latencies in ms."""

    def __init__(self, client: LspClient, uri: str, period: float = 0.05) -> None:
        self.client, self.uri, self.period = client, uri, period
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                reply = self.client.hover(self.uri, *SMALL_HOVER, timeout=300)
                if not (reply.get("result") or {}).get("contents"):
                    self.failures.append(f"hover answered {str(reply)[:200]}")
            except TimeoutError as exc:
                self.failures.append(str(exc))
            self.latencies.append((time.monotonic() - started) * 1000)
            self._stop.wait(max(0.0, self.period - (time.monotonic() - started)))

    def __enter__(self) -> HoverProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict:
        lat = self.latencies
        return {"n": len(lat), "p50_ms": rounded(percentile(lat, 0.5)), "p95_ms": rounded(percentile(lat, 0.95)),
                "max_ms": round(max(lat), 1) if lat else None, "failures": self.failures[:5]}


def wait_for_model(client: LspClient) -> float:
    """Seconds until the server says the model is loaded (fails if it is not)."""
    started = time.monotonic()
    status = client.wait_for(lambda m: m.get("method") == "asmLsp/status"
                             and m["params"].get("model") in ("ready", "unavailable", "off"), timeout=600)
    assert status["params"]["model"] == "ready", status
    return round(time.monotonic() - started, 1)


def wait_for_idle_model(client: LspClient, timeout: float = 600) -> None:
    """Until asmLsp.modelStats says the engine has nothing queued or running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = client.exchange("workspace/executeCommand", {"command": "asmLsp.modelStats", "arguments": []}, 60)
        stats = reply.get("result")
        if isinstance(stats, dict) and stats.get("state") == "ready" and not stats.get("busy"):
            time.sleep(1.0)  # the embeddings of the small document (1 function) run after it
            return
        time.sleep(0.5)
    raise TimeoutError(f"the model stayed busy for {timeout} s")


def run_document(kind: str, argv: list[str], model: bool = False, linger_s: float = 0.0) -> dict:
    text = case_text(kind)
    name, call_line, call_col = first_function(text)
    size, lines = len(text), text.count("\n") + 1
    client = LspClient(argv, stderr_log=Path(os.devnull))
    try:
        client.initialize(options={"diagnostics": {"debounceMs": 0}}, capabilities={"textDocument": {"diagnostic": {}}})
        small = SMALL.as_uri()
        client.open(small, SMALL.read_text())
        model_load_s = wait_for_model(client) if model else None
        if model:
            wait_for_idle_model(client)  # the small document's prefill: not mixed into the big one's figures
        client.hover(small, *SMALL_HOVER)
        rss_before = rss_mb(client.proc.pid)
        uri = "file:///virtual/big.s"
        started = time.monotonic()
        with HoverProbe(client, small) as during_open:
            client.open(uri, text)
            sent = time.monotonic() - started
            symbols, _ = timed(client, "textDocument/documentSymbol", {"textDocument": {"uri": uri}})
            open_to_symbols = round(time.monotonic() - started, 2)
        assert any(s["name"] == name for s in symbols["result"]), "documentSymbol lacks the first function"
        where = {"textDocument": {"uri": uri}, "position": {"line": call_line, "character": call_col}}
        hover, hover_s = timed(client, "textDocument/hover", where)
        assert name in hover["result"]["contents"]["value"]
        definition, definition_s = timed(client, "textDocument/definition", where)
        assert definition["result"] and definition["result"][0]["uri"] == uri
        _, diagnostic_s = timed(client, "textDocument/diagnostic", {"textDocument": {"uri": uri}})
        _, folding_s = timed(client, "textDocument/foldingRange", {"textDocument": {"uri": uri}})
        # one edit in the middle: a new function `bench_edit` the outline must show
        middle = lines // 2
        edited = time.monotonic()
        client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{
            "range": {"start": {"line": middle, "character": 0}, "end": {"line": middle, "character": 0}},
            "text": "\t.globl\tbench_edit\n\t.type\tbench_edit, %function\nbench_edit:\n\tret\n\t.size\tbench_edit, .-bench_edit\n"}]})
        _, small_hover_after_edit_s = timed(client, "textDocument/hover", {
            "textDocument": {"uri": small}, "position": {"line": SMALL_HOVER[0], "character": SMALL_HOVER[1]}})
        after_edit, _ = timed(client, "textDocument/documentSymbol", {"textDocument": {"uri": uri}})
        edit_to_symbols = round(time.monotonic() - edited, 2)
        assert any(s["name"] == "bench_edit" for s in after_edit["result"]), "the edit is not in documentSymbol"
        lingered = None
        if linger_s > 0:  # what the background work after an open (embeddings, prefill) does to other requests
            with HoverProbe(client, small) as lingered:
                time.sleep(linger_s)
        report = {
            "characters": size, "lines": lines,
            "didOpen_sent_s": round(sent, 2),
            "open_to_documentSymbol_s": open_to_symbols,
            "small_doc_hover_during_open": during_open.summary(),
            "hover_s": hover_s, "definition_s": definition_s, "diagnostic_s": diagnostic_s, "foldingRange_s": folding_s,
            "small_doc_hover_after_edit_s": small_hover_after_edit_s,
            "edit_to_documentSymbol_s": edit_to_symbols,
            "rss_mb_before": round(rss_before), "rss_mb_after": round(rss_mb(client.proc.pid)),
            "peak_rss_mb": round(peak_rss_mb(client.proc.pid)),
            "framing_errors": client.framing_errors[:5],
        }
        if model:
            report["model_load_s"] = model_load_s
        if lingered is not None:
            report["linger_s"] = linger_s
            report["small_doc_hover_linger"] = lingered.summary()
    finally:
        report_rc = client.close(60)
    report["exit_code"] = report_rc
    return report


def run_workspace(argv: list[str], tmp: Path) -> dict:
    sample = sample_text()
    root = tmp / "ws"
    for i in range(5_000):
        folder = root / f"d{i // 100}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i}.s").write_text(
            f"\t.globl\tunique_{i}\n\t.type\tunique_{i}, %function\nunique_{i}:\n\tbl\tunique_{(i + 1) % 5000}\n"
            f"\tret\n\t.size\tunique_{i}, .-unique_{i}\n" + sample[:1500])
    client = LspClient(argv, stderr_log=Path(os.devnull))
    try:
        started = time.monotonic()
        client.initialize(root)
        small = SMALL.as_uri()
        client.open(small, SMALL.read_text())
        with HoverProbe(client, small) as during:
            status = client.wait_for(lambda m: m.get("method") == "asmLsp/status"
                                     and m["params"].get("indexing", "").endswith("files"), timeout=600)
        indexed_s = round(time.monotonic() - started, 2)
        found, query_s = timed(client, "workspace/symbol", {"query": "unique_4999"})
        assert [s["name"] for s in found["result"]] == ["unique_4999"]
        report = {"files": 5_000, "indexed_status": status["params"]["indexing"], "initialize_to_indexed_s": indexed_s,
                  "small_doc_hover_during_indexing": during.summary(), "workspace_symbol_s": query_s,
                  "rss_mb_after": round(rss_mb(client.proc.pid)), "peak_rss_mb": round(peak_rss_mb(client.proc.pid))}
    finally:
        rc = client.close(60)
    report["exit_code"] = rc
    return report


def markdown(results: dict) -> str:
    labels = list(results["runs"])
    out = ["# Large inputs", "", f"`bench/large_input.py`, {results['machine']}. Each column is one run of the server "
           "named in its header; the machine is shared, so wall times carry its load (noted per run).", ""]
    for label in labels:
        run = results["runs"][label]
        out.append(f"- **{label}**: {run['server']} — {run['when']}, load average {run['load_average']}")
    rows = [
        ("open → documentSymbol (s)", "open_to_documentSymbol_s"),
        ("hover on another document while it opens: p50 / p95 / max (ms)", "small_doc_hover_during_open"),
        ("hover / definition on it, parsed (s)", ("hover_s", "definition_s")),
        ("one edit: hover on another document right after (s)", "small_doc_hover_after_edit_s"),
        ("one edit → documentSymbol shows it (s)", "edit_to_documentSymbol_s"),
        ("hover on another document in the next seconds (--linger): p50 / p95 / max (ms)", "small_doc_hover_linger"),
        ("RSS before → after, peak (MiB)", ("rss_mb_before", "rss_mb_after", "peak_rss_mb")),
    ]
    for kind in CASES[:3]:
        if not any(kind in results["runs"][label]["cases"] for label in labels):
            continue
        sample = next(results["runs"][label]["cases"][kind] for label in labels if kind in results["runs"][label]["cases"])
        out += ["", f"## {kind}: {sample['characters']:,} characters, {sample['lines']:,} lines", "",
                "| figure | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
        for title, key in rows:
            cells = []
            for label in labels:
                case = results["runs"][label]["cases"].get(kind)
                cells.append("—" if case is None else _cell(case, key))
            out.append(f"| {title} | " + " | ".join(cells) + " |")
    ws = [(label, results["runs"][label]["cases"].get("5000_files")) for label in labels]
    if any(case for _, case in ws):
        out += ["", "## 5,000 files in the workspace", "", "| figure | " + " | ".join(labels) + " |",
                "|---|" + "---|" * len(labels)]
        for title, key in (("initialize → indexed (s)", "initialize_to_indexed_s"),
                           ("hover on an open document while indexing: p50 / p95 / max (ms)", "small_doc_hover_during_indexing"),
                           ("workspace/symbol (s)", "workspace_symbol_s"), ("RSS after, peak (MiB)", ("rss_mb_after", "peak_rss_mb"))):
            out.append(f"| {title} | " + " | ".join("—" if case is None else _cell(case, key) for _, case in ws) + " |")
    out += ["", "Hovers on the other document are asked every 50 ms from a second client thread, from the big "
            "document's didOpen until its documentSymbol answer (or until indexing is done). Bounds stated in "
            "README.md (Reliability) and server/asm_lsp/documents.py.", ""]
    return "\n".join(out)


def _cell(case: dict, key: str | tuple) -> str:
    if isinstance(key, tuple):
        values = [case.get(k) for k in key]
        if len(key) == 3:
            return f"{values[0]} → {values[1]}, peak {values[2]}"
        return " / ".join(str(v) for v in values)
    value = case.get(key)
    if value is None:
        return "—"
    if isinstance(value, dict):
        return f"{value['p50_ms']} / {value['p95_ms']} / {value['max_ms']} (n={value['n']})"
    return str(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--label", default="this checkout", help="column name for this run in the report")
    parser.add_argument("--server-root", type=Path, default=ROOT / "server",
                        help="folder holding the asm_lsp package to run (another checkout's server/)")
    parser.add_argument("--server-name", default="", help="how the report names that server (default: its folder)")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES), help="which inputs")
    parser.add_argument("--model", action="store_true", help="the server with its code model (and embeddings) on")
    parser.add_argument("--linger", type=float, default=0.0,
                        help="after the edit, keep asking hovers on the small document this many seconds")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "large_input.json",
                        help="JSON report; runs under other labels already there are kept")
    args = parser.parse_args()
    argv = ["env", f"PYTHONPATH={args.server_root}", sys.executable, "-m", "asm_lsp", "--stdio",
            *([] if args.model else ["--no-model"])]
    cases: dict[str, dict] = {}
    for kind in args.cases:
        print(f"{kind} ...", flush=True)
        if kind == "5000_files":
            import tempfile
            with tempfile.TemporaryDirectory() as tmp:
                cases[kind] = run_workspace(argv, Path(tmp))
        else:
            cases[kind] = run_document(kind, argv, args.model, args.linger)
        print(json.dumps(cases[kind], indent=1), flush=True)
    results = json.loads(args.out.read_text()) if args.out.is_file() else {"runs": {}}
    results["machine"] = f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    previous = results["runs"].get(args.label, {}).get("cases", {})
    results["runs"][args.label] = {
        "server": (args.server_name or str(args.server_root.resolve().relative_to(ROOT)
                                           if args.server_root.resolve().is_relative_to(ROOT) else args.server_root))
                  + (", model on" if args.model else ""),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average": round(os.getloadavg()[0], 2),
        "cases": {**previous, **cases},
    }
    write_report(args.out, results, markdown(results))
    bad = [k for k, c in cases.items() if c.get("exit_code") != 0 or c.get("framing_errors")
           or any(v.get("failures") for v in c.values() if isinstance(v, dict))]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
