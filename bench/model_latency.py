"""Completion latency: direct llama-cpp-python calls vs CompletionEngine, same prompts, same run.

    PYTHONPATH=server python -m bench.model_latency            # ~3-5 min on 2 cores
    -> bench/results/model_latency.json and bench/results/model_latency.md

Test data: tests/fixtures/docs_c/{control,structs}.c compiled with aarch64-linux-gnu-gcc -O2 -S
(the embedded FACT function from tests/test_suggest.py when no cross compiler is found).
Holes: HOLES instruction lines spread evenly over the functions; for each, the user has typed
the mnemonic and a tab ("\\tldr\\t|") and wants the rest of the line.

Measured (median and max over holes, milliseconds):
- cold: empty KV cache, whole prompt evaluated. direct = Llama.create_completion(prompt=
  build_fim_prompt(...), temperature=0, stop=["\\n"]); engine = CompletionEngine.submit.
- warm: the user typed one more character; the previous prompt is in the KV cache
  (suggestion cache cleared, so this is the model path). Same for direct and engine.
- cache hit: the user typed the first character of the shown suggestion.
- follow-up: the next line after accepting, served from the speculative follow-up.
- multi-line (blank line, max 4 lines): engine without / with our prompt-lookup drafts, and
  direct without / with llama-cpp-python's LlamaPromptLookupDecoding (draft_model=).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from asm_lsp.model.engine import CompletionEngine, CompletionRequest, physical_cores
from asm_lsp.model.prompt import build_fim_prompt, cut_window
from asm_lsp.model.store import llama_cpp_version, resolve_model
from asm_lsp.model.suggest import Hole, accept, cut_suggestion
from bench.common import GCC, ROOT, compile_case, compiler_version, write_report

HOLES = 5  # 5 holes x ~8 measurements each keeps the run under ~5 min on 2 cores
CONTEXT = 2048  # the settings default
SOURCES = ["control.c", "structs.c"]
RESULTS = ROOT / "bench" / "results"


def assembly() -> tuple[str, str]:
    """The benchmark document and where it came from."""
    if shutil.which(GCC) is None:
        from bench.samples import FACT

        return FACT, f"embedded FACT (no {GCC})"
    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in SOURCES:
            out = Path(tmp) / (name + ".s")
            compile_case("gcc", "O2", ROOT / "tests/fixtures/docs_c" / name, out)
            parts.append(out.read_text())
    return "\n".join(parts), f"{', '.join(SOURCES)} via {compiler_version('gcc')} -O2 -S"


def pick_holes(text: str) -> list[tuple[int, str, str]]:
    """(line, mnemonic typed so far, rest of the true line) for HOLES instruction lines."""
    lines = text.split("\n")
    candidates = []
    for index, line in enumerate(lines):
        if line.startswith("\t") and not line.startswith("\t.") and "\t" in line[1:]:
            mnemonic, _, operands = line[1:].partition("\t")
            if operands and mnemonic not in ("ret",):
                candidates.append((index, "\t" + mnemonic + "\t", operands))
    step = max(1, len(candidates) // HOLES)
    return candidates[step // 2 :: step][:HOLES]


def with_line(text: str, line: int, content: str) -> str:
    lines = text.split("\n")
    return "\n".join(lines[:line] + [content] + lines[line + 1 :])


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def summary(values: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(values), 1), "max_ms": round(max(values), 1), "n": len(values)}


class Direct:
    """The plain llama-cpp-python way: create_completion on our prompt string."""

    def __init__(self, model: str, threads: int, draft: bool = False) -> None:
        import llama_cpp
        from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

        from asm_lsp.model.llama import load_llama

        self.llm = load_llama(
            model, n_ctx=CONTEXT, n_batch=128, threads=threads,
            # draft_model forces logits_all internally but sizes `scores` from this
            # argument: without it prompts longer than n_batch crash (0.3.36).
            logits_all=draft,
            draft_model=LlamaPromptLookupDecoding(num_pred_tokens=8) if draft else None,
        )

    def complete(self, hole: Hole, max_lines: int, cold: bool) -> tuple[str, float]:
        if cold:
            self.llm.reset()
        window = cut_window(hole.prefix, hole.suffix)
        t0 = time.perf_counter()
        result = self.llm.create_completion(
            prompt=build_fim_prompt(window.prefix, window.suffix),
            max_tokens=48 if max_lines == 1 else max_lines * 20,
            temperature=0.0,
            stop=["\n"] if not hole.multiline else ["\n\n"],
        )
        elapsed = time.perf_counter() - t0
        return cut_suggestion(result["choices"][0]["text"] + "\n", hole, max_lines).text, elapsed


def engine_complete(engine: CompletionEngine, text: str, line: int, col: int, max_lines: int = 1, follow_up: bool = False) -> tuple[str, float, str]:
    t0 = time.perf_counter()
    suggestion = engine.submit(CompletionRequest(text, line, col, max_lines, time_budget_ms=120000, follow_up=follow_up)).result()
    elapsed = time.perf_counter() - t0
    return (suggestion.text if suggestion else ""), elapsed, (suggestion.source if suggestion else "none")


def wait_idle(engine: CompletionEngine) -> None:
    while engine.busy:
        time.sleep(0.01)


def main() -> int:
    global HOLES
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--holes", type=int, default=HOLES, help="how many holes to time")
    parser.add_argument("--no-write", action="store_true", help="print only; keep the committed results")
    args = parser.parse_args()
    HOLES = args.holes
    t_start = time.perf_counter()
    text, origin = assembly()
    holes = pick_holes(text)
    threads = physical_cores()
    files = resolve_model(adapter="none")
    print(f"{len(holes)} holes in {origin}; {threads} threads; llama-cpp-python {llama_cpp_version()}", file=sys.stderr)

    t0 = time.perf_counter()
    engine = CompletionEngine(files, threads=threads, context_size=CONTEXT)
    engine.start()
    engine.wait_ready()
    load_s = time.perf_counter() - t0
    direct = Direct(str(files.model), threads)

    rows = []
    cold_direct, cold_engine, warm_direct, warm_engine, hits, follow = [], [], [], [], [], []
    agree = 0
    for line, typed, truth in holes:
        doc = with_line(text, line, typed)
        hole = Hole.at(doc, line, len(typed))
        d_text, d_cold = direct.complete(hole, 1, cold=True)
        engine._llm.n_tokens = 0  # cold KV cache (engine idle: safe to touch)
        engine.cache.clear()
        e_text, e_cold, _ = engine_complete(engine, doc, line, len(typed))
        agree += d_text == e_text
        # One more typed character (the true one), model path for both.
        doc2 = with_line(text, line, typed + truth[:1])
        hole2 = Hole.at(doc2, line, len(typed) + 1)
        _, d_warm = direct.complete(hole2, 1, cold=False)
        engine.cache.clear()
        _, e_warm, _ = engine_complete(engine, doc2, line, len(typed) + 1, follow_up=True)
        # Typed-ahead cache hit: the user types the first character of what was shown.
        shown = engine.cache.lookup(hole2)
        hit_ms = None
        if shown and len(shown[0]) > 1:
            doc3 = with_line(text, line, typed + truth[:1] + shown[0][0])
            _, hit, source = engine_complete(engine, doc3, line, len(typed) + 2)
            if source == "cache":
                hits.append(ms(hit))
                hit_ms = ms(hit)
        # Speculative follow-up: accept the suggestion, press Enter, the editor indents a tab.
        wait_idle(engine)
        follow_ms = None
        if shown:
            after = accept(hole2, shown[0])
            doc4 = after.prefix + "\t" + after.suffix
            line4 = after.prefix.count("\n")
            _, f_time, source = engine_complete(engine, doc4, line4, 1)
            if source == "cache":
                follow.append(ms(f_time))
                follow_ms = ms(f_time)
        cold_direct.append(ms(d_cold))
        cold_engine.append(ms(e_cold))
        warm_direct.append(ms(d_warm))
        warm_engine.append(ms(e_warm))
        rows.append({
            "line": line + 1, "typed": typed, "truth": truth, "direct": d_text, "engine": e_text,
            "cold_direct_ms": ms(d_cold), "cold_engine_ms": ms(e_cold), "warm_direct_ms": ms(d_warm),
            "warm_engine_ms": ms(e_warm), "cache_hit_ms": hit_ms, "follow_up_hit_ms": follow_ms,
        })
        print(rows[-1], file=sys.stderr)

    # Multi-line on a blank line: prompt lookup off/on, engine and direct.
    multi: dict[str, list[float]] = {"engine": [], "engine_first_line": [], "engine_prompt_lookup": [], "direct": [],
                                     "direct_draft_model": []}
    multi_tokens = {"engine": 0, "engine_prompt_lookup": 0}
    same_text = 0
    for line, _, _ in holes[:3]:
        doc = with_line(text, line, "")
        hole = Hole.at(doc, line, 0)
        outputs = {}
        for lookup in (False, True):
            engine.prompt_lookup = lookup
            engine.cache.clear()
            # Warm prompt, then time generation only: evaluate the prompt once first.
            engine.prefill(doc, line, 0)
            wait_idle(engine)
            name = "engine_prompt_lookup" if lookup else "engine"
            before = engine.stats["generated_tokens"]
            t0 = time.perf_counter()
            first, first_s, _ = engine_complete(engine, doc, line, 0, max_lines=4)
            wait_idle(engine)  # answered at its first line; the rest is decoded into the cache behind it
            elapsed = time.perf_counter() - t0
            multi[name].append(ms(elapsed))
            if not lookup:
                multi["engine_first_line"].append(ms(first_s))
            multi_tokens[name] += engine.stats["generated_tokens"] - before
            decoded = engine.cache.lookup(hole)
            outputs[name] = decoded[0] if decoded else first
        same_text += outputs["engine"] == outputs["engine_prompt_lookup"]
        direct.complete(hole, 4, cold=False)  # warm the prompt (its prefix is cached already)
        _, elapsed = direct.complete(hole, 4, cold=False)
        multi["direct"].append(ms(elapsed))
    engine.prompt_lookup = False
    engine.close()
    del direct
    drafted = Direct(str(files.model), threads, draft=True)
    for line, _, _ in holes[:3]:
        hole = Hole.at(with_line(text, line, ""), line, 0)
        drafted.complete(hole, 4, cold=False)  # one cold evaluation for the first hole only
        _, elapsed = drafted.complete(hole, 4, cold=False)
        multi["direct_draft_model"].append(ms(elapsed))
    del drafted

    result = {
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": threads, "load_avg_at_start": os.getloadavg()[0]},
        "llama_cpp_python": llama_cpp_version(),
        "model": files.model.name,
        "context_size": CONTEXT,
        "data": origin,
        "engine_load_s": round(load_s, 2),
        "one_line": {
            "cold_direct": summary(cold_direct), "cold_engine": summary(cold_engine),
            "cold_ratio_engine_over_direct": round(statistics.median(cold_engine) / statistics.median(cold_direct), 2),
            "warm_direct": summary(warm_direct), "warm_engine": summary(warm_engine),
            "warm_ratio_engine_over_direct": round(statistics.median(warm_engine) / statistics.median(warm_direct), 2),
            "cache_hit": summary(hits) if hits else None,
            "follow_up_hit": summary(follow) if follow else None,
            "engine_equals_direct": f"{agree}/{len(holes)}",
        },
        "multi_line_4_warm_prompt": {
            **{name: summary(values) for name, values in multi.items()},
            "engine_tokens": multi_tokens,
            "prompt_lookup_same_text": f"{same_text}/{len(holes[:3])}",
        },
        "holes": rows,
        "wall_s": round(time.perf_counter() - t_start, 1),
    }
    if args.no_write:
        print(json.dumps(result, indent=2))
        return 0
    write_report(RESULTS / "model_latency", result, markdown(result))
    print(markdown(result))
    return 0


def markdown(r: dict) -> str:
    one, multi = r["one_line"], r["multi_line_4_warm_prompt"]

    def cell(entry: dict | None) -> str:
        return "–" if not entry else f"{entry['median_ms']:.0f} (max {entry['max_ms']:.0f}, n={entry['n']})"

    lines = [
        "# Model completion latency",
        "",
        f"{r['model']}, llama-cpp-python {r['llama_cpp_python']}, n_ctx {r['context_size']}, "
        f"{r['machine']['threads']} threads on {r['machine']['cpu']} (load average at start "
        f"{r['machine']['load_avg_at_start']:.1f}). Data: {r['data']}. Engine load {r['engine_load_s']} s. "
        f"Run took {r['wall_s']} s. Times in ms, median (max) over holes.",
        "",
        "| one line after the typed mnemonic | direct create_completion | CompletionEngine | engine/direct |",
        "|---|---|---|---|",
        f"| cold (empty KV cache) | {cell(one['cold_direct'])} | {cell(one['cold_engine'])} | {one['cold_ratio_engine_over_direct']} |",
        f"| warm (one more char typed) | {cell(one['warm_direct'])} | {cell(one['warm_engine'])} | {one['warm_ratio_engine_over_direct']} |",
        f"| typed-ahead cache hit | – | {cell(one['cache_hit'])} | |",
        f"| speculative follow-up hit (next line) | – | {cell(one['follow_up_hit'])} | |",
        "",
        f"Greedy outputs identical (engine vs direct): {one['engine_equals_direct']}.",
        "",
        "| multi-line (blank line, max 4 lines, prompt already evaluated) | ms |",
        "|---|---|",
        f"| engine, all lines decoded | {cell(multi['engine'])} |",
        f"| engine, answered (first line) | {cell(multi.get('engine_first_line'))} |",
        f"| engine + prompt-lookup drafts | {cell(multi['engine_prompt_lookup'])} |",
        f"| direct create_completion | {cell(multi['direct'])} |",
        f"| direct + LlamaPromptLookupDecoding (draft_model=) | {cell(multi['direct_draft_model'])} |",
        "",
        f"Generated tokens (engine / with lookup): {multi['engine_tokens']['engine']} / "
        f"{multi['engine_tokens']['engine_prompt_lookup']}; same text with lookup: {multi['prompt_lookup_same_text']}.",
        "",
        "Notes: direct multi-line stops at a blank line or 80 tokens (stop=[\"\\n\\n\"]); the engine stops",
        "as soon as the cut suggestion is complete (4 lines, function end, re-joining the next line),",
        "which is most of its multi-line advantage. Both decode greedily; identical text is checked above.",
        "Absolute times scale with machine load (see load average): compare columns within one run.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
