"""Typing replay: model-completion latency as an editor sees it, over stdio, real server, real model.

    PYTHONPATH=server python -m bench.typing_replay            # ~11 min on 2 cores at load ~12
    -> bench/results/typing_replay.json and bench/results/typing_replay.md
    PYTHONPATH=server python -m bench.typing_replay --render --notes NOTES.md   # md again, with a diagnosis
    PYTHONPATH=server python -m bench.typing_replay --quick  # ~5 min quiet: one document, 12 typed lines,
        # the new engine beside the old one (--baseline f7309b4, its own defaults), open-and-ask 6 holes

Default run: documents gcc-O2 and clang-O0, server settings `default` and `old-engine` (the server of
`--baseline REV`, by default f7309b4: the engine before it was split and answered at the first
line, at its own defaults) typed side by side (one fresh server each); open-and-ask (below) for
`default`, `old-engine` and the cold/full window with the budget lifted (quality side by side);
then `no-embeddings` only opened (memory and first suggestion).

Open and ask: for OPEN_HOLES instruction lines of the typed function, a file with that line
emptied is opened and an inline completion asked there at once (no reading time): empty
answers, exact first lines, latency.

Test data: bench/exec_completion/cases/*.c (not the *_test.c drivers) concatenated into one
translation unit and compiled with aarch64-linux-gnu-gcc -O2 and clang -O0 (-S). From each
output we cut a ~300-line document: consecutive whole functions around one function of 20-40
lines, plus the file's header and trailer. That function is the typed region: the document is
opened with it replaced by one empty line, and the client types it back keystroke by keystroke.
These cases are held out: the training corpus (models/work/corpus) is built from other projects.
When models/work/corpus/manifest.json exists, `--corpus` uses a file of its test split instead.

Editor model (the trigger policy), one simulated user per server and document:
- Keys every KEY_MS (60 ms); Enter inserts a bare "\\n", the user then types the indentation.
  Each key is one incremental `textDocument/didChange` (range = the cursor, text = the key).
- VS Code style: DEBOUNCE_MS (50 ms, VS Code's inline-completion debounce) after every key a
  `textDocument/inlineCompletion` goes out; when the next key comes first, the client sends
  `$/cancelRequest` for it (VS Code cancels stale inline requests on every edit). So while
  the user types steadily, only answers within ~10 ms (the suggestion cache) are seen.
- Pause points, where a user stops and looks at the ghost text: (a) at a line start, once its
  indentation is typed (the cursor after Enter + auto-indent), (b) right after a mnemonic or
  directive and its separator ("\\tldr\\t|"). There the user waits for the answer (up to
  WAIT_CAP_S), then reads for at least READ_MS. When the suggestion's first line equals what
  the user is about to type (exact rest of the line), it is accepted (Tab: one didChange with
  the whole matching lines); otherwise the user types on.
- Right after didOpen: inline completion at the typed region's empty line, repeated until a
  non-empty answer ("first suggestion"; the model is loaded before the file is opened).

Figures per (server settings x document): latency of answered requests (client side, send to
response), answered / empty / cancelled fractions, the engine's counters (asmLsp.modelStatus:
completions, cache hits, follow-ups), exact-line acceptance, server RSS (VmRSS samples, VmHWM).

Overhead probe: at every PROBE_EVERY-th pause point of kind (b) the client first waits until
the server process is idle (its CPU time stops moving), asks the server, waits until it is idle
again (follow-up speculation), then makes the same call directly in this process with
llama-cpp-python: the same prompt (asm_lsp.model.prompt via the engine's Hole/cut_window), same
model file, threads, context and batch size, greedy, stop at "\\n", max tokens as the engine's
one-line limit. The direct Llama's KV cache is primed (untimed) with the prompt of the previous
keystroke, as the server's is after typing. Ratio = median server latency / median direct
latency over comparable probes: the server ran the model (not its cache), within its 2 s budget,
and showed the same text as the direct call (with the assembler check on, an empty or rejected
greedy line makes the engine sample more candidates; that shows in the all-probes ratio).
llama.cpp's perf counters split the direct call into prompt evaluation and decoding.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # as the server's engine: before llama_cpp loads

from asm_lsp.model.fitting import ONE_LINE_MAX_TOKENS
from asm_lsp.model.llama import load_llama, physical_cores
from asm_lsp.model.prompt import DEFAULT_PREFIX_BUDGET, DEFAULT_SUFFIX_BUDGET, build_fim_prompt, cut_window
from asm_lsp.model.suggest import Hole
from asm_lsp.syntax import split_functions
from bench.common import (ROOT, compile_argv, compiler_version, cpu_ticks, percentile, proc_status, rounded,
                          write_report)
from bench.lsp_client import LspClient, LspError

KEY_MS = 60  # a steady typist: ~170 characters a minute... per the brief, 60 ms between keys
DEBOUNCE_MS = 50  # VS Code's inline-completion debounce
READ_MS = 300  # after a pause-point answer the user reads the ghost text at least this long
WAIT_CAP_S = 3.0  # a user waits at most this long at a pause point (server budget is 2 s)
FIRST_SUGGESTION_CAP_S = 60.0  # a cold ~1400-token prompt took ~45 s at load 12 on 2 cores
BUDGET_MS = 2000  # completion.timeBudgetMs default: the engine answers None after this
PROBE_EVERY = 2  # every 2nd mnemonic pause point is also an overhead probe
MAX_PROBES = 6  # per replay: each probe costs two idle waits and two model calls
MEMORY_SETTLE_S = 180.0  # open-only sessions: wait this long at most for the embedder to go idle
DOC_LINES = 300
TYPED_LINES = (20, 40)
CONTEXT = 2048  # settings default, as the server
BATCH = 128  # CompletionEngine default
CASES = ROOT / "bench" / "exec_completion" / "cases"
RESULTS = ROOT / "bench" / "results"
COMPILERS = {"gcc-O2": ("gcc", "O2"), "clang-O0": ("clang", "O0"), "gcc-O0": ("gcc", "O0"), "clang-O2": ("clang", "O2")}
SETTINGS = {
    "default": {},
    "no-asm-check": {"completion": {"checkWithAssembler": False}},
    "no-embeddings": {"index": {"embeddings": False}},
    "kv-shift": {"model": {"kvShift": True}},
    "old-engine": {},  # the server of --baseline REV (its own defaults), side by side
    "cold-window": {"model": {"coldWindow": True}},
    "full-window": {"model": {"coldWindow": False}},
    "lifted-cold-window": {"model": {"coldWindow": True}, "completion": {"timeBudgetMs": 60000}},
    "lifted-full-window": {"model": {"coldWindow": False}, "completion": {"timeBudgetMs": 60000}},
    "size-1.5b": {"model": {"size": "1.5b"}},  # the 1.5B model (its own adapter where shipped)
}
OPEN_HOLES = 12  # open-and-ask: instruction lines of the typed function, each opened emptied and asked at once
BASELINE_SERVER = Path("/nonexistent")  # set by --baseline: an old commit's server/ extracted
_STATS = re.compile(r"completions (\d+), cache hits (\d+), follow-ups (\d+)")
_MNEMONIC_END = re.compile(r"^\s*[.\w]+[ \t]$")


def pause_kind(true_line: str, col: int) -> str:
    """Where a user pauses to read: "line-start" (after the indentation), "mnemonic" (after a
    mnemonic or directive and its separator), or "" (keeps typing)."""
    indent = len(true_line) - len(true_line.lstrip(" \t"))
    if col >= len(true_line):
        return ""
    if col == indent:
        return "line-start"
    if _MNEMONIC_END.match(true_line[:col]):
        return "mnemonic"
    return ""


# ------------------------------------------------------------------ documents

@dataclass
class Document:
    name: str
    source: str  # how it was made
    lines: list[str]  # the whole ~300-line file
    start: int  # 0-based first line of the typed function
    end: int  # 0-based last line (inclusive)

    @property
    def opened(self) -> str:
        """The file as opened: the typed function replaced by one empty line."""
        return "\n".join(self.lines[: self.start] + [""] + self.lines[self.end + 1:])

    @property
    def typed(self) -> list[str]:
        return self.lines[self.start: self.end + 1]


def cut_document(name: str, source: str, text: str) -> Document | None:
    """~DOC_LINES lines of whole functions around one of TYPED_LINES lines, plus header/trailer."""
    lines = text.split("\n")
    functions = split_functions(text)
    if len(functions) < 3:
        return None
    sizes = [f.end_line - f.start_line + 1 for f in functions]
    fits = [i for i, n in enumerate(sizes) if TYPED_LINES[0] <= n <= TYPED_LINES[1] and 0 < i < len(functions) - 1]
    if not fits:
        return None
    # Typing tends to happen late in a file: prefer a function with ~2/3 of the document before it.
    target = min(fits, key=lambda i: (abs(sizes[i] - 30) // 6, abs(i - 2 * len(functions) // 3)))
    header = lines[: functions[0].start_line]
    trailer_from = functions[-1].end_line + 1
    trailer = [x for x in lines[trailer_from:] if x.strip().startswith((".ident", ".section\t.note", ".section .note"))]
    first, last = target, target
    budget = DOC_LINES - len(header) - len(trailer)

    def span(a: int, b: int) -> int:
        return functions[b].end_line - functions[a].start_line + 1

    while span(first, last) < budget:
        grew = False
        if first > 0 and span(first - 1, last) <= budget and (last - target >= (target - first) // 2 or last == len(functions) - 1):
            first -= 1
            grew = True
        elif last < len(functions) - 1 and span(first, last + 1) <= budget:
            last += 1
            grew = True
        elif first > 0 and span(first - 1, last) <= budget:
            first -= 1
            grew = True
        if not grew:
            break
    body = lines[functions[first].start_line: functions[last].end_line + 1]
    doc_lines = header + body + trailer
    start = len(header) + functions[target].start_line - functions[first].start_line
    end = start + sizes[target] - 1
    return Document(f"{name}:{functions[target].name}", source, doc_lines, start, end)


def build_documents(names: list[str], work: Path, keep: Path | None = None) -> list[Document]:
    """Compile the cases into one document per compiler in ``names``. With ``keep``, each compiled
    document is also kept there, and read from there where the compiler is missing (the GPU
    machine has no AArch64 cross compiler: models/device/gpu_serving.sh carries them)."""
    sources = sorted(p for p in CASES.glob("*.c") if not p.name.endswith("_test.c"))
    unit = work / "cases_all.c"
    unit.write_text("\n".join(p.read_text() for p in sources))
    docs = []
    for name in names:
        out = work / f"{name}.s"
        argv = compile_argv(*COMPILERS[name], unit, out)
        kept = keep / f"{name}.s" if keep else None
        if shutil.which(argv[0]) is not None:
            subprocess.run(argv, check=True)
            origin = f"{len(sources)} cases via {compiler_version(COMPILERS[name][0])} {' '.join(argv[1:-3])}"
            if kept:
                kept.parent.mkdir(parents=True, exist_ok=True)
                kept.write_text(out.read_text())
                kept.with_suffix(".origin").write_text(origin)
        elif kept and kept.exists():
            out.write_text(kept.read_text())
            origin = kept.with_suffix(".origin").read_text() + f" (compiled elsewhere, read from {kept})"
        else:
            print(f"skip {name}: {argv[0]} not found", file=sys.stderr)
            continue
        doc = cut_document(name, origin, out.read_text())
        if doc is not None:
            docs.append(doc)
    return docs


def corpus_documents(limit: int) -> list[Document]:
    """Files of the corpus test split (when the corpus manifest exists)."""
    corpus = ROOT / "models" / "work" / "corpus"
    manifest = corpus / "manifest.json"
    if not manifest.exists():
        return []
    data = json.loads(manifest.read_text())
    test = {p["name"] for p in data.get("projects", []) if p.get("split") == "test"}
    docs = []
    for project in sorted(test):
        for path in sorted((corpus / "asm" / project).rglob("*.s")):
            doc = cut_document(f"{project}/{path.name}", f"corpus test split: {path.relative_to(corpus)}",
                               path.read_text(errors="replace"))
            if doc is not None:
                docs.append(doc)
                break
        if len(docs) >= limit:
            break
    return docs


# ------------------------------------------------------------------ client

class Client(LspClient):
    """LspClient plus non-blocking requests that can be cancelled, with response times."""

    def send_request(self, method: str, params: Any) -> tuple[int, Future, float]:
        with self._lock:
            self._next_id += 1
            request_id = self._next_id
            future: Future = Future()
            future.answered_at = None  # type: ignore[attr-defined]
            self._pending[request_id] = future
        sent = time.monotonic()
        self._send({"id": request_id, "method": method, "params": params})
        return request_id, future, sent

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" not in message:
            with self._lock:
                future = self._pending.get(message.get("id"))
            if future is not None:
                future.answered_at = time.monotonic()  # type: ignore[attr-defined]
        super()._dispatch(message)

    def cancel(self, request_id: int) -> bool:
        """Cancel if still unanswered; True if it was."""
        with self._lock:
            future = self._pending.pop(request_id, None)
        if future is None:
            return False
        self.notify("$/cancelRequest", {"id": request_id})
        return True


def wait_idle(pid: int, quiet_s: float = 0.15, cap_s: float = 4.0) -> float:
    """Wait until the process used no CPU for ``quiet_s``; return seconds waited."""
    t0 = time.monotonic()
    last = cpu_ticks(pid)
    quiet_since = time.monotonic()
    while time.monotonic() - t0 < cap_s:
        time.sleep(0.03)
        now = cpu_ticks(pid)
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            break
    return time.monotonic() - t0


# ------------------------------------------------------------------ direct llama.cpp

class Direct:
    """The same model called straight through llama-cpp-python, as bench/model_latency.py's baseline."""

    def __init__(self) -> None:
        import llama_cpp

        from asm_lsp.model.store import resolve_model

        self.files = resolve_model("", "none", "")
        self.cold: list[dict[str, Any]] = []
        self.llama_cpp = llama_cpp
        self.llm = load_llama(self.files.model, n_ctx=CONTEXT, n_batch=BATCH)  # as the engine loads it

    def tokens(self, text: str, line: int, col: int) -> list[int]:
        hole = Hole.at(text, line, col)
        window = cut_window(hole.prefix, hole.suffix, DEFAULT_PREFIX_BUDGET, DEFAULT_SUFFIX_BUDGET)
        prompt = build_fim_prompt(window.prefix, window.suffix)
        return self.llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)

    def complete(self, tokens: list[int]) -> dict[str, Any]:
        ctx = self.llm._ctx.ctx
        self.llama_cpp.llama_perf_context_reset(ctx)
        t0 = time.monotonic()
        out = self.llm.create_completion(tokens, max_tokens=ONE_LINE_MAX_TOKENS, temperature=0.0, stop=["\n"])
        elapsed = (time.monotonic() - t0) * 1000
        perf = self.llama_cpp.llama_perf_context(ctx)
        if perf.n_p_eval > 500:  # a cold prompt (the first probe of a document): keep its rate
            self.cold.append({"prompt_tokens": perf.n_p_eval, "prompt_eval_ms": round(perf.t_p_eval_ms),
                              "ms_per_token": round(perf.t_p_eval_ms / perf.n_p_eval, 1)})
        return {"ms": elapsed, "prompt_eval_ms": perf.t_p_eval_ms, "prompt_eval_tokens": perf.n_p_eval,
                "decode_ms": perf.t_eval_ms, "decode_tokens": perf.n_eval, "prompt_tokens": len(tokens),
                "text": out["choices"][0]["text"]}


# ------------------------------------------------------------------ replay

@dataclass
class Request:
    kind: str  # "key" (after a key, VS Code style), "line-start", "mnemonic", "first"
    latency_ms: float | None  # None: cancelled before an answer
    outcome: str  # "suggestion" | "empty" | "cancelled" | "timeout"
    source: str = ""  # pause points: "model" | "cache" | "" (from the engine's counters)
    matched: bool | None = None  # pause points with a suggestion: first line == what the user typed next
    matched_ws: bool | None = None  # the same, whitespace runs made equal
    probe: dict[str, Any] | None = None
    typed_line: int = -1  # pause points: 0-based line within the typed function
    window_start: int = -1  # pause points: first document line of the engine's prefix window
    shown: str = ""  # pause points: the suggestion's first line (truncated), to see what the model says


@dataclass
class Replay:
    settings: str
    document: str
    load_avg_start: list[float]
    load_avg_end: list[float] = field(default_factory=list)
    ready_s: float = 0.0  # server start to model ready
    first_suggestion_s: float | None = None
    first_suggestion_tries: int = 0
    first_in_budget_s: float | None = None  # didOpen to the first answer within the 2 s budget (prompt warm)
    first_suggestion_text: str = ""
    keys: int = 0
    accepted: int = 0
    accepted_chars: int = 0
    wall_s: float = 0.0
    text_matches: bool = False  # the buffer after the replay equals the original file
    engine: dict[str, int] = field(default_factory=dict)
    rss_kb: list[int] = field(default_factory=list)
    hwm_kb: int = 0
    requests: list[Request] = field(default_factory=list)
    similar_status: str = ""  # open-only sessions: the similar-functions status at the end


STATS_MAX_S = 0.0  # the slowest asmLsp.modelStats answer seen (a stalled event loop shows here)


def model_stats(client: Client) -> dict[str, Any]:
    """``asmLsp.modelStats`` (JSON); {} from a server without it (an older engine)."""
    global STATS_MAX_S
    started = time.monotonic()
    try:
        stats = client.request("workspace/executeCommand", {"command": "asmLsp.modelStats", "arguments": []}, 120)
    except LspError:  # "Command name 'asmLsp.modelStats' is not defined"
        return {}
    finally:
        STATS_MAX_S = max(STATS_MAX_S, time.monotonic() - started)
    return stats if isinstance(stats, dict) else {}


def engine_stats(client: Client) -> dict[str, int]:
    counters = model_stats(client).get("counters")
    if counters:
        return {k: int(v) for k, v in counters.items()}
    # A server from before asmLsp.modelStats (--baseline): its Markdown status.
    text = client.request("workspace/executeCommand", {"command": "asmLsp.modelStatus", "arguments": []}, 30) or ""
    found = _STATS.search(text)
    if not found:
        return {}
    return dict(zip(("completions", "cache_hits", "follow_ups"), map(int, found.groups())))


def norm_ws(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text.strip())


class Session:
    """One server (one settings variant) typing one document."""

    def __init__(self, settings_name: str, doc: Document, work: Path, direct: Direct | None, adapter: str,
                 fresh_cache: bool = False) -> None:
        """``fresh_cache``: an empty cache folder (the model file given by path), so the opened
        file is really embedded rather than read from ~/.cache/asm-lsp/embeddings.sqlite."""
        self.doc = doc
        self.direct = direct
        self.settings = SETTINGS[settings_name]
        self.result = Replay(settings_name, doc.name, list(os.getloadavg()))
        folder = work / f"ws-{settings_name}-{doc.name.replace(':', '-').replace('/', '-')}"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "typed.s"
        self.path.write_text(doc.opened)
        self.uri = self.path.as_uri()
        server_dir = BASELINE_SERVER if settings_name == "old-engine" else ROOT / "server"
        # keep the caller's PYTHONPATH behind ours (the GPU machine's llama-cpp-python and pygls live there)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(server_dir), os.environ.get("PYTHONPATH", "")) if p))
        argv = [sys.executable, "-m", "asm_lsp", "--stdio", "--adapter", adapter]
        if fresh_cache:
            from asm_lsp.model.store import resolve_model

            argv += ["--model", str(resolve_model("", "none", "").model), "--cache-dir", str(folder / "cache")]
        self.client = Client(argv, work / f"server-{settings_name}.log", env=env, cwd=folder, settings=self.settings,
                             strict=False)
        self.pid = self.client.proc.pid
        self.folder = folder
        self.lines = doc.opened.split("\n")
        self.line, self.col = doc.start, 0
        self.version = 1
        self.probes = 0
        self.mnemonic_points = 0

    # -- LSP plumbing ----------------------------------------------------------------
    def start(self) -> None:
        t0 = time.monotonic()
        caps = {"textDocument": {"synchronization": {"dynamicRegistration": False}, "inlineCompletion": {},
                                 "completion": {"completionItem": {"snippetSupport": True}}},
                "workspace": {"configuration": True}}
        self.client.request("initialize", {"processId": os.getpid(), "rootUri": self.folder.as_uri(),
                                           "capabilities": caps, "initializationOptions": self.settings,
                                           "workspaceFolders": [{"uri": self.folder.as_uri(), "name": "ws"}]}, 60)
        self.client.notify("initialized", {})
        while time.monotonic() - t0 < 120:
            states = [n["params"].get("model") for n in list(self.client.notifications) if n.get("method") == "asmLsp/status"]
            if "ready" in states:
                break
            if any(s in ("unavailable", "off", "not installed") for s in states):
                raise RuntimeError(f"model not available: {states}")
            time.sleep(0.05)
        self.result.ready_s = time.monotonic() - t0
        wait_idle(self.pid, 0.5, 30)  # workspace index / embeddings of the (tiny) workspace

    def text(self) -> str:
        return "\n".join(self.lines)

    def insert(self, piece: str) -> None:
        """One didChange inserting ``piece`` at the cursor; the cursor moves past it."""
        at = {"line": self.line, "character": self.col}
        self.version += 1
        self.client.notify("textDocument/didChange", {
            "textDocument": {"uri": self.uri, "version": self.version},
            "contentChanges": [{"range": {"start": at, "end": at}, "text": piece}]})
        current = self.lines[self.line]
        new = (current[: self.col] + piece + current[self.col:]).split("\n")
        self.lines[self.line: self.line + 1] = new
        self.line += len(new) - 1
        self.col = len(new[-1]) - len(current[self.col:])

    def inline(self) -> tuple[int, Future, float]:
        return self.client.send_request("textDocument/inlineCompletion", {
            "textDocument": {"uri": self.uri}, "position": {"line": self.line, "character": self.col},
            "context": {"triggerKind": 2}})  # Automatic

    @staticmethod
    def suggestion(result: Any) -> str:
        items = (result or {}).get("items") if isinstance(result, dict) else result
        if not items:
            return ""
        text = items[0].get("insertText")
        return text if isinstance(text, str) else (text or {}).get("value", "")

    def sample_memory(self) -> None:
        status = proc_status(self.pid)
        if "VmRSS" in status:
            self.result.rss_kb.append(status["VmRSS"])

    # -- the replay --------------------------------------------------------------------
    def first_suggestion(self) -> None:
        self.client.notify("textDocument/didOpen", {"textDocument": {
            "uri": self.uri, "languageId": "asm", "version": self.version, "text": self.text()}})
        t0 = time.monotonic()
        tries = 0
        while time.monotonic() - t0 < FIRST_SUGGESTION_CAP_S:
            tries += 1
            _, future, sent = self.inline()
            try:
                result = future.result(timeout=FIRST_SUGGESTION_CAP_S)
            except Exception:
                break
            text = self.suggestion(result)
            latency = (future.answered_at - sent) * 1000
            self.result.requests.append(Request("first", latency, "suggestion" if text else "empty"))
            if self.result.first_in_budget_s is None and latency < BUDGET_MS * 0.95:
                self.result.first_in_budget_s = future.answered_at - t0
            if text:
                self.result.first_suggestion_s = future.answered_at - t0
                self.result.first_suggestion_text = text
                break
            time.sleep(0.1)
        self.result.first_suggestion_tries = tries
        self.sample_memory()

    def pause_point(self, kind: str, truth_rest: str, previous_text: str | None) -> str:
        """Wait for the answer here; return the text to accept ("" for none)."""
        probe = None
        if kind == "mnemonic":
            self.mnemonic_points += 1
            probe = (self.direct is not None and self.mnemonic_points % PROBE_EVERY == 0
                     and self.probes < MAX_PROBES and previous_text is not None)
        if probe:
            wait_idle(self.pid)
        before = engine_stats(self.client)
        time.sleep(DEBOUNCE_MS / 1000)
        request_id, future, sent = self.inline()
        try:
            result = future.result(timeout=WAIT_CAP_S)
        except TimeoutError:
            self.client.cancel(request_id)
            self.result.requests.append(self.locate(Request(kind, None, "timeout")))
            return ""
        latency = (future.answered_at - sent) * 1000
        answered = time.monotonic()
        text = self.suggestion(result)
        after = engine_stats(self.client)
        source = ""
        if after and before:
            if after["cache_hits"] > before["cache_hits"]:
                source = "cache"
            elif after.get("typed_along", 0) > before.get("typed_along", 0):
                source = "decoding"  # typed along the running decoding: answered from it
            elif after["completions"] > before["completions"]:
                source = "model"
        request = Request(kind, latency, "suggestion" if text else "empty", source)
        self.locate(request)
        if text:
            first = text.split("\n", 1)[0]
            request.shown = first[:80]
            request.matched = first.rstrip() == truth_rest.rstrip()
            request.matched_ws = norm_ws(first) == norm_ws(truth_rest)
        if probe and source == "model" and self.direct is not None:
            wait_idle(self.pid)
            current = self.text()
            self.direct.complete(self.direct.tokens(previous_text, self.line, self.col - 1))  # prime, untimed
            direct = self.direct.complete(self.direct.tokens(current, self.line, self.col))
            direct["server_ms"] = latency
            direct["server_text"] = text
            request.probe = direct
            self.probes += 1
        self.result.requests.append(request)
        self.sample_memory()
        rest = READ_MS / 1000 - (time.monotonic() - answered)
        if rest > 0:
            time.sleep(rest)
        if request.matched:
            return self.accept_text(text, truth_rest)
        return ""

    def locate(self, request: Request) -> Request:
        """Note where the request was and where the engine's prefix window starts (its cache anchor)."""
        hole = Hole.at(self.text(), self.line, self.col)
        request.typed_line = self.line - self.doc.start
        request.window_start = cut_window(hole.prefix, hole.suffix).prefix_first_line
        return request

    def accept_text(self, text: str, truth_rest: str) -> str:
        """The whole lines of ``text`` that match what the user would type (first line known to match)."""
        typed = self.doc.typed
        offset = self.line - self.doc.start
        keep = [truth_rest]
        for index, piece in enumerate(text.split("\n")[1:], start=1):
            if offset + index >= len(typed) or piece.rstrip() != typed[offset + index].rstrip():
                break
            keep.append(typed[offset + index])
        return "\n".join(keep)

    def type_function(self) -> None:
        typed = self.doc.typed
        outstanding: list[tuple[int, Future, float]] = []
        next_key = time.monotonic()
        paused_at: tuple[int, int] | None = None
        previous_text: str | None = None

        def settle_outstanding() -> None:
            for request_id, future, sent in outstanding:
                answered_at = getattr(future, "answered_at", None)
                if answered_at is not None or not self.client.cancel(request_id):
                    try:
                        text = self.suggestion(future.result(timeout=1))
                    except Exception:
                        text = ""
                    answered_at = getattr(future, "answered_at", None) or time.monotonic()
                    self.result.requests.append(Request("key", (answered_at - sent) * 1000,
                                                        "suggestion" if text else "empty"))
                else:
                    self.result.requests.append(Request("key", None, "cancelled"))
            outstanding.clear()

        while True:
            offset = self.line - self.doc.start
            true_line = typed[offset]
            if self.col >= len(true_line):
                if offset == len(typed) - 1:
                    break
                piece = "\n"
            else:
                kind = pause_kind(true_line, self.col)
                if kind and paused_at != (self.line, self.col):
                    paused_at = (self.line, self.col)
                    settle_outstanding()
                    accept = self.pause_point(kind, true_line[self.col:], previous_text)
                    next_key = time.monotonic() + KEY_MS / 1000
                    if accept:
                        self.insert(accept)
                        self.result.accepted += 1
                        self.result.accepted_chars += len(accept)
                        continue
                piece = true_line[self.col]
            delay = next_key - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            settle_outstanding()
            previous_text = self.text()
            self.key(piece)
            next_key = time.monotonic() + KEY_MS / 1000
            offset = self.line - self.doc.start
            if pause_kind(typed[offset], self.col):
                continue  # the pause point asks (after the debounce) itself
            time.sleep(DEBOUNCE_MS / 1000)
            outstanding.append(self.inline())
        settle_outstanding()

    def key(self, piece: str) -> None:
        self.result.keys += 1
        self.insert(piece)

    def memory_only(self) -> Replay:
        """Start, open the document and ask for the first suggestion: RSS and open-time figures, no typing."""
        sampler = threading.Thread(target=self._sample_until_done, daemon=True)
        self._done = threading.Event()
        sampler.start()
        self.first_suggestion()
        # With embeddings on, the opened file is embedded in the background: its context's
        # buffers count too, so sample until the server is idle (or MEMORY_SETTLE_S).
        wait_idle(self.pid, 2.0, MEMORY_SETTLE_S)
        self._done.set()
        sampler.join()
        self.result.similar_status = model_stats(self.client).get("similar") or ""
        self.lines = list(self.doc.lines)  # nothing typed: skip finish()'s text check
        return self.finish()

    def open_and_ask(self, holes: int) -> list[dict[str, Any]]:
        """Open the document with one instruction line of the typed function emptied and ask
        there at once (no reading time), for ``holes`` such lines; each its own file, closed after."""
        typed = self.doc.typed
        lines = [self.doc.start + i for i, text in enumerate(typed)
                 if text.startswith("\t") and not text.strip().startswith(".") and text.strip()]
        step = max(1, len(lines) // holes)
        out = []
        for index, line in enumerate(lines[::step][:holes]):
            wait_idle(self.pid, 0.3, 20)  # the previous hole's background work is done
            text = "\n".join(self.doc.lines[:line] + [""] + self.doc.lines[line + 1:])
            uri = (self.folder / f"hole-{index}.s").as_uri()
            self.client.notify("textDocument/didOpen", {"textDocument": {
                "uri": uri, "languageId": "asm", "version": 1, "text": text}})
            _, future, sent = self.client.send_request("textDocument/inlineCompletion", {
                "textDocument": {"uri": uri}, "position": {"line": line, "character": 0}, "context": {"triggerKind": 2}})
            try:
                result = future.result(timeout=max(WAIT_CAP_S, 90))
                latency = (future.answered_at - sent) * 1000
            except Exception:
                result, latency = None, None
            shown = self.suggestion(result)
            truth = self.doc.lines[line]
            out.append({"line": line, "ms": rounded(latency), "empty": not shown,
                        "exact": bool(shown) and shown.split("\n", 1)[0].strip() == truth.strip(),
                        "shown": shown.split("\n", 1)[0][:80], "truth": truth.strip()})
            self.client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        return out

    def _sample_until_done(self) -> None:
        while not self._done.wait(0.5):
            self.sample_memory()

    def finish(self) -> Replay:
        self.result.engine = engine_stats(self.client)
        self.result.hwm_kb = proc_status(self.pid).get("VmHWM", 0)
        self.sample_memory()
        self.result.load_avg_end = list(os.getloadavg())
        final = self.text()
        expected = "\n".join(self.doc.lines)
        self.result.text_matches = final == expected
        if final != expected:
            print(f"warning: replayed text differs from the document ({self.doc.name})", file=sys.stderr)
        self.client.close()
        return self.result


# ------------------------------------------------------------------ figures


def summarize(replays: list[Replay]) -> dict[str, Any]:
    """Figures over a group of replays (one settings variant, all documents)."""
    requests = [r for replay in replays for r in replay.requests if r.kind != "first"]
    pauses = [r for r in requests if r.kind in ("line-start", "mnemonic")]
    keys = [r for r in requests if r.kind == "key"]

    def latency(group: list[Request], suggestions_only: bool = False) -> dict[str, Any]:
        values = [r.latency_ms for r in group if r.latency_ms is not None
                  and (r.outcome == "suggestion" or not suggestions_only)]
        return {"n": len(values), "p50_ms": rounded(percentile(values, 0.5)), "p95_ms": rounded(percentile(values, 0.95))}

    def outcomes(group: list[Request]) -> dict[str, Any]:
        counts = {name: sum(r.outcome == name for r in group) for name in ("suggestion", "empty", "cancelled", "timeout")}
        total = max(1, len(group))
        return {"n": len(group), **counts, **{f"{k}_fraction": round(v / total, 3) for k, v in counts.items()}}

    shown = [r for r in pauses if r.outcome == "suggestion"]
    all_probes = [r.probe for r in pauses if r.probe]
    # Comparable: both produced the same text and the server was not cut by its budget (with the
    # assembler check on, an empty or rejected greedy line makes the server sample more candidates).
    probes = [p for p in all_probes if p["server_text"].strip() == p["text"].strip() and p["server_ms"] < BUDGET_MS]
    ratio_all = (statistics.median([p["server_ms"] for p in all_probes]) /
                 statistics.median([p["ms"] for p in all_probes])) if all_probes else None
    moves = [(a.typed_line, b.typed_line) for a, b in zip(pauses, pauses[1:])
             if a.window_start >= 0 and b.window_start >= 0 and a.window_start != b.window_start]
    server_ms = statistics.median([p["server_ms"] for p in probes]) if probes else None
    direct_ms = statistics.median([p["ms"] for p in probes]) if probes else None
    engine = {k: sum(replay.engine.get(k, 0) for replay in replays) for k in ("completions", "cache_hits", "follow_ups")}
    served = engine["completions"] + engine["cache_hits"]
    first = [replay.first_suggestion_s for replay in replays]
    return {
        "answered_latency_all": latency(requests),
        "answered_latency_pause_points": latency(pauses),
        "suggestion_latency_pause_points": latency(pauses, True),
        "answered_latency_key": latency(keys),
        "outcomes_all": outcomes(requests),
        "outcomes_pause_points": outcomes(pauses),
        "outcomes_key": outcomes(keys),
        "pause_point_sources": {s or "unknown": sum((r.source or "unknown") == (s or "unknown") for r in pauses)
                                for s in ("model", "cache", "decoding", "")},
        # Pause points the cache could not serve, answered by the model with the prompt warm
        # (prefilled while typing): how long the first line takes.
        "first_line_warm_miss": latency([r for r in pauses if r.source == "model"]),
        "engine": engine,
        "engine_cache_hit_rate": round(engine["cache_hits"] / served, 3) if served else None,
        "acceptance": {
            "pause_points": len(pauses), "shown": len(shown),
            "exact_first_line": sum(bool(r.matched) for r in shown),
            "exact_rate_of_shown": round(sum(bool(r.matched) for r in shown) / len(shown), 3) if shown else None,
            "exact_rate_of_pause_points": round(sum(bool(r.matched) for r in shown) / len(pauses), 3) if pauses else None,
            "whitespace_insensitive_rate_of_shown":
                round(sum(bool(r.matched_ws) for r in shown) / len(shown), 3) if shown else None,
            "by_kind": {kind: {"shown": sum(r.kind == kind for r in shown),
                               "exact": sum(r.kind == kind and bool(r.matched) for r in shown),
                               "pause_points": sum(r.kind == kind for r in pauses)}
                        for kind in ("line-start", "mnemonic")},
            "accepted_edits": sum(replay.accepted for replay in replays),
            "accepted_chars": sum(replay.accepted_chars for replay in replays),
            "typed_keys": sum(replay.keys for replay in replays),
        },
        "overhead": {
            "probes": len(probes), "probes_not_comparable": len(all_probes) - len(probes),
            "ratio_of_medians_all_probes": rounded(ratio_all, 3),
            "server_median_ms": rounded(server_ms), "direct_median_ms": rounded(direct_ms),
            "ratio_of_medians": round(server_ms / direct_ms, 3) if probes and direct_ms else None,
            "direct_prompt_eval_median_ms": rounded(statistics.median([p["prompt_eval_ms"] for p in all_probes])) if all_probes else None,
            "direct_prompt_eval_tokens_median": statistics.median([p["prompt_eval_tokens"] for p in all_probes]) if all_probes else None,
            "direct_decode_median_ms": rounded(statistics.median([p["decode_ms"] for p in all_probes])) if all_probes else None,
            "direct_decode_tokens_median": statistics.median([p["decode_tokens"] for p in all_probes]) if all_probes else None,
            "same_text": sum(p["text"].strip() == p["server_text"].strip() for p in probes),
        },
        "first_suggestion_s": [rounded(v, 2) for v in first],
        "first_answer_in_budget_s": [rounded(replay.first_in_budget_s, 2) for replay in replays],
        "prefix_window_moves": len(moves),
        "timeouts": sum(r.outcome == "timeout" for r in pauses),
        "timeouts_typed_lines": sorted({r.typed_line for r in pauses if r.outcome == "timeout"}),
        "window_move_typed_lines": [b for _, b in moves],
        "ready_s": [round(replay.ready_s, 1) for replay in replays],
        "rss_max_sampled_mb": round(max((kb for replay in replays for kb in replay.rss_kb), default=0) / 1024),
        "vm_hwm_mb": round(max((replay.hwm_kb for replay in replays), default=0) / 1024),
    }


GOALS = {"p50_ms": 150, "p95_ms": 500, "first_suggestion_s": 1.5, "overhead_ratio": 1.10, "rss_mb": 1024}


def verdict(value: float | None, goal: float) -> str:
    if value is None:
        return "n/a"
    return "met" if value <= goal else "MISSED"


def markdown(report: dict[str, Any]) -> str:
    out = ["# Typing replay: model completions over LSP", "",
           f"`{report['command']}` — {report['started']}, {report['machine']}", "",
           f"Load average at start {report['load_avg_start']}, at end {report['load_avg_end']}; "
           f"wall {report['wall_s']:.0f} s. Adapter: {report['adapter']}.", "",
           "Documents: " + "; ".join(f"`{d['name']}` ({d['lines']} lines, typed lines {d['typed'][0] + 1}-"
                                      f"{d['typed'][1] + 1}; {d['source']})" for d in report["documents"]), "",
           "Trigger policy: key every 60 ms; inline request 50 ms after each key (VS Code debounce), "
           "`$/cancelRequest` when the next key comes first; the user pauses (waits up to 3 s for the "
           "answer, reads >= 300 ms, accepts exact matches) at line starts after the indentation and "
           "after mnemonic + separator. See the module docstring of bench/typing_replay.py.", ""]
    if report["settings"]:
        out += ["| figure (goal) | " + " | ".join(report["settings"]) + " |",
                "|---|" + "---|" * len(report["settings"])]

    def row(label: str, getter) -> None:
        if not report["settings"]:
            return  # memory runs only: no table
        out.append(f"| {label} | " + " | ".join(str(getter(report["summary"][s])) for s in report["settings"]) + " |")

    def lat(key: str, q: str, goal: int):
        def get(s):
            v = s[key][q]
            return f"{v} ({verdict(v, goal)}, n={s[key]['n']})"
        return get

    row("p50 answered, pause points (≤150 ms)", lat("answered_latency_pause_points", "p50_ms", 150))
    row("p95 answered, pause points (≤500 ms)", lat("answered_latency_pause_points", "p95_ms", 500))
    row("p50 answered, all requests", lat("answered_latency_all", "p50_ms", 150))
    row("p95 answered, all requests", lat("answered_latency_all", "p95_ms", 500))
    row("p50 / p95 of non-empty answers at pause points", lambda s: f"{s['suggestion_latency_pause_points']['p50_ms']} / "
        f"{s['suggestion_latency_pause_points']['p95_ms']}")
    row("all requests: suggestion / empty / cancelled / timeout", lambda s: " / ".join(
        f"{s['outcomes_all'][k + '_fraction']:.0%}" for k in ("suggestion", "empty", "cancelled", "timeout")))
    row("pause points: suggestion / empty / timeout", lambda s: " / ".join(
        f"{s['outcomes_pause_points'][k + '_fraction']:.0%}" for k in ("suggestion", "empty", "timeout")))
    row("per-key requests: answered / cancelled", lambda s: f"{s['outcomes_key']['suggestion'] + s['outcomes_key']['empty']}"
        f" / {s['outcomes_key']['cancelled']}")
    row("engine: completions / cache hits / follow-ups", lambda s: f"{s['engine']['completions']} / "
        f"{s['engine']['cache_hits']} / {s['engine']['follow_ups']}")
    row("engine cache hit rate", lambda s: s["engine_cache_hit_rate"])
    row("pause points served by model / cache / running decoding", lambda s: f"{s['pause_point_sources']['model']} / "
        f"{s['pause_point_sources']['cache']} / {s['pause_point_sources'].get('decoding', 0)}")
    row("first line at a warm pause point that misses the cache, p50 / p95 (≤350 ms p50)", lambda s: (
        f"{s['first_line_warm_miss']['p50_ms']} / {s['first_line_warm_miss']['p95_ms']} "
        f"({verdict(s['first_line_warm_miss']['p50_ms'], 350)}, n={s['first_line_warm_miss']['n']})")
        if "first_line_warm_miss" in s else "n/a")
    row("exact next line, of shown", lambda s: f"{s['acceptance']['exact_first_line']}/{s['acceptance']['shown']} "
        f"({s['acceptance']['exact_rate_of_shown']})")
    row("exact next line, of pause points", lambda s: s["acceptance"]["exact_rate_of_pause_points"])
    row("accepted edits / chars (of keys typed)", lambda s: f"{s['acceptance']['accepted_edits']} / "
        f"{s['acceptance']['accepted_chars']} ({s['acceptance']['typed_keys']})")
    row("first suggestion after didOpen, s (≤1.5)", lambda s: ", ".join(
        f"{v} ({verdict(v, 1.5)})" for v in s["first_suggestion_s"]))
    row("first answer within budget after didOpen, s (cold prompt)", lambda s: s["first_answer_in_budget_s"])
    row("server / direct llama.cpp, median ms (comparable probes)", lambda s: f"{s['overhead']['server_median_ms']} / "
        f"{s['overhead']['direct_median_ms']} (n={s['overhead']['probes']}, "
        f"{s['overhead']['probes_not_comparable']} not comparable)")
    row("overhead ratio of medians (≤1.10)", lambda s: f"{s['overhead']['ratio_of_medians']} "
        f"({verdict(s['overhead']['ratio_of_medians'], 1.10)})")
    row("ratio over all probes (incl. extra candidates / budget cut)", lambda s: s["overhead"]["ratio_of_medians_all_probes"])
    row("pause-point timeouts (typed lines) / prefix-window moves (typed lines)", lambda s: f"{s['timeouts']} "
        f"({s['timeouts_typed_lines']}) / {s['prefix_window_moves']} ({s['window_move_typed_lines']})")
    row("direct: prompt eval ms (tokens) / decode ms (tokens)", lambda s: f"{s['overhead']['direct_prompt_eval_median_ms']} "
        f"({s['overhead']['direct_prompt_eval_tokens_median']}) / {s['overhead']['direct_decode_median_ms']} "
        f"({s['overhead']['direct_decode_tokens_median']})")
    row("model ready after start, s", lambda s: s["ready_s"])
    row("server VmHWM MB (≤1024)", lambda s: f"{s['vm_hwm_mb']} ({verdict(s['vm_hwm_mb'], 1024)})")
    row("server VmRSS max sampled MB", lambda s: s["rss_max_sampled_mb"])
    out.append("")
    for cold in report.get("direct_cold_prompts", []):
        out.append(f"Direct llama.cpp, cold prompt of {cold['prompt_tokens']} tokens: {cold['prompt_eval_ms']} ms "
                   f"({cold['ms_per_token']} ms/token) in this run.")
    if report.get("open_and_ask"):
        out += ["", "Open and ask at once (each hole: its own file, opened with one instruction line of the typed "
                "function emptied, inline completion there right after didOpen; no reading time):", "",
                "| variant | settings | holes | empty (≤10 %) | exact first line | p50 ms | p95 ms |", "|---|---|---:|---:|---:|---:|---:|"]
        for name, o in report["open_and_ask"].items():
            out.append(f"| {name} | `{json.dumps(o['settings'])}` | {o['holes']} | {o['empty']} ({o['empty_fraction']:.0%}) "
                       f"| {o['exact']} | {o['p50_ms']} | {o['p95_ms']} |")
        out.append("")
    for name, figures in report.get("memory_only", {}).items():
        out.append(f"Open only ({name}: started, file opened, first-suggestion requests, then idle (embeddings done), no typing): VmHWM "
                   f"{figures['vm_hwm_mb']} MB, VmRSS max {figures['rss_max_sampled_mb']} MB; first suggestion "
                   f"{figures['first_suggestion_s']} s, first answer within budget {figures['first_answer_in_budget_s']} s"
                   + (f"; {figures['similar_functions']}." if figures.get("similar_functions") else "."))
    out.append("")
    if report.get("notes"):
        out += ["## Notes", "", *report["notes"], ""]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", default="gcc-O2,clang-O0", help=f"compilers for the documents, of {list(COMPILERS)}")
    parser.add_argument("--settings", default="default,old-engine",
                        help=f"server settings variants typed, of {list(SETTINGS)} (\"\": none, memory runs only)")
    parser.add_argument("--memory-settings", default="no-embeddings",
                        help="variants only started and opened (no typing), for their memory")
    parser.add_argument("--adapter", default="default", help='--adapter for the server: "default" or "none"')
    parser.add_argument("--typed-lines", type=int, default=0, help="type only this many lines of the function (0 = all)")
    parser.add_argument("--corpus", action="store_true", help="documents from the corpus test split when it exists")
    parser.add_argument("--no-direct", action="store_true", help="skip the direct llama.cpp probes")
    parser.add_argument("--notes", type=Path, help="Markdown appended to the report under Notes (the diagnosis)")
    parser.add_argument("--out", type=Path, default=RESULTS / "typing_replay", help="results path without suffix")
    parser.add_argument("--open-settings", default="default,cold-window,old-engine,lifted-cold-window,lifted-full-window",
                        help="variants for open-and-ask (each hole opened and asked at once; \"\": none)")
    parser.add_argument("--open-holes", type=int, default=OPEN_HOLES, help="holes per document for open-and-ask")
    parser.add_argument("--baseline", default="f7309b4", metavar="REV",
                        help="git revision whose server runs as the `old-engine` variant (e.g. f7309b4, before the split)")
    parser.add_argument("--keep-docs", type=Path, default=None,
                        help="keep the compiled documents in this folder; read them from it where the compiler is missing")
    parser.add_argument("--quick", action="store_true",
                        help="one document (gcc-O2), 12 typed lines, 6 open-and-ask holes, no memory run: ~5 min quiet")
    parser.add_argument("--render", action="store_true",
                        help="only rewrite OUT.md from OUT.json (with --notes), without running anything")
    args = parser.parse_args()
    if args.render:
        report = json.loads(args.out.with_suffix(".json").read_text())
        if args.notes:
            report["notes"] = [args.notes.read_text()]
            args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
        args.out.with_suffix(".md").write_text(markdown(report))
        return

    if args.quick:
        args.docs, args.typed_lines, args.open_holes, args.memory_settings = "gcc-O2", args.typed_lines or 12, 6, ""
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load_start = [round(x, 2) for x in os.getloadavg()]
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="typing-replay-") as tmp:
        work = Path(tmp)
        global BASELINE_SERVER
        if args.baseline:  # the old engine's server, from git, beside ours
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline, "server"],
                                     capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", str(work)], input=archive, check=True)
            BASELINE_SERVER = work / "server"
        wanted = [s for s in args.settings.split(",") + args.open_settings.split(",") if s]
        if "old-engine" in wanted and not args.baseline:
            raise SystemExit("the old-engine variant needs --baseline REV")
        docs = corpus_documents(len(args.docs.split(","))) if args.corpus else []
        if not docs:
            docs = build_documents([d for d in args.docs.split(",") if d], work, args.keep_docs)
        if args.typed_lines:
            for doc in docs:
                doc.end = min(doc.end, doc.start + args.typed_lines - 1)
        for doc in docs:
            print(f"document {doc.name}: {len(doc.lines)} lines, typing {doc.start + 1}-{doc.end + 1}", file=sys.stderr)
        direct = None if args.no_direct else Direct()
        from asm_lsp.model.store import resolve_model

        adapter_files = resolve_model("", args.adapter, "")
        adapter = (str(adapter_files.adapter.name) if adapter_files.adapter
                   else f"none at run time: {adapter_files.weights or 'base'} weights {adapter_files.model.name}")
        settings = [s for s in args.settings.split(",") if s]
        replays: dict[str, list[Replay]] = {s: [] for s in settings}
        for doc in docs:
            for name in settings:  # settings interleaved per document: load drift hits all alike
                session = Session(name, doc, work, direct, args.adapter)
                try:
                    session.start()
                    session.first_suggestion()
                    session.type_function()
                    replay = session.finish()
                except BaseException:
                    session.client.proc.kill()
                    raise
                replay.wall_s = time.monotonic() - t0
                replays[name].append(replay)
                s = summarize([replay])
                print(f"{name} {doc.name}: pause p50 {s['answered_latency_pause_points']['p50_ms']} p95 "
                      f"{s['answered_latency_pause_points']['p95_ms']} first {s['first_suggestion_s']} "
                      f"ratio {s['overhead']['ratio_of_medians']} exact {s['acceptance']['exact_rate_of_shown']} "
                      f"hwm {s['vm_hwm_mb']} MB", file=sys.stderr)
        opened: dict[str, list[dict[str, Any]]] = {}
        for name in [s for s in args.open_settings.split(",") if s]:
            for doc in docs:
                session = Session(name, doc, work, None, args.adapter)
                try:
                    session.start()
                    opened.setdefault(name, []).extend(session.open_and_ask(args.open_holes))
                finally:
                    session.client.close()
            o = opened[name]
            print(f"open-and-ask {name}: empty {sum(h['empty'] for h in o)}/{len(o)}, exact {sum(h['exact'] for h in o)}, "
                  f"p50 {rounded(percentile([h['ms'] for h in o if h['ms'] is not None], 0.5))} ms", file=sys.stderr)
        memory: dict[str, dict[str, Any]] = {}
        for name in [m for m in args.memory_settings.split(",") if m]:
            session = Session(name, docs[0], work, None, args.adapter, fresh_cache=True)
            try:
                session.start()
                replay = session.memory_only()
            except BaseException:
                session.client.proc.kill()
                raise
            memory[name] = {"vm_hwm_mb": round(replay.hwm_kb / 1024),
                            "rss_max_sampled_mb": round(max(replay.rss_kb, default=0) / 1024),
                            "ready_s": round(replay.ready_s, 1),
                            "first_suggestion_s": rounded(replay.first_suggestion_s, 2),
                            "first_answer_in_budget_s": rounded(replay.first_in_budget_s, 2),
                            "load_avg": replay.load_avg_start, "similar_functions": replay.similar_status}
            print(f"memory {name}: {memory[name]}", file=sys.stderr)
    report = {
        "command": "PYTHONPATH=server python -m bench.typing_replay " + " ".join(sys.argv[1:]),
        "started": started, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {physical_cores()} llama threads",
        "python": platform.python_version(), "load_avg_start": load_start,
        "load_avg_end": [round(x, 2) for x in os.getloadavg()], "wall_s": time.monotonic() - t0,
        "adapter": adapter, "settings": settings,
        "settings_values": {s: SETTINGS[s] for s in settings},
        "policy": {"key_ms": KEY_MS, "debounce_ms": DEBOUNCE_MS, "read_ms": READ_MS, "wait_cap_s": WAIT_CAP_S,
                   "probe_every": PROBE_EVERY, "max_probes": MAX_PROBES},
        "goals": GOALS,
        "documents": [{"name": d.name, "source": d.source, "lines": len(d.lines), "typed": [d.start, d.end]} for d in docs],
        "summary": {s: summarize(replays[s]) for s in settings},
        "memory_only": memory,
        "open_and_ask": {name: {"holes": len(o), "empty": sum(h["empty"] for h in o),
                                "empty_fraction": round(sum(h["empty"] for h in o) / max(1, len(o)), 3),
                                "exact": sum(h["exact"] for h in o),
                                "p50_ms": rounded(percentile([h["ms"] for h in o if h["ms"] is not None], 0.5)),
                                "p95_ms": rounded(percentile([h["ms"] for h in o if h["ms"] is not None], 0.95)),
                                "settings": SETTINGS[name], "per_hole": o} for name, o in opened.items()},
        "baseline": args.baseline or None,
        "memory_settle_s": MEMORY_SETTLE_S,
        "direct_cold_prompts": direct.cold if direct is not None else [],
        "replays": [asdict(r) for s in settings for r in replays[s]],
        "notes": [args.notes.read_text()] if args.notes else [],
    }
    write_report(args.out, report, markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
