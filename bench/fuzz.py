"""Fuzz every request handler and the syntax model: 10,000 cases, results to bench/results/fuzz.json.

    python -m bench.fuzz                 # 10,000 handler cases + 5,000 syntax cases
    python -m bench.fuzz --cases 2000    # fewer
    python -m bench.fuzz --replay-every 0   # no replay over stdio

The cases are tests/test_fuzz_handlers.py's (mutated gcc/clang output, random incremental
edits, every request at random positions, in-process against a real AsmLanguageServer);
hypothesis runs derandomized, so the same count gives the same cases. A case fails when a
handler raises, `guarded` swallows an exception, a range points outside the document or
a frame the server would write is malformed. In-process the handlers' results are returned,
not written, so every ``--replay-every``-th case (default 20th: 500 of 10,000) is also sent
through the real server over stdio (``replay_over_stdio``) and every frame it writes is
checked by bench/lsp_client.py's strict reader (``frames_checked``); there a malformed frame,
an unanswered request or an error response fails the run. Writes counts, failures and
times as JSON.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import time
from pathlib import Path

from bench.common import ROOT, write_report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="handler cases (syntax cases: half as many)")
    parser.add_argument("--replay-every", type=int, default=20,
                        help="replay every n-th handler case through the real server over stdio (0: none)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "fuzz.json", help="JSON report")
    args = parser.parse_args()
    os.environ["FUZZ_CASES"] = str(args.cases)
    fuzz = importlib.import_module("tests.test_fuzz_handlers")  # reads FUZZ_CASES at import

    report: dict = {"handler_cases_asked": args.cases, "syntax_cases_asked": max(args.cases // 2, 10),
                    "python": platform.python_version(), "cpu_count": os.cpu_count(),
                    "load_average_at_start": os.getloadavg()[0]}
    started, cpu = time.monotonic(), time.process_time()
    fuzz.corpus()
    fuzz.harness().record_every = args.replay_every
    failures = []
    for name, test in (("handlers", fuzz.test_fuzz_handlers), ("syntax", fuzz.test_fuzz_syntax)):
        t0 = time.monotonic()
        try:
            test()
        except Exception as exc:  # noqa: BLE001 - recorded, then reported
            failures.append({"test": name, "error": f"{type(exc).__name__}: {str(exc)[:2000]}"})
        report[f"{name}_seconds"] = round(time.monotonic() - t0, 1)
        print(f"{name}: done in {report[f'{name}_seconds']} s; counts so far {fuzz.harness().counts}", flush=True)
    h = fuzz.harness()
    t0 = time.monotonic()
    replay = fuzz.replay_over_stdio(h.recorded) if h.recorded else None
    if replay is not None:
        replay["seconds"] = round(time.monotonic() - t0, 1)
        print(f"stdio replay: {replay}", flush=True)
        if replay["framing_errors"] or replay["problems"] or replay["exit_code"] != 0:
            failures.append({"test": "stdio replay", "error": json.dumps(replay)[:2000]})
    report.update({
        "handler_cases_run": h.counts["cases"], "requests": h.counts["requests"], "incremental_edits": h.counts["edits"],
        "frames_checked": replay["frames_checked"] if replay else 0, "in_process_frames": h.writer.frames,
        "stdio_replay": replay, "swallowed_exceptions": len(h.errors.records),
        "failures": failures, "wall_seconds": round(time.monotonic() - started, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
    })
    write_report(args.out, report)
    print(json.dumps(report, indent=2))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
