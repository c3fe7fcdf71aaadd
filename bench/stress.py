"""Load test (issue 7, classic side): a storm of completions with cancellations while hovers are asked.

    python bench/stress.py                       # writes bench/results/stress.json
    python bench/stress.py --requests 2000 --seconds 10 --cancel 0.8

The real server (``python -m asm_lsp --stdio --no-model``; the model-on run comes later)
opens tests/fixtures/workspace (main.s, util.s) plus gcc/clang output of
tests/fixtures/c/*.c when the cross compilers are installed. One thread sends
``textDocument/completion`` at an even pace (``--requests`` in ``--seconds``), following
most of them (``--cancel``) with ``$/cancelRequest`` after 0-5 ms; another asks a hover
every 50 ms and times the answer. Reported: hover p50/p95/max during the storm (and
before it, for comparison), how the completions ended (result / cancelled error /
other error / no answer), RSS before and after, peak RSS, and framing errors (the raw
client checks every byte the server writes). Exit status 1 if anything went
unanswered, the server died or a frame was malformed.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "server"), str(ROOT / "tests")]

from rawlsp import RawClient, peak_rss_mb, rss_mb  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def documents() -> dict[str, str]:
    docs = {p.as_uri(): p.read_text() for p in sorted((ROOT / "tests" / "fixtures" / "workspace").glob("*.s"))}
    try:
        from test_fuzz_handlers import corpus  # real compiler output when the cross compilers exist
        for i, text in enumerate(corpus()[:6]):
            docs[f"file:///stress/compiled{i}.s"] = text
    except Exception as exc:  # noqa: BLE001 - the fixture files are enough
        print(f"(no compiled corpus: {exc})")
    return docs


def hover_loop(client: RawClient, uri: str, line: int, col: int, stop: threading.Event,
               latencies: list[float], failures: list[str], period: float) -> None:
    while not stop.is_set():
        started = time.monotonic()
        try:
            reply = client.hover(uri, line, col, timeout=30)
            if reply.get("result") is None:
                failures.append(f"hover answered {reply}")
            latencies.append((time.monotonic() - started) * 1000)
        except TimeoutError as exc:
            failures.append(f"hover: {exc}")
        stop.wait(max(0.0, period - (time.monotonic() - started)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="completion requests in the storm")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the storm")
    parser.add_argument("--cancel", type=float, default=0.8, help="share of completions cancelled")
    parser.add_argument("--hover-every", type=float, default=0.05, help="seconds between hovers")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "stress.json", help="JSON report")
    args = parser.parse_args()
    rng = random.Random(7)

    client = RawClient(stderr_path=Path(os.devnull))
    client.initialize(ROOT / "tests" / "fixtures" / "workspace", options={"diagnostics": {"debounceMs": 300}})
    docs = documents()
    for uri, text in docs.items():
        client.open(uri, text)
    main_uri = next(u for u in docs if u.endswith("/util.s"))
    hover_at = (6, 2)  # `mov` in util.s
    client.hover(main_uri, *hover_at)
    time.sleep(1.0)  # let indexing and the first diagnostics settle
    rss_before = rss_mb(client.proc.pid)

    quiet: list[float] = []
    failures: list[str] = []
    stop = threading.Event()
    t = threading.Thread(target=hover_loop, args=(client, main_uri, *hover_at, stop, quiet, failures, args.hover_every))
    t.start()
    time.sleep(2.0)
    stop.set()
    t.join()

    storm: list[float] = []
    stop = threading.Event()
    t = threading.Thread(target=hover_loop, args=(client, main_uri, *hover_at, stop, storm, failures, args.hover_every))
    t.start()
    targets = [(uri, text.split("\n")) for uri, text in docs.items()]
    ids, cancelled = [], set()
    started = time.monotonic()
    for n in range(args.requests):
        uri, lines = targets[n % len(targets)]
        line = rng.randrange(len(lines))
        col = rng.randrange(len(lines[line]) + 1)
        request_id = client.send_request("textDocument/completion", {
            "textDocument": {"uri": uri}, "position": {"line": line, "character": col}})
        ids.append(request_id)
        if rng.random() < args.cancel:
            time.sleep(rng.random() * 0.005)
            client.notify("$/cancelRequest", {"id": request_id})
            cancelled.add(request_id)
        pause = started + (n + 1) * args.seconds / args.requests - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    storm_seconds = time.monotonic() - started
    outcomes = {"result": 0, "cancelled_error": 0, "other_error": 0, "no_answer": 0}
    for request_id in ids:
        try:
            reply = client.response(request_id, timeout=60)
        except TimeoutError:
            outcomes["no_answer"] += 1
            continue
        if "result" in reply:
            outcomes["result"] += 1
        elif reply["error"]["code"] == -32800:
            outcomes["cancelled_error"] += 1
        else:
            outcomes["other_error"] += 1
            failures.append(f"completion error {reply['error']}")
    drained_seconds = time.monotonic() - started
    stop.set()
    t.join()
    rss_after, peak = rss_mb(client.proc.pid), peak_rss_mb(client.proc.pid)
    final = client.hover(main_uri, *hover_at)
    alive = client.alive() and final.get("result") is not None
    rc = client.close()

    report = {
        "server": "python -m asm_lsp --stdio --no-model",
        "documents": len(docs), "document_lines": sum(len(t.split("\n")) for t in docs.values()),
        "completions_sent": len(ids), "cancel_requests_sent": len(cancelled),
        "storm_seconds": round(storm_seconds, 2), "all_answered_seconds": round(drained_seconds, 2),
        "completion_outcomes": outcomes,
        "hover_ms_quiet": {"n": len(quiet), "p50": round(percentile(quiet, 0.5), 1), "p95": round(percentile(quiet, 0.95), 1)},
        "hover_ms_storm": {"n": len(storm), "p50": round(percentile(storm, 0.5), 1), "p95": round(percentile(storm, 0.95), 1),
                           "max": round(max(storm), 1) if storm else None,
                           "mean": round(statistics.fmean(storm), 1) if storm else None},
        "rss_mb_before": round(rss_before, 1), "rss_mb_after": round(rss_after, 1), "peak_rss_mb": round(peak, 1),
        "bytes_read_from_server": client.bytes_read, "framing_errors": client.framing_errors[:10],
        "alive_after_storm": alive, "exit_code": rc, "failures": failures[:20],
        "cpu_count": os.cpu_count(), "load_average_at_end": round(os.getloadavg()[0], 2),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    ok = alive and rc == 0 and not client.framing_errors and not failures and outcomes["no_answer"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
