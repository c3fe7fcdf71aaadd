"""Typing soak: the typing replay's simulated user types one function again and again for a
long time with the model on, against one server. Checks that memory stays flat and that every
pause-point request is answered.

    PYTHONPATH=server python -m bench.soak                  # 30 minutes -> bench/results/soak.{json,md}
    PYTHONPATH=server python -m bench.soak --minutes 2 --out /tmp/soak   # the short version (tests/test_soak.py)

Each round: the document (bench/typing_replay.py's gcc -O2 document, ~300 lines) is reset to
its opened state with one full-text didChange, then the function is typed back key by key as
in the replay (per-key inline requests cancelled by the next key, pause points that wait for
the answer, exact suggestions accepted). RSS (VmRSS) is sampled after every round; growth is
measured from the end of the first round (model loaded, caches warm) to the last.
Goals (issue 11): RSS growth ≤ 5 %, every pause-point request answered (the soak waits up to
ANSWER_WAIT_S for it; none may go unanswered), the server alive and answering asmLsp.modelStats
at the end.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from bench import typing_replay as replay
from bench.common import ROOT, percentile, proc_status, rounded, write_report

RESULTS = ROOT / "bench" / "results"
RSS_GROWTH_GOAL = 0.05
#: At pause points the soak waits this long for an answer (the replay's user gives up after 3 s):
#: "every request answered" means the server answers, however loaded the machine.
ANSWER_WAIT_S = 120.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long to keep typing")
    parser.add_argument("--typed-lines", type=int, default=0, help="type only this many lines per round (0 = all)")
    parser.add_argument("--settings", default="default", help=f"server settings variant, of {list(replay.SETTINGS)}")
    parser.add_argument("--out", type=Path, default=RESULTS / "soak", help="results path without suffix")
    args = parser.parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load_start = [round(x, 2) for x in os.getloadavg()]
    t0 = time.monotonic()
    rounds = []
    replay.WAIT_CAP_S = ANSWER_WAIT_S
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        work = Path(tmp)
        (doc,) = replay.build_documents(["gcc-O2"], work)
        if args.typed_lines:
            doc.end = min(doc.end, doc.start + args.typed_lines - 1)
        session = replay.Session(args.settings, doc, work, None, "default")
        try:
            session.start()
            session.first_suggestion()
            deadline = t0 + args.minutes * 60
            while time.monotonic() < deadline or not rounds:
                session.result.requests.clear()
                session.type_function()
                requests = session.result.requests
                pauses = [r for r in requests if r.kind in ("line-start", "mnemonic")]
                rss = proc_status(session.pid).get("VmRSS", 0)
                rounds.append({"t_s": round(time.monotonic() - t0, 1), "rss_kb": rss, "requests": len(requests),
                               "pause_points": len(pauses), "timeouts": sum(r.outcome == "timeout" for r in pauses),
                               "suggestions": sum(r.outcome == "suggestion" for r in pauses),
                               "slowest_status_s": round(replay.STATS_MAX_S, 2),
                               "p50_ms": rounded(percentile(
                                   [r.latency_ms for r in pauses if r.latency_ms is not None], 0.5))})
                print(f"round {len(rounds)}: {rounds[-1]}", file=sys.stderr)
                # Back to the opened document: one full-text change, the cursor at the typed region.
                session.version += 1
                session.client.notify("textDocument/didChange", {
                    "textDocument": {"uri": session.uri, "version": session.version},
                    "contentChanges": [{"text": doc.opened}]})
                session.lines = doc.opened.split("\n")
                session.line, session.col = doc.start, 0
            stats = replay.model_stats(session.client)
            alive = session.client.proc.poll() is None and bool(stats)
            hwm = proc_status(session.pid).get("VmHWM", 0)
        finally:
            session.client.close()
    base = rounds[0]["rss_kb"]
    growth = (rounds[-1]["rss_kb"] - base) / base if base else None
    report = {
        "command": "PYTHONPATH=server python -m bench.soak " + " ".join(argv if argv is not None else sys.argv[1:]),
        "started": started, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "load_avg_start": load_start, "load_avg_end": [round(x, 2) for x in os.getloadavg()],
        "minutes": round((time.monotonic() - t0) / 60, 1), "settings": args.settings, "document": doc.name,
        "rounds": rounds, "rss_mb_first_round": round(base / 1024), "rss_mb_last_round": round(rounds[-1]["rss_kb"] / 1024),
        "rss_growth": round(growth, 4) if growth is not None else None, "vm_hwm_mb": round(hwm / 1024),
        "pause_points": sum(r["pause_points"] for r in rounds), "timeouts": sum(r["timeouts"] for r in rounds),
        "requests": sum(r["requests"] for r in rounds), "alive_at_end": alive,
        "engine": stats.get("counters", {}),
    }
    report["ok"] = bool(alive and report["timeouts"] == 0 and growth is not None and growth <= RSS_GROWTH_GOAL)
    md = [f"# Typing soak ({report['minutes']} min, settings `{args.settings}`)", "",
          f"`{report['command']}` — {started}, {report['machine']}; load average {load_start} at start, "
          f"{report['load_avg_end']} at end.", "",
          f"- rounds: {len(rounds)} (each types `{doc.name}` back, {doc.end - doc.start + 1} lines)",
          f"- requests: {report['requests']}, pause points {report['pause_points']}, unanswered (timeouts) "
          f"{report['timeouts']} (goal 0)",
          f"- RSS after the first round {report['rss_mb_first_round']} MB, after the last {report['rss_mb_last_round']} MB: "
          f"growth {report['rss_growth']:.1%} (goal ≤ 5 %); VmHWM {report['vm_hwm_mb']} MB",
          f"- server alive and answering at the end: {alive}; engine counters {report['engine']}",
          f"- verdict: {'met' if report['ok'] else 'MISSED'}", ""]
    write_report(args.out, report, "\n".join(md))
    print("\n".join(md))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
