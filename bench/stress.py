"""Load test (issue 7): a storm of completions with cancellations while hovers are asked.

    python -m bench.stress                       # no model: bench/results/stress.json
    python -m bench.stress --model               # the real model: bench/results/stress_model.json
    python -m bench.stress --requests 2000 --seconds 10 --cancel 0.8

The real server (``python -m asm_lsp --stdio``, with ``--no-model`` unless ``--model``) opens
tests/fixtures/workspace (main.s, util.s), gcc/clang output of tests/fixtures/c/*.c when
the cross compilers are installed, and ``square_hole.s``: util.s with ``square``'s
``\tmul\tw0, w0, w0`` cut to ``\tmul\t``. One thread sends completions at an even pace
(``--requests`` in ``--seconds``: ``textDocument/completion`` without the model,
``textDocument/inlineCompletion`` with it), following most of them (``--cancel``) with
``$/cancelRequest`` after 0-5 ms. Three in four (and all in the storm's second half) follow
a keystroke in square_hole.s, which retypes that line (``\t``, ``\tm``, … ``\tmul\t``,
then from an empty line again), and ask at its cursor, as an editor does while someone
types; in the first half every fourth asks at a random place of another document. Another thread asks a hover every 50 ms and times
the answer. Reported: hover p50/p95/max during the storm (from its first request until
every completion is answered; before it, for comparison), how the completions ended
(result / cancelled error / other error / no answer), RSS before and after, peak RSS,
and framing errors (the raw client checks every byte the server writes). Exit status 1
if anything went unanswered, the server died, a frame was malformed or, with the model,
the last completion is wrong.

With ``--model`` the storm's last request is the last keystroke's (the cursor after
``\tmul\t`` in square_hole.s, ``LAST_AT``), never cancelled. "The last completion is
correct" means: it is answered, and its answer is the same JSON result as that of a
*fresh* server (same settings and documents, model loaded, no storm) asked once at that
place. Decoding is greedy (sampled candidates, tried only when the greedy one fails the
assembler check, are seeded by the prompt length), and the time budget is raised
(``completion.timeBudgetMs`` 600,000) so that neither answer depends on how loaded the
machine is. It catches a storm that leaves the engine's KV-cache bookkeeping wrong after
interrupted prompt evaluations (the keystrokes before the last one share all but the last
tokens of its prompt, so the last one reuses what they left in the cache:
``engine_counters`` says how many tokens), an older
request's answer delivered to the last one, and a last request dropped or answered with
nothing; the fresh server must offer a suggestion there (equal nothings prove nothing).
The same server cannot be the reference: its suggestion cache would answer the repeat
without the model (``engine_counters`` shows whether the last answer was computed).
Embeddings are off (``--embeddings`` turns them on): indexing the workspace in the
background would make RSS before/after measure the indexer, not the storm.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, peak_rss_mb, percentile, rounded, rss_mb, write_report
from bench.lsp_client import LspClient
from bench.samples import corpus

HOVER_AT = (6, 2)  # `mov` in util.s
# The last completion of a model storm: util.s with `square`'s `mul` cut after its mnemonic,
# opened as one more document; the cursor at the end of "\tmul\t".
LAST_URI = "file:///stress/square_hole.s"
LAST_AT = (19, 5)
MODEL_TIME_BUDGET_MS = 600_000
HOVER_P95_GOAL_MS = 100.0
RANDOM_EVERY = 4  # in the storm's first half every 4th request asks at a random place of another
TYPING_TAIL = 0.5  # document; all others follow a keystroke in LAST_URI's LAST_AT line. The typing-only
# half is longer than the engine's prompt chunk on a loaded 2-core machine (128 tokens: seconds), so
# the job before the last one is most likely a keystroke's that left its prompt in the KV cache.


def documents() -> dict[str, str]:
    docs = {p.as_uri(): p.read_text() for p in sorted((ROOT / "tests" / "fixtures" / "workspace").glob("*.s"))}
    for i, text in enumerate(corpus()[:6]):  # real compiler output when the cross compilers exist
        docs[f"file:///stress/compiled{i}.s"] = text
    return docs


def hover_loop(client: LspClient, uri: str, line: int, col: int, stop: threading.Event,
               latencies: list[float], failures: list[str], period: float) -> None:
    while not stop.is_set():
        started = time.monotonic()
        try:
            reply = client.hover(uri, line, col, timeout=60)
            if reply.get("result") is None:
                failures.append(f"hover answered {reply}")
            latencies.append((time.monotonic() - started) * 1000)
        except TimeoutError as exc:
            failures.append(f"hover: {exc}")
        stop.wait(max(0.0, period - (time.monotonic() - started)))


def server_argv(model: bool, server_root: Path | None = None) -> list[str]:
    python = [sys.executable] if server_root is None else ["env", f"PYTHONPATH={server_root}", sys.executable]
    return [*python, "-m", "asm_lsp", "--stdio", *([] if model else ["--no-model"])]


def options(model: bool, embeddings: bool) -> dict[str, Any]:
    opts: dict[str, Any] = {"diagnostics": {"debounceMs": 300}}
    if model:
        opts["completion"] = {"timeBudgetMs": MODEL_TIME_BUDGET_MS}
        opts["index"] = {"embeddings": embeddings}
    return opts


def start(model: bool, embeddings: bool, docs: dict[str, str], log: Path | None,
          server_root: Path | None = None) -> tuple[LspClient, float]:
    """A server with ``docs`` open (and its model loaded): the client and the load time in s."""
    client = LspClient(server_argv(model, server_root), stderr_log=log or Path(os.devnull))
    started = time.monotonic()
    client.initialize(ROOT / "tests" / "fixtures" / "workspace", options=options(model, embeddings))
    for uri, text in docs.items():
        client.open(uri, text)
    if model:
        status = client.wait_for(lambda m: m.get("method") == "asmLsp/status"
                                 and m["params"].get("model") in ("ready", "unavailable"), timeout=600)
        if status["params"]["model"] != "ready":
            raise RuntimeError(f"the model did not load: {model_status(client)}")
    return client, time.monotonic() - started


def model_stats(client: LspClient) -> dict[str, Any] | None:
    """``asmLsp.modelStats`` (JSON), or None from a server without it (an older --server-root)."""
    reply = client.exchange("workspace/executeCommand", {"command": "asmLsp.modelStats", "arguments": []}, 60)
    result = reply.get("result")
    return result if isinstance(result, dict) and "state" in result else None


def model_status(client: LspClient) -> str:
    reply = client.exchange("workspace/executeCommand", {"command": "asmLsp.modelStatus", "arguments": []}, 60)
    return str(reply.get("result"))


def completion_params(method: str, uri: str, line: int, col: int) -> dict[str, Any]:
    params: dict[str, Any] = {"textDocument": {"uri": uri}, "position": {"line": line, "character": col}}
    if method == "textDocument/inlineCompletion":
        params["context"] = {"triggerKind": 2}  # automatic, as an editor asks while typing
    return params


def outcome_of(reply: dict[str, Any] | None) -> str:
    if reply is None:
        return "no_answer"
    if "result" in reply:
        return "result"
    return "cancelled_error" if reply["error"]["code"] == -32800 else "other_error"


def run(requests: int = 1000, seconds: float = 10.0, cancel: float = 0.8, hover_every: float = 0.05,
        model: bool = False, embeddings: bool = False, settle_s: float = 1.0, answer_timeout: float = 600.0,
        log: Path | None = None, server_root: Path | None = None) -> dict[str, Any]:
    """One storm; the report (see the module docstring). ``log``: the server's stderr;
    ``server_root``: the folder holding the asm_lsp package to run (default: this checkout's)."""
    rng = random.Random(7)
    method = "textDocument/inlineCompletion" if model else "textDocument/completion"
    docs = documents()
    util_uri = next(u for u in docs if u.endswith("/util.s"))
    lines = docs[util_uri].split("\n")
    assert lines[LAST_AT[0]] == "\tmul\tw0, w0, w0", lines[LAST_AT[0]]
    typed = lines[LAST_AT[0]][:LAST_AT[1]]
    lines[LAST_AT[0]] = typed
    docs[LAST_URI] = "\n".join(lines)
    client, load_s = start(model, embeddings, docs, log, server_root)
    client.hover(util_uri, *HOVER_AT)
    time.sleep(settle_s)  # let indexing, the first diagnostics and the prefill on open settle
    rss_before = rss_mb(client.proc.pid)

    quiet: list[float] = []
    failures: list[str] = []
    stop = threading.Event()
    t = threading.Thread(target=hover_loop, args=(client, util_uri, *HOVER_AT, stop, quiet, failures, hover_every))
    t.start()
    time.sleep(2.0)
    stop.set()
    t.join()

    storm: list[float] = []
    stop = threading.Event()
    t = threading.Thread(target=hover_loop, args=(client, util_uri, *HOVER_AT, stop, storm, failures, hover_every))
    t.start()
    targets = [(uri, text.split("\n")) for uri, text in docs.items() if uri != LAST_URI]
    typing = [n for n in range(requests) if n % RANDOM_EVERY or n >= requests * (1 - TYPING_TAIL)]
    step_of = {n: j for j, n in enumerate(typing, 1)}
    version, shown = 1, len(typed)  # LAST_URI's version and how much of `typed` its line holds
    ids, cancelled = [], set()
    started = time.monotonic()
    for n in range(requests):
        last = n == requests - 1
        if n in step_of:  # a keystroke in LAST_URI, then a completion at its cursor
            want = (len(typed) - (len(typing) - step_of[n])) % (len(typed) + 1)  # the last step types all of it
            edit = ({"start": {"line": LAST_AT[0], "character": shown}, "end": {"line": LAST_AT[0], "character": shown}}
                    if want == shown + 1 else
                    {"start": {"line": LAST_AT[0], "character": 0}, "end": {"line": LAST_AT[0], "character": shown}})
            version += 1
            client.notify("textDocument/didChange", {"textDocument": {"uri": LAST_URI, "version": version},
                                                     "contentChanges": [{"range": edit, "text": typed[shown:want]
                                                                         if want == shown + 1 else typed[:want]}]})
            shown = want
            uri, line, col = LAST_URI, LAST_AT[0], shown
        else:
            uri, lines = targets[n % len(targets)]
            line = rng.randrange(len(lines))
            col = rng.randrange(len(lines[line]) + 1)
        if last:
            assert (uri, line, col) == (LAST_URI, *LAST_AT), (uri, line, col)
        request_id = client.send_request(method, completion_params(method, uri, line, col))
        ids.append(request_id)
        if not last and rng.random() < cancel:
            time.sleep(rng.random() * 0.005)
            client.notify("$/cancelRequest", {"id": request_id})
            cancelled.add(request_id)
        pause = started + (n + 1) * seconds / requests - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    storm_seconds = time.monotonic() - started
    storm_hovers = len(storm)
    outcomes = {"result": 0, "cancelled_error": 0, "other_error": 0, "no_answer": 0}
    nonnull = 0
    replies: dict[int, dict[str, Any] | None] = {}
    for request_id in ids:
        try:
            replies[request_id] = client.response(request_id, timeout=answer_timeout)
        except TimeoutError:
            replies[request_id] = None
        kind = outcome_of(replies[request_id])
        outcomes[kind] += 1
        if kind == "other_error":
            failures.append(f"completion error {replies[request_id]['error']}")  # type: ignore[index]
        if kind == "result" and replies[request_id]["result"]:  # type: ignore[index]
            nonnull += 1
    drained_seconds = time.monotonic() - started
    stop.set()
    t.join()
    time.sleep(2.0 if model else 0.0)  # the engine's follow-up speculation after the last answer
    rss_after, peak = rss_mb(client.proc.pid), peak_rss_mb(client.proc.pid)
    final = client.hover(util_uri, *HOVER_AT)
    alive = client.alive() and final.get("result") is not None
    status = model_status(client) if model and client.alive() else None
    stats = model_stats(client) if model and client.alive() else None
    rc = client.close()

    during_send = storm[:storm_hovers]
    report: dict[str, Any] = {
        "server": " ".join(["python -m asm_lsp --stdio", *([] if model else ["--no-model"])]),
        "method": method, "initialization_options": options(model, embeddings),
        "documents": len(docs), "document_lines": sum(len(t.split("\n")) for t in docs.values()),
        "completions_sent": len(ids), "cancel_requests_sent": len(cancelled),
        "storm_seconds": round(storm_seconds, 2), "all_answered_seconds": round(drained_seconds, 2),
        "completion_outcomes": outcomes, "completion_results_not_null": nonnull,
        "hover_ms_quiet": {"n": len(quiet), "p50": rounded(percentile(quiet, 0.5)), "p95": rounded(percentile(quiet, 0.95))},
        "hover_ms_storm": {"n": len(storm), "p50": rounded(percentile(storm, 0.5)), "p95": rounded(percentile(storm, 0.95)),
                           "max": round(max(storm), 1) if storm else None,
                           "mean": round(statistics.fmean(storm), 1) if storm else None},
        "hover_ms_while_sending": {"n": len(during_send), "p50": rounded(percentile(during_send, 0.5)),
                                   "p95": rounded(percentile(during_send, 0.95)),
                                   "max": round(max(during_send), 1) if during_send else None},
        "hover_p95_goal_ms": HOVER_P95_GOAL_MS,
        "hover_p95_goal_met": bool(storm) and percentile(storm, 0.95) <= HOVER_P95_GOAL_MS,
        "rss_mb_before": round(rss_before, 1), "rss_mb_after": round(rss_after, 1), "peak_rss_mb": round(peak, 1),
        "bytes_read_from_server": client.bytes_read, "framing_errors": client.framing_errors[:10],
        "alive_after_storm": alive, "exit_code": rc,
        "cpu_count": os.cpu_count(), "load_average_at_end": round(os.getloadavg()[0], 2),
    }
    if model:
        report["model_load_s"] = round(load_s, 1)
        report["model_status_after"] = status
        if stats is not None:
            last = stats.get("last") or {}
            report["engine_counters"] = {**stats["counters"], **({"last_prompt_tokens": int(last["prompt_tokens"]),
                                         "last_reused_tokens": int(last["reused_tokens"])} if last else {})}
        else:  # an older server: its Markdown status
            counters = re.search(r"completions (\d+), cache hits (\d+), follow-ups (\d+)(?:; (?:busy|idle))?"
                                 r"(?:; last computed: (\d+) prompt tokens, (\d+) reused)?", status or "")
            report["engine_counters"] = {k: int(v) for k, v in zip(
                ("completions", "cache_hits", "follow_ups", "last_prompt_tokens", "last_reused_tokens"),
                counters.groups()) if v is not None} if counters else None
        report["last_completion"] = check_last(replies[ids[-1]], docs, embeddings, LAST_URI, log, failures, server_root)
    report["failures"] = failures[:20]
    return report


def check_last(reply: dict[str, Any] | None, docs: dict[str, str], embeddings: bool, uri: str,
               log: Path | None, failures: list[str], server_root: Path | None = None) -> dict[str, Any]:
    """The storm's last answer against a fresh server's answer at the same place."""
    fresh, _ = start(True, embeddings, docs, log.with_suffix(".reference.log") if log else None, server_root)
    try:
        time.sleep(1.0)
        started = time.monotonic()
        reference = fresh.exchange("textDocument/inlineCompletion",
                                  completion_params("textDocument/inlineCompletion", uri, *LAST_AT), timeout=600)
        reference_s = time.monotonic() - started
    finally:
        fresh.close()

    def text(r: dict[str, Any] | None) -> str | None:
        items = ((r or {}).get("result") or {}).get("items") or []
        return items[0]["insertText"] if items else None

    answered = reply is not None and "result" in reply
    correct = answered and reply["result"] == reference.get("result")  # type: ignore[index]
    if text(reference) is None:  # nothing to compare: equal Nones would prove nothing
        failures.append(f"a fresh server offers no completion at the last place: {reference}")
    if not answered:
        failures.append(f"the last completion was not answered with a result: {reply}")
    elif not correct:
        failures.append(f"the last completion differs from a fresh server's: {text(reply)!r} vs {text(reference)!r}")
    return {"at": {"uri": uri.rsplit("/", 1)[-1], "line": LAST_AT[0], "character": LAST_AT[1]},
            "storm_answer": text(reply), "fresh_server_answer": text(reference),
            "fresh_server_seconds": round(reference_s, 1), "answered": answered, "correct": bool(correct)}


def ok(report: dict[str, Any]) -> bool:
    return (report["alive_after_storm"] and report["exit_code"] == 0 and not report["framing_errors"]
            and not report["failures"] and report["completion_outcomes"]["no_answer"] == 0
            and report.get("last_completion", {}).get("correct", True))


def markdown(runs: dict[str, dict[str, Any]]) -> str:
    out = ["# Load and cancellation storm", "",
           "`bench/stress.py` (no model) and `bench/stress.py --model` (the real model and adapter). The "
           "machine is shared: load averages are noted per run.", "",
           "| figure | " + " | ".join(runs) + " |", "|---|" + "---|" * len(runs)]

    def row(title: str, cell) -> None:
        out.append(f"| {title} | " + " | ".join(cell(r) for r in runs.values()) + " |")

    row("requests", lambda r: f"{r['completions_sent']} `{r.get('method', 'textDocument/completion')}` in {r['storm_seconds']} s, "
                              f"{r['cancel_requests_sent']} cancelled")
    row("all answered after (s)", lambda r: str(r["all_answered_seconds"]))
    row("outcomes", lambda r: ", ".join(f"{k} {v}" for k, v in r["completion_outcomes"].items())
        + f" (non-null results {r.get('completion_results_not_null', '—')})")
    row("hover p50 / p95 / max during the storm (ms)",
        lambda r: f"{r['hover_ms_storm']['p50']} / {r['hover_ms_storm']['p95']} / {r['hover_ms_storm']['max']} "
                  f"(n={r['hover_ms_storm']['n']})")
    row("hover p95 while requests were being sent (ms)",
        lambda r: str(r.get("hover_ms_while_sending", {}).get("p95", "—")))
    row("hover p50 / p95 before the storm (ms)", lambda r: f"{r['hover_ms_quiet']['p50']} / {r['hover_ms_quiet']['p95']}")
    row("RSS before → after, peak (MiB)", lambda r: f"{r['rss_mb_before']} → {r['rss_mb_after']}, peak {r['peak_rss_mb']}")
    row("alive, exit code, framing errors", lambda r: f"{r['alive_after_storm']}, {r['exit_code']}, {len(r['framing_errors'])}")
    row("last completion = a fresh server's", lambda r: "—" if "last_completion" not in r else (
        f"{r['last_completion']['correct']}: `{r['last_completion']['storm_answer']!r}` vs "
        f"`{r['last_completion']['fresh_server_answer']!r}`"))
    row("load average at the end, CPUs", lambda r: f"{r['load_average_at_end']}, {r['cpu_count']}")
    out += ["", "\"During the storm\" runs from the first completion request until every one is answered "
            "(with the model that includes computing the last one). Definitions: bench/stress.py's docstring.", ""]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="completion requests in the storm")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the storm")
    parser.add_argument("--cancel", type=float, default=0.8, help="share of completions cancelled")
    parser.add_argument("--hover-every", type=float, default=0.05, help="seconds between hovers")
    parser.add_argument("--model", action="store_true", help="run the server with the real model (inline completions)")
    parser.add_argument("--embeddings", action="store_true", help="with --model: similar-function embeddings on too")
    parser.add_argument("--log", type=Path, help="write the server's stderr here")
    parser.add_argument("--server-root", type=Path, help="folder holding the asm_lsp package to run "
                                                         "(another checkout's server/; default: this one's)")
    parser.add_argument("--out", type=Path, help="JSON report (default bench/results/stress.json, "
                                                 "stress_model.json with --model); stress.md lists both")
    args = parser.parse_args()
    results = ROOT / "bench" / "results"
    out = args.out or results / ("stress_model.json" if args.model else "stress.json")
    report = run(args.requests, args.seconds, args.cancel, args.hover_every, args.model, args.embeddings, log=args.log,
                 settle_s=5.0 if args.model else 1.0, server_root=args.server_root)
    write_report(out, report)
    print(json.dumps(report, indent=2))
    if args.out is None:
        runs = {label: json.loads((results / name).read_text()) for label, name in
                (("no model", "stress.json"), ("model", "stress_model.json")) if (results / name).is_file()}
        (results / "stress.md").write_text(markdown(runs))
    return 0 if ok(report) else 1


if __name__ == "__main__":
    raise SystemExit(main())
