"""Does the 0.5B model drafting for the 1.5B pay (speculative decoding)? Plain greedy, prompt-lookup
drafts and 0.5B drafts side by side, on held-out holes.

    PYTHONPATH=server:. nice -n 5 python -m bench.draft_model --holes 2
    -> bench/results/draft_model.json and bench/results/draft_model.md

Systems, all the 1.5B model's greedy decoding with our token loop (``decoding.Decoder``):
    plain            one token per step (the engine's default)
    prompt-lookup    prompt-lookup drafts (``Decoder.draft``)
    draft-k3/-k5     the 0.5B model drafts 3/5 tokens (``drafting.ModelDrafts``), one context
                     of it shared by both k

Holes: models/evaluate.py's held-out cases (bench/exec_completion/cases/*.c compiled by gcc
and clang at --opts), ``--holes`` line holes and half as many 3-line block holes per
(compiler, opt) group, evaluate.py's seed (as bench/merged_weights.py). The prompt is the
engine's (``fitting.fit_prompt``, n_ctx 2048), decoding stops where the engine's would
(``suggest.cut_suggestion``), at most the hole's line count.

Each hole: both models evaluate the prompt up to its last ``--fresh`` tokens (untimed: the
warm prefix that typing keeps in the cache); then every system in turn (the order rotates
hole by hole, so a change in the machine's load falls on all of them) rewinds both caches to
that prefix and is timed on
    end to end   evaluating the fresh tokens (the target's, and the draft model's too for the
                 draft systems) + decoding the suggestion
    decode       decoding the suggestion alone (the prompt evaluated in both models)
Figures: ms per suggestion (median and total over the holes), tokens/s (all tokens / all
decode time), draft acceptance (kept / proposed draft tokens), the share of decode time spent
in the draft model, identical output to plain greedy (text and token count), RSS of the
target alone and of both models loaded and used.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from bench.common import RESULTS, command_line, machine, proc_status, write_report

from asm_lsp.model.decoding import PROMPT_LOOKUP_TOKENS, Decoder
from asm_lsp.model.drafting import ModelDrafts
from asm_lsp.model.fitting import fit_prompt
from asm_lsp.model.llama import load_llama
from asm_lsp.model.store import llama_cpp_version, resolve_model
from asm_lsp.model.suggest import Hole, cut_suggestion
from models import evaluate

N_CTX = 2048


def uptime() -> str:
    import subprocess

    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def rewind(llm, n: int) -> None:
    """Keep the first ``n`` tokens of ``llm``'s cache, drop the rest."""
    llm.n_tokens = min(n, llm.n_tokens)
    llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)


class Timed:
    """A draft source that adds up the time spent in it."""

    def __init__(self, source) -> None:
        self.source = source
        self.seconds = 0.0

    def __call__(self, context: list[int]) -> list[int]:
        t0 = time.perf_counter()
        try:
            return self.source(context)
        finally:
            self.seconds += time.perf_counter() - t0


def run_one(name: str, target, decoder: Decoder, drafts: ModelDrafts | None, timed: Timed | None,
            prompt: list[int], warm: int, hole: Hole, max_lines: int) -> dict:
    rewind(target, warm)
    if drafts is not None:
        rewind(drafts.llm, warm)
        drafts.k = int(name.rsplit("k", 1)[1])
        timed.seconds = 0.0
    drafted, accepted = decoder.drafted, decoder.accepted
    t0 = time.perf_counter()
    target.eval(prompt[warm:])
    if drafts is not None:
        drafts.sync(prompt)
    t1 = time.perf_counter()

    def step(raw: str, line_ended: bool) -> bool:
        return line_ended and cut_suggestion(raw, hole, max_lines).done

    text, tokens = decoder.generate(prompt, hole, max_lines, lambda: None, step)
    t2 = time.perf_counter()
    ids = [int(t) for t in target.input_ids[len(prompt):target.n_tokens]]  # evaluated (all but the last)
    return {"text": text, "tokens": tokens, "ids": ids, "prompt_ms": (t1 - t0) * 1000, "decode_ms": (t2 - t1) * 1000,
            "end_to_end_ms": (t2 - t0) * 1000, "drafted": decoder.drafted - drafted,
            "accepted": decoder.accepted - accepted, "draft_ms": timed.seconds * 1000 if timed else 0.0}


def batch_costs(target, small, np, prompt: list[int], sizes: list[int], reps: int) -> dict:
    """Median ms to evaluate a batch of n tokens (logits at every position, as drafts are
    verified) on top of ``prompt``, for each n in ``sizes`` (n = 1: one decode step), sizes
    interleaved rep by rep; and the draft model's ms for one token."""
    times: dict[str, list[float]] = {f"target_{n}": [] for n in sizes}
    times["draft_1"] = []
    decoder = Decoder(target, np, {"generated_tokens": 0})
    target.reset()
    target.eval(prompt)
    small.reset()
    small.eval(prompt)
    filler = prompt[-max(sizes):]
    for _ in range(reps):
        for n in sizes:
            rewind(target, len(prompt))
            t0 = time.perf_counter()
            decoder._eval_with_logits(filler[:n])
            times[f"target_{n}"].append((time.perf_counter() - t0) * 1000)
        rewind(small, len(prompt))
        t0 = time.perf_counter()
        small.eval(filler[:1])
        times["draft_1"].append((time.perf_counter() - t0) * 1000)
    rewind(small, 0)
    return {name: round(statistics.median(v), 1) for name, v in times.items()}


def divergence(target, np, prompt: list[int], plain: list[int], other: list[int]) -> dict | None:
    """Where a drafted decoding left plain greedy: the two best tokens there and their logit gap as
    the target sees them in a batch of 1 (a decode step), 4 and 6 tokens (checking 3 and 5 drafts)."""
    common = next((i for i, (a, b) in enumerate(zip(plain, other)) if a != b), None)
    if common is None:
        return None
    context = prompt + plain[:common]
    decoder = Decoder(target, np, {"generated_tokens": 0})
    held = 0  # reuse what the cache holds of the context
    while held < min(target.n_tokens, len(context) - 1) and target.input_ids[held] == context[held]:
        held += 1
    rewind(target, held)
    target.eval(context[held:-1])

    def top2(logits) -> list:
        best = np.argsort(logits)[-2:][::-1]
        return [target.detokenize([int(t)]).decode("utf-8", "replace") for t in best] + [
            round(float(logits[best[0]] - logits[best[1]]), 3)]

    gaps = {}
    filler = (plain[common:] + prompt[-8:])[:5]  # causal: what follows does not change position 0
    for n in (1, 4, 6):
        rewind(target, len(context) - 1)
        decoder._eval_with_logits([context[-1]] + filler[: n - 1])
        gaps[f"batch_{n}"] = top2(decoder.logits(0))
    return {"at_token": common, **gaps}


def best_case(costs: dict, ks: list[int]) -> dict:
    """ms per token with drafts of k that the target always keeps whole (k + 1 tokens per check:
    k draft steps and one batch of k + 1), from the measured step costs; plain = one step."""
    out = {"plain": costs["target_1"]}
    for k in ks:
        out[f"draft-k{k}"] = round((k * costs["draft_1"] + costs[f"target_{k + 1}"]) / (k + 1), 1)
    return out


def verdict(report: dict) -> str:
    systems, best = report["systems"], report["best_case"]
    plain = systems["plain"]
    faster = [n for n, s in systems.items() if n != "plain" and (s["end_to_end_ms_total"] < plain["end_to_end_ms_total"]
                                                                  or s["decode_ms_total"] < plain["decode_ms_total"])]
    if faster:
        return f"Pays here: {', '.join(faster)} faster than plain greedy (end to end or decode alone)."
    never = all(v >= best["plain"] for n, v in best.items() if n != "plain")
    return ("Does not pay here: every drafted system is slower than plain greedy, end to end and decode alone."
            + (" It cannot pay on this machine even with every draft kept: checking k drafts in one batch costs "
               "about as much as k + 1 single steps, and a draft step of the small model costs "
               f"{round(100 * report['batch_ms']['draft_1'] / report['batch_ms']['target_1'])} % of one of the "
               "target's (best case, ms/token: " + ", ".join(f"{n} {v}" for n, v in best.items()) + ")."
               if never else ""))


def summarize(rows: list[dict], plain: list[dict]) -> dict:
    decode_s = sum(r["decode_ms"] for r in rows) / 1000
    tokens = sum(r["tokens"] for r in rows)
    drafted = sum(r["drafted"] for r in rows)
    return {
        "decode_ms_median": round(statistics.median(r["decode_ms"] for r in rows), 1),
        "decode_ms_total": round(decode_s * 1000, 1),
        "end_to_end_ms_median": round(statistics.median(r["end_to_end_ms"] for r in rows), 1),
        "end_to_end_ms_total": round(sum(r["end_to_end_ms"] for r in rows), 1),
        "fresh_prompt_ms_median": round(statistics.median(r["prompt_ms"] for r in rows), 1),
        "tokens": tokens,
        "tokens_per_s": round(tokens / decode_s, 2) if decode_s else None,
        "drafted": drafted,
        "acceptance_pct": round(100.0 * sum(r["accepted"] for r in rows) / drafted, 1) if drafted else None,
        "draft_share_of_decode_pct": round(100.0 * sum(r["draft_ms"] for r in rows) / (decode_s * 1000), 1)
        if decode_s else None,
        "identical_to_plain": sum(r["text"] == p["text"] and r["tokens"] == p["tokens"] for r, p in zip(rows, plain)),
    }


def markdown(report: dict) -> str:
    m = report["machine"]
    out = ["# The 0.5B model drafting for the 1.5B (speculative decoding)", "",
           f"`{report['command']}`", "",
           f"Target `{report['target']}`; draft `{report['draft']}`. {report['threads']} threads, "
           f"llama-cpp-python {report['llama_cpp_python']}, {m.get('cpus', '?')} CPUs.", "",
           f"Load before: `{report['uptime_before']}`; after: `{report['uptime_after']}`.", "",
           f"{report['holes']} held-out holes ({report['hole_source']}), systems interleaved hole by hole "
           f"(rotating order). Warm prefix: the prompt less its last {report['fresh']} tokens "
           f"(median prompt {report['prompt_tokens_median']} tokens).", "",
           "| system | decode ms/suggestion (median) | vs plain (total) | end to end ms (median) | vs plain (total) "
           "| tokens/s | acceptance % | draft model's share of decode % | identical to plain |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    plain = report["systems"]["plain"]
    for name, s in report["systems"].items():
        out.append(f"| {name} | {s['decode_ms_median']} | {s['decode_ms_total'] / plain['decode_ms_total']:.2f}x | "
                   f"{s['end_to_end_ms_median']} | {s['end_to_end_ms_total'] / plain['end_to_end_ms_total']:.2f}x | "
                   f"{s['tokens_per_s']} | {s['acceptance_pct'] if s['acceptance_pct'] is not None else '-'} | "
                   f"{s['draft_share_of_decode_pct'] if s['drafted'] else '-'} | "
                   f"{s['identical_to_plain']}/{report['holes']} |")
    rss = report["rss_mb"]
    out += ["", f"RSS: target alone {rss['target']} MB; target + draft model, both used {rss['both']} MB "
            f"(peak {rss['peak']} MB).", "",
            "vs plain: the system's total over all holes / plain's total. end to end = evaluating the fresh "
            "tokens (both models for the draft systems) + decoding. acceptance = draft tokens the 1.5B kept / "
            "draft tokens proposed.", ""]
    if report["divergences"]:
        out += ["Outputs that differ from plain greedy, where they part (the two best tokens and their logit gap, "
                "as the 1.5B sees them in a batch of 1 (a plain decode step), 4 and 6 tokens (checking a 3- and a 5-token "
                "draft)):", "",
                "| hole | system | token | batch of 1 | batch of 4 | batch of 6 |", "| --- | --- | --- | --- | --- | --- |"]
        for d in report["divergences"]:
            if "at_token" in d:
                out.append(f"| {d['hole']} | {d['system']} | {d['at_token']} | "
                           + " | ".join(f"{d[f'batch_{n}']!r}" for n in (1, 4, 6)) + " |")
            else:
                out.append(f"| {d['hole']} | {d['system']} | - | parted at the last token (not evaluated) | - | - |")
        out += ["", "Where they part the two best tokens are nearly tied (the gaps above): llama.cpp's CPU kernels give a batch's "
                "logits a little apart from one token's, and the drafted runs' context was evaluated in batches, so "
                "its KV cache differs a little too. The drafting logic itself keeps exactly what the target's "
                "argmax says (tests/test_draft_model.py).", ""]
    costs = report["batch_ms"]
    out += ["Cost of one step (median ms, interleaved, on a warm prompt): the 1.5B evaluating a batch of n "
            "tokens with logits at each (n = 1: a plain decode step; k + 1: checking a k-token draft) and the "
            "draft model decoding one token:", "",
            "| " + " | ".join(costs) + " |", "|" + " --- |" * len(costs),
            "| " + " | ".join(str(v) for v in costs.values()) + " |", ""]
    out += ["Best case, every draft kept (k + 1 tokens per check), ms/token from those costs: "
            + ", ".join(f"{n} {v}" for n, v in report["best_case"].items()) + ".", ""]
    if report.get("verdict"):
        out += [report["verdict"], ""]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--holes", type=int, default=2, help="line holes per compiler x opt (and half as many blocks)")
    p.add_argument("--opts", default="O0,O2", help="opt levels of the holes")
    p.add_argument("--target", default="", help="the big model's GGUF (default: resolve_model(size='1.5b'))")
    p.add_argument("--draft", default="", help="the draft model's GGUF (default: the packaged 0.5B, merged)")
    p.add_argument("--ks", default="3,5", help="draft lengths")
    p.add_argument("--fresh", type=int, default=8, help="prompt tokens not in the warm prefix")
    p.add_argument("--threads", type=int, default=2, help="llama.cpp threads (each model)")
    p.add_argument("--reps", type=int, default=7, help="repetitions of the batch cost measurement")
    p.add_argument("--out", type=Path, default=RESULTS / "draft_model", help="report path without suffix")
    args = p.parse_args(argv)
    import numpy as np

    target_path = Path(args.target) if args.target else resolve_model(size="1.5b").model
    draft_path = Path(args.draft) if args.draft else resolve_model().model
    report: dict = {"command": command_line(argv),
                    "machine": machine(), "uptime_before": uptime(), "llama_cpp_python": llama_cpp_version(),
                    "target": target_path.name, "draft": draft_path.name, "threads": args.threads, "fresh": args.fresh}

    opts = tuple(o for o in args.opts.split(",") if o)
    holes, by_id, hole_source = evaluate.case_holes(opts, args.holes)
    report["holes"] = len(holes)
    report["hole_source"] = hole_source

    target = load_llama(target_path, n_ctx=N_CTX, threads=args.threads)
    target.eval(target.tokenize(b"\tmov\tx0, x1\n", add_bos=False))
    rss_target = proc_status().get("VmRSS", 0) // 1024
    small = load_llama(draft_path, n_ctx=N_CTX, threads=args.threads)
    drafts = ModelDrafts(small, np, target=target)
    timed = Timed(drafts)
    stats = {"generated_tokens": 0}
    decoders = {"plain": Decoder(target, np, stats), "prompt-lookup": Decoder(target, np, stats, prompt_lookup=True)}
    for k in args.ks.split(","):
        decoders[f"draft-k{int(k)}"] = Decoder(target, np, stats, drafts=timed)
    names = list(decoders)
    ks = [int(k) for k in args.ks.split(",")]
    sizes = sorted({1, 2, *(k + 1 for k in ks), 1 + PROMPT_LOOKUP_TOKENS})
    rows: dict[str, list[dict]] = {name: [] for name in names}
    prompt_sizes = []
    try:
        for index, eval_hole in enumerate(holes):
            document = eval_hole.document(by_id)
            hole = Hole.at(document, eval_hole.line, eval_hole.col)
            prompt = fit_prompt(hole, eval_hole.n_lines, N_CTX, target.tokenize)
            prompt_sizes.append(len(prompt))
            warm = max(1, len(prompt) - args.fresh)
            target.reset()
            target.eval(prompt[:warm])
            drafts.reset()
            drafts.sync(prompt[:warm])
            for name in names[index % len(names):] + names[:index % len(names)]:
                uses_model = name.startswith("draft-")
                rows[name].append(run_one(name, target, decoders[name], drafts if uses_model else None,
                                          timed if uses_model else None, prompt, warm, hole, eval_hole.n_lines))
            print(f"hole {index + 1}/{len(holes)} {eval_hole.id} ({len(prompt)} tokens): "
                  + " | ".join(f"{n} {rows[n][-1]['decode_ms']:.0f} ms {rows[n][-1]['tokens']} tok"
                               f"{'' if rows[n][-1]['text'] == rows['plain'][-1]['text'] else ' DIFFERS'}"
                               for n in names), flush=True)
        first = holes[0]
        document = first.document(by_id)
        prompt = fit_prompt(Hole.at(document, first.line, first.col), first.n_lines, N_CTX, target.tokenize)
        report["divergences"] = []
        for index, eval_hole in enumerate(holes):
            for name in names[1:]:
                row, plain = rows[name][index], rows["plain"][index]
                if row["text"] != plain["text"]:
                    document = eval_hole.document(by_id)
                    prompt = fit_prompt(Hole.at(document, eval_hole.line, eval_hole.col), eval_hole.n_lines, N_CTX,
                                        target.tokenize)
                    found = divergence(target, np, prompt, plain["ids"], row["ids"])
                    report["divergences"].append({"hole": eval_hole.id, "system": name, **(found or {})})
        report["batch_ms"] = batch_costs(target, small, np, prompt, sizes, args.reps)
        print(report["batch_ms"], flush=True)
        status = proc_status()
        report["rss_mb"] = {"target": rss_target, "both": status.get("VmRSS", 0) // 1024,
                            "peak": status.get("VmHWM", 0) // 1024}
    finally:
        small.close()
        target.close()
    report["prompt_tokens_median"] = int(statistics.median(prompt_sizes))
    report["systems"] = {name: summarize(rows[name], rows["plain"]) for name in names}
    for name in names:
        for row in rows[name]:
            del row["ids"]
    report["rows"] = rows
    report["answers"] = [{"hole": h.id, "expected": h.expected, **{n: rows[n][i]["text"] for n in names}}
                         for i, h in enumerate(holes)]
    report["uptime_after"] = uptime()
    report["best_case"] = best_case(report["batch_ms"], ks)
    report["verdict"] = verdict(report)
    write_report(args.out, report, markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
