"""Evaluate code completion on held-out assembly: the base model vs ours, per compiler and -O level.

    PYTHONPATH=server:. nice -n 10 python -m models.evaluate run --source cases --holes 10 \\
        --out models/results/eval_cases.json --card models/README.md

Subcommands, each with the same sampling flags (``EvalPlan``: the same flags, the same holes):
``run`` answers through the server's engine here, ``export-prompts`` and ``import-answers``
take the large runs to a GPU and back (below). ``run`` and ``import-answers`` make ``--out``
(JSON: config, model files and hashes, every hole with every system's answer, metrics per
system x compiler x opt level x hole kind, speed) and, with ``--card``, rewrite the
evaluation section of the model card between ``<!-- eval:NAME:begin -->`` markers.

Sources (both held out from training):
    cases   bench/exec_completion/cases/*.c (written by us, in no Debian project), compiled here
            by gcc and clang at -O0..-O3 with the corpus's flags (models/corpus/compile.py)
    test    the TEST projects of the corpus (models/work/corpus/files.jsonl.gz, split "test")

Holes, per (compiler, opt) group and seeded by ``--seed`` and the group only:
    line    one instruction line removed; the cursor sits after its indentation (what an
            auto-indenting editor gives after Enter); the server is asked with maxLines 1
    block   three consecutive instruction lines; maxLines 3

Every system answers through the server's own engine (``asm_lsp.model.engine``): prompt cut by
``prompt.cut_window`` with the server's budgets and context size, ``build_fim_prompt``,
greedy decoding in llama.cpp, answer cut by ``suggest.cut_suggestion``. No assembler retry
(the server's extra sampled candidates) — this measures the greedy answer. Systems run
interleaved hole by hole, so their speeds are measured under the same machine load.

Metrics: exact match of whitespace-normalised lines; edit similarity 100*(1 - Levenshtein /
longer length) of the normalised text; ``shown``: a non-empty answer; ``assembles``: of the
shown answers, those that ``aarch64-linux-gnu-as`` accepts in place (errors on the inserted
lines only, ``insertion_assembles`` as the server checks them).

Per-hole answers are appended to ``--work``/answers-*.jsonl as they come, so an interrupted
run resumes where it stopped.

Large runs on a GPU (transformers instead of llama.cpp; same holes, prompts and cutting):

    # here: the prompts the server's engine would send, one JSON line per hole (no model)
    PYTHONPATH=server:. python -m models.evaluate export-prompts --source test --holes 24 --block-holes 8 \
        --opts O0,O1,O2,O3,Os --out models/work/eval/prompts-test.jsonl.gz
    # there: raw greedy continuations (models/hf_generate.py), e.g. base and base + adapter
    python -m models.hf_generate --base base-hf --prompts prompts-test.jsonl.gz --out base.jsonl
    # here: cut as the server cuts, score, report (same sampling flags as the export)
    PYTHONPATH=server:. python -m models.evaluate import-answers --source test --holes 24 --block-holes 8 \
        --opts O0,O1,O2,O3,Os --answers base=base.jsonl --answers ours=ours.jsonl \
        --out models/results/eval_test_gpu.json

``export-prompts`` writes {id, kind, compiler, opt, project, max_lines, expected, prompt,
prompt_tokens, max_new_tokens, multiline, line_after}: ``prompt`` is what
``CompletionEngine._prompt_tokens`` makes (run with a tokenizer shim: the Hugging Face
tokenizer of the same vocabulary), ``max_new_tokens`` the engine's generation limit for the
hole. ``import-answers --answers NAME=FILE`` reads {id, text, finished} lines (raw continuation;
finished: it ended on a special token) and cuts them with ``suggest.cut_suggestion`` exactly as
the end of ``CompletionEngine._generate`` does.
"""
from __future__ import annotations

import argparse
import functools
import gzip
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from asm_lsp.model.prompt import DEFAULT_SUFFIX_BUDGET
from asm_lsp.model.store import sha256_file
from asm_lsp.syntax import parse
from bench.common import compile_argv

REPO = Path(__file__).resolve().parent.parent
CASES_DIR = REPO / "bench" / "exec_completion" / "cases"
SHIPPED_ADAPTER = REPO / "server" / "asm_lsp" / "data" / "asm-lora.gguf"
DEFAULT_WORK = REPO / "models" / "work" / "eval"
COMPILERS = ("gcc", "clang")
CASE_OPTS = ("O0", "O1", "O2", "O3")
HOLE_LINES = {"line": 1, "block": 3}
ASM_FLAGS = ["-g0", "-w", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-fno-ident"]
EXAMPLE_FUNCTION = "add_two_arrays"  # seed 000: zero-shot Code Llama could not complete it


# --------------------------------------------------------------------------- metrics

def normalize_line(line: str) -> str:
    """One line compared loosely: whitespace runs collapsed, ``, `` after every comma."""
    return re.sub(r"\s*,\s*", ", ", " ".join(line.split()))


def normalize_lines(text: str) -> list[str]:
    """Normalised non-blank lines of ``text``."""
    return [n for n in (normalize_line(piece) for piece in text.split("\n")) if n]


def exact_match(prediction: str, expected: str) -> bool:
    return normalize_lines(prediction) == normalize_lines(expected)


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insert, delete, substitute a character), two-row dynamic programme."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def edit_similarity(prediction: str, expected: str) -> float:
    """0-100: 100 * (1 - Levenshtein / longer length) of the normalised texts; 100 if both empty."""
    a = "\n".join(normalize_lines(prediction))
    b = "\n".join(normalize_lines(expected))
    longest = max(len(a), len(b))
    return 100.0 if longest == 0 else 100.0 * (1 - levenshtein(a, b) / longest)


# --------------------------------------------------------------------------- holes

@dataclass(frozen=True)
class AsmFile:
    id: str  # unique within a source, e.g. "cases/add_two_arrays.c/gcc-O2"
    project: str
    compiler: str
    opt: str
    text: str


@dataclass(frozen=True)
class EvalHole:
    file_id: str
    project: str
    function: str
    compiler: str
    opt: str
    kind: str  # "line" | "block"
    line: int  # 0-based first removed line
    n_lines: int
    indent: str  # kept before the cursor
    expected: str  # removed lines, the first without its indentation

    @property
    def id(self) -> str:
        return f"{self.file_id}/{self.kind}@{self.line + 1}"

    def document(self, files: dict[str, AsmFile]) -> str:
        """The file as the user has it: the hole's lines replaced by one line of indentation."""
        lines = files[self.file_id].text.split("\n")
        return "\n".join(lines[: self.line] + [self.indent] + lines[self.line + self.n_lines:])

    @property
    def col(self) -> int:
        return len(self.indent)


def instruction_lines(text: str) -> dict[int, str]:
    """0-based lines that hold exactly one instruction (no label) inside a function -> its name."""
    doc = parse(text)
    by_line: dict[int, list] = defaultdict(list)
    for statement in doc.statements:
        by_line[statement.line].append(statement)
    out: dict[int, str] = {}
    for function in doc.functions:
        for line in range(function.start_line, function.end_line + 1):
            statements = by_line.get(line, [])
            if len(statements) == 1 and statements[0].kind == "instruction":
                out[line] = function.name
    return out


def hole_candidates(file: AsmFile, kind: str) -> list[EvalHole]:
    """Every place a hole of ``kind`` fits: ``n`` consecutive instruction lines of one function."""
    n = HOLE_LINES[kind]
    lines = file.text.split("\n")
    instructions = instruction_lines(file.text)
    holes = []
    for start in sorted(instructions):
        span = range(start, start + n)
        if all(instructions.get(i) == instructions[start] for i in span):
            first = lines[start]
            indent = first[: len(first) - len(first.lstrip())]
            expected = "\n".join([first[len(indent):]] + lines[start + 1: start + n])
            holes.append(EvalHole(file.id, file.project, instructions[start], file.compiler, file.opt,
                                  kind, start, n, indent, expected))
    return holes


def sample_holes(files: list[AsmFile], per_group: dict[str, int], seed: int) -> list[EvalHole]:
    """``per_group[kind]`` holes of each kind for each (compiler, opt) group.

    Deterministic: candidates are sorted by (file id, line) and drawn with a generator seeded
    by ``seed`` and the group, so adding a group does not move another group's holes.
    """
    groups: dict[tuple[str, str], list[AsmFile]] = defaultdict(list)
    for file in files:
        groups[(file.compiler, file.opt)].append(file)
    holes: list[EvalHole] = []
    for (compiler, opt), members in sorted(groups.items()):
        for kind, count in per_group.items():
            candidates = [h for f in sorted(members, key=lambda f: f.id) for h in hole_candidates(f, kind)]
            rng = random.Random(f"{seed}:{compiler}:{opt}:{kind}")
            chosen = rng.sample(range(len(candidates)), min(count, len(candidates)))
            holes.extend(candidates[i] for i in sorted(chosen))
    return holes


def example_holes(files: list[AsmFile], function: str = EXAMPLE_FUNCTION) -> list[EvalHole]:
    """The showcase: in ``function``, the line hole on the loop's addition (the first ``add`` of
    three w registers, else of three .4s vectors), for every compiler and opt level."""
    patterns = (r"add\s+w\d+, w\d+, w\d+$",  # a[i] + b[i] on ints
                r"add\s+v\d+\.4s, v\d+\.4s, v\d+\.4s$")  # vectorised: four at a time
    holes = []
    for file in sorted(files, key=lambda f: (f.compiler, f.opt)):
        candidates = [h for h in hole_candidates(file, "line") if h.function == function]
        for pattern in patterns:
            found = next((h for h in candidates if re.match(pattern, normalize_line(h.expected))), None)
            if found:
                holes.append(found)
                break
    return holes


def round_robin(holes: list[EvalHole]) -> list[EvalHole]:
    """The holes reordered: the first of every (compiler, opt, kind) group, then the second..."""
    rank: dict[tuple[str, str, str], int] = defaultdict(int)
    keyed = []
    for hole in holes:
        group = (hole.compiler, hole.opt, hole.kind)
        keyed.append((rank[group], hole.kind != "line", group, hole))
        rank[group] += 1
    return [h for *_, h in sorted(keyed, key=lambda k: k[:3])]


def case_holes(opts: tuple[str, ...], lines: int, work: Path | None = None
               ) -> tuple[list[EvalHole], dict[str, AsmFile], str]:
    """The benchmarks' held-out holes: ``lines`` line holes and half as many blocks (at least
    one) per compiler x opt level of the compiled cases, seed 0, round robin; with the files by
    id and a one-line description of where they come from."""
    files = compile_cases(CASES_DIR, (work or DEFAULT_WORK) / "cases", opts)
    holes = round_robin(sample_holes(files, {"line": lines, "block": max(1, lines // 2)}, 0))
    return holes, {f.id: f for f in files}, f"models/evaluate.py cases, opts {','.join(opts)}, seed 0"


# --------------------------------------------------------------------------- sources

def compile_cases(cases: Path, out: Path, opts: tuple[str, ...] = CASE_OPTS,
                  only: set[str] | None = None) -> list[AsmFile]:
    """Compile each ``cases/*.c`` (not ``*_test.c``; only the stems in ``only`` if given) with
    both compilers at ``opts``; the .s files are cached under ``out``."""
    files = []
    for source in sorted(cases.glob("*.c")):
        if source.stem.endswith("_test") or (only and source.stem not in only):
            continue
        for compiler in COMPILERS:
            for opt in opts:
                target = out / f"{compiler}-{opt}" / f"{source.stem}.s"
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    done = subprocess.run(compile_argv(compiler, opt, source, target, *ASM_FLAGS),
                                          capture_output=True, text=True)
                    if done.returncode != 0:
                        print(f"skip {source.name} {compiler} -{opt}: {done.stderr.strip()[:200]}", file=sys.stderr)
                        continue
                files.append(AsmFile(f"cases/{source.name}/{compiler}-{opt}", source.stem, compiler, opt,
                                     target.read_text()))
    return files


def load_test_split(corpus: Path) -> list[AsmFile]:
    """The corpus files of the TEST projects (``split == "test"`` in files.jsonl.gz)."""
    path = corpus / "files.jsonl.gz"
    if not path.exists():
        raise SystemExit(f"{path} not found; build the corpus (python -m models.corpus.build) or use --source cases")
    files = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for row in handle:
            record = json.loads(row)
            if record["split"] == "test":
                files.append(AsmFile(f"test/{record['id']}", record["project"], record["compiler"],
                                     record["opt"], record["text"]))
    if not files:
        raise SystemExit(f"{path} has no test-split files")
    return files


# --------------------------------------------------------------------------- systems

@dataclass(frozen=True)
class System:
    name: str
    model: Path | None  # None: the packaged base GGUF
    adapter: Path | None

    @classmethod
    def parse(cls, spec: str) -> System:
        """``base``, ``NAME=adapter:PATH`` (base + runtime LoRA) or ``NAME=model:PATH`` (own GGUF)."""
        if spec == "base":
            return cls("base", None, None)
        name, sep, rest = spec.partition("=")
        what, sep2, path = rest.partition(":")
        if not sep or not sep2 or what not in ("adapter", "model"):
            raise SystemExit(f"--system {spec!r}: expected base, NAME=adapter:PATH or NAME=model:PATH")
        path_ = Path(path)
        if not path_.is_file():
            raise SystemExit(f"--system {spec!r}: {path_} not found")
        return cls(name, path_ if what == "model" else None, path_ if what == "adapter" else None)


def default_systems() -> list[System]:
    systems = [System("base", None, None)]
    if SHIPPED_ADAPTER.is_file():
        systems.append(System("ours", None, SHIPPED_ADAPTER))
    return systems


class Runner:
    """One server engine per system, asked exactly as the server asks (greedy, no validator)."""

    def __init__(self, system: System, threads: int, context_size: int, load: bool = True) -> None:
        from asm_lsp.model.engine import CompletionEngine
        from asm_lsp.model.store import resolve_model

        files = resolve_model(str(system.model or ""), str(system.adapter or "none"))
        self.system = system
        self.files = files
        self.identity = {
            "model": files.model.name, "model_bytes": files.model.stat().st_size,
            "model_sha256": files.model_sha256 or sha256_file(files.model),
            "adapter": str(files.adapter.relative_to(REPO)) if files.adapter and files.adapter.is_relative_to(REPO)
            else (str(files.adapter) if files.adapter else None),
            "adapter_sha256": sha256_file(files.adapter) if files.adapter else None,
        }
        self.engine = CompletionEngine(files, threads=threads, context_size=context_size)
        if not load:
            return
        self.engine.start()
        if not self.engine.wait_ready(timeout=600):
            raise SystemExit(f"{system.name}: model did not load: {self.engine.status()}")

    def answer(self, document: str, line: int, col: int, max_lines: int) -> tuple[str, dict]:
        from asm_lsp.model.engine import CompletionRequest

        self.engine.cache.clear()  # no typed-ahead hits from an earlier hole
        request = CompletionRequest(document, line, col, max_lines=max_lines, validate=None, candidates=1,
                                    time_budget_ms=10**9, follow_up=False)
        suggestion = self.engine.submit(request).result()
        timings = dict(self.engine.last_timings)
        return (suggestion.text if suggestion else ""), timings

    def close(self) -> None:
        self.engine.close()


def server_code_hash() -> str:
    """Of the server code that makes an answer (prompt, engine, cutting): logged answers made by
    other code are not reused."""
    import hashlib

    import asm_lsp.model as package

    root = Path(package.__file__).parent
    digest = hashlib.sha256()
    for name in ("prompt.py", "engine.py", "suggest.py"):
        digest.update((root / name).read_bytes())
    return digest.hexdigest()[:8]


# --------------------------------------------------------------------------- prompts out, answers in

class _TokenizerShim:
    """What ``CompletionEngine._prompt_tokens`` uses of a ``Llama``: ``tokenize`` (same vocabulary)."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer

    def tokenize(self, text: bytes, add_bos: bool = False, special: bool = True) -> list[int]:
        return self.tokenizer(text.decode("utf-8"), add_special_tokens=False)["input_ids"]


def prompt_engine(tokenizer, context_size: int, suffix_tokens: int = DEFAULT_SUFFIX_BUDGET):
    """A never-started server engine whose prompt code tokenizes with ``tokenizer``;
    ``suffix_tokens``: its full window's budget after the cursor."""
    from asm_lsp.model.engine import CompletionEngine

    engine = CompletionEngine(lambda: None, threads=1, context_size=context_size, suffix_tokens=suffix_tokens)
    engine._llm = _TokenizerShim(tokenizer)
    return engine


def export_prompt(engine, tokenizer, hole: EvalHole, document: str) -> dict:
    """One hole as the server's engine would ask the model about it."""
    from asm_lsp.model.engine import ONE_LINE_MAX_TOKENS, TOKENS_PER_LINE
    from asm_lsp.model.suggest import Hole

    where = Hole.at(document, hole.line, hole.col)
    ids = engine._prompt_tokens(where, hole.n_lines)
    return {"id": hole.id, "kind": hole.kind, "compiler": hole.compiler, "opt": hole.opt,
            "project": hole.project, "max_lines": hole.n_lines, "expected": hole.expected,
            "prompt": tokenizer.decode(ids, skip_special_tokens=False), "prompt_tokens": len(ids),
            "max_new_tokens": TOKENS_PER_LINE * hole.n_lines if where.multiline else ONE_LINE_MAX_TOKENS,
            "multiline": where.multiline, "line_after": where.line_after}


def cut_raw(raw: str, finished: bool, document: str, hole: EvalHole) -> str:
    """A raw greedy continuation cut to the suggestion, as ``CompletionEngine._generate`` cuts it
    (``suggest.final_suggestion``). ``finished``: generation ended on a special token (not on
    the token limit)."""
    from asm_lsp.model.suggest import Hole, final_suggestion

    return final_suggestion(raw, Hole.at(document, hole.line, hole.col), hole.n_lines, finished)


def open_text(path: Path, mode: str = "rt"):
    return gzip.open(path, mode, encoding="utf-8") if path.suffix == ".gz" else path.open(mode, encoding="utf-8")


def read_answers(spec: str) -> tuple[str, Path, dict[str, dict]]:
    """``NAME=FILE`` (or ``FILE``: named after its stem) -> (name, path, {hole id: row})."""
    name, sep, path = spec.partition("=")
    path_ = Path(path if sep else spec)
    name = name if sep else path_.name.split(".")[0]
    if not path_.is_file():
        raise SystemExit(f"--answers {spec!r}: {path_} not found")
    with open_text(path_) as handle:
        rows = {r["id"]: r for r in (json.loads(line) for line in handle if line.strip())}
    return name, path_, rows


# --------------------------------------------------------------------------- scoring

def score(hole: EvalHole, prediction: str, document: str, assembler) -> dict:
    from asm_lsp.assembler import insertion_assembles

    shown = bool(prediction.strip())
    assembles = None
    if shown and assembler is not None:
        assembles = insertion_assembles(assembler, document, hole.line, hole.col, prediction, 10.0)
    return {"exact": exact_match(prediction, hole.expected), "edit_sim": edit_similarity(prediction, hole.expected),
            "shown": shown, "assembles": assembles}


def _pct(values: list[bool]) -> float | None:
    return round(100.0 * sum(values) / len(values), 1) if values else None


def summarize(rows: list[dict]) -> dict:
    """Metrics of a list of scored answers."""
    shown = [r for r in rows if r["shown"]]
    checked = [r["assembles"] for r in shown if r["assembles"] is not None]
    return {
        "n": len(rows),
        "exact": _pct([r["exact"] for r in rows]),
        "edit_sim": round(statistics.fmean(r["edit_sim"] for r in rows), 1) if rows else None,
        "shown": _pct([r["shown"] for r in rows]),
        "assembles": _pct(checked),
    }


def speed(rows: list[dict]) -> dict:
    """Prompt-eval and decode tokens per second over the answers' own timings."""
    prompt_tokens = sum(r["timings"].get("prompt_tokens", 0) - r["timings"].get("reused_tokens", 0) for r in rows)
    prompt_ms = sum(r["timings"].get("prompt_ms", 0.0) for r in rows)
    decode_tokens = sum(r["timings"].get("generated_tokens", 0) for r in rows)
    decode_ms = sum(r["timings"].get("decode_ms", 0.0) for r in rows)
    return {
        "answers": len(rows), "prompt_tokens": int(prompt_tokens), "prompt_tok_s": round(prompt_tokens / prompt_ms * 1000, 1) if prompt_ms else None,
        "decode_tokens": int(decode_tokens), "decode_tok_s": round(decode_tokens / decode_ms * 1000, 1) if decode_ms else None,
        "mean_ms_per_hole": round(statistics.fmean(r["timings"].get("elapsed_ms", 0.0) for r in rows), 1) if rows else None,
    }


def tables(holes: list[EvalHole], answers: dict[tuple[str, str], dict], systems: list[str]) -> dict:
    """metrics[system][kind]["all" | "gcc -O2" ...] and speed[system]."""
    metrics: dict = {}
    for system in systems:
        per: dict = {}
        for kind in HOLE_LINES:
            groups: dict[str, list[dict]] = defaultdict(list)
            for hole in holes:
                row = answers.get((hole.id, system))
                if hole.kind == kind and row is not None:
                    groups[f"{hole.compiler} -{hole.opt}"].append(row)
                    groups["all"].append(row)
            per[kind] = {g: summarize(rows) for g, rows in sorted(groups.items())}
        metrics[system] = per
    return metrics


# --------------------------------------------------------------------------- model card

def markdown(report: dict) -> str:
    """The model card's evaluation section for one report."""
    systems = report["systems"]
    cfg = report["config"]
    out = [f"Source: **{cfg['source']}** ({cfg['description']}); seed {cfg['seed']}; "
           f"{cfg['holes_per_group']['line']} line + {cfg['holes_per_group']['block']} block holes per "
           f"compiler x opt level, {report['counts']['holes']} holes in all, "
           f"{report['counts']['files']} files"
           + (f" ({', '.join(f'{p} {n}' for p, n in report['counts']['by_project'].items())} holes)"
              if report["counts"].get("by_project") and cfg["source"] == "test" else "")
           + (f". {cfg['decoding'][0].upper()}{cfg['decoding'][1:]} (n_ctx {cfg['context_size']})" if cfg.get("answers_from")
              else f". Greedy, through the server's engine (n_ctx {cfg['context_size']})")
           + f", server code {cfg['server_code']}. "
           f"Report: `{cfg['out']}`.", ""]
    for kind, title in (("line", "Single-line FIM"), ("block", "3-line block")):
        out.append(f"**{title}** — exact match % / edit similarity / assembles % (of shown) / shown %")
        out.append("")
        out.append("| group | n | " + " | ".join(systems) + " |")
        out.append("|---|---:|" + "---|" * len(systems))
        groups = sorted({g for s in systems for g in report["metrics"][s][kind]},
                        key=lambda g: (g == "all", g.split(" ")[0], g))
        for group in groups:
            cells = []
            n = 0
            for system in systems:
                m = report["metrics"][system][kind].get(group)
                if not m:
                    cells.append("—")
                    continue
                n = m["n"]
                cells.append(f"{_fmt(m['exact'])} / {_fmt(m['edit_sim'])} / {_fmt(m['assembles'])} / {_fmt(m['shown'])}")
            label = f"**{group}**" if group == "all" else group
            out.append(f"| {label} | {n} | " + " | ".join(cells) + " |")
        out.append("")
    out.append("Speed (prompt eval / decode tok/s, from the answers' own timings, by where they were made): " + "; ".join(
        f"{s} on {place}: {sp['prompt_tok_s']} / {sp['decode_tok_s']} ({sp['answers']} answers)"
        for s in systems for place, sp in report["speed"][s].items()) + ".")
    if report.get("examples"):
        out += ["", f"`{EXAMPLE_FUNCTION}` (its loop's `add`, one line removed):", "",
                "| file | expected | " + " | ".join(systems) + " |", "|---|---|" + "---|" * len(systems)]
        for ex in report["examples"]:
            cells = ["(not run)" if ex["answers"].get(s) is None else f"`{ex['answers'][s]}`" if ex["answers"][s]
                     else "(nothing)" for s in systems]
            out.append(f"| {ex['compiler']} -{ex['opt']} line {ex['line'] + 1} | `{ex['expected']}` | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def update_card(card: Path, name: str, section: str) -> None:
    """Replace (or append) the text between ``<!-- eval:NAME:begin -->`` and ``...:end -->``."""
    begin, end = f"<!-- eval:{name}:begin -->", f"<!-- eval:{name}:end -->"
    text = card.read_text() if card.exists() else ""
    block = f"{begin}\n{section}{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block + "\n"
    card.write_text(text)


# --------------------------------------------------------------------------- main

# --------------------------------------------------------------------------- the plan

@dataclass
class EvalPlan:
    """What is evaluated: the held-out files, the holes sampled in them (and the showcase
    holes), and how they were chosen. The same sampling flags make the same plan in every
    subcommand, so prompts exported on one machine and answers imported from another meet
    the same holes."""

    source: str  # "cases" or "test"
    description: str
    files: list[AsmFile]
    holes: list[EvalHole]
    examples: list[EvalHole]
    opts: tuple[str, ...]
    per_group: dict[str, int]
    seed: int
    manifest_hash: str | None = None  # --source test: the corpus build the hole ids name

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> EvalPlan:
        opts = tuple(o.strip() for o in args.opts.split(",") if o.strip())
        manifest_hash = None
        if args.source == "cases":
            files = compile_cases(CASES_DIR, args.work / "cases", opts, set(args.case or []) or None)
            description = "bench/exec_completion/cases/*.c, gcc and clang"
        else:
            manifest_hash = _manifest_hash(args.corpus)  # now: the corpus may be rebuilt while we run
            files = [f for f in load_test_split(args.corpus) if f.opt in opts]
            description = "corpus TEST projects: " + ", ".join(sorted({f.project for f in files}))
        per_group = {"line": args.holes, "block": args.block_holes if args.block_holes is not None else args.holes // 2}
        plan = cls(args.source, description, files, sample_holes(files, per_group, args.seed),
                   example_holes(files) if args.source == "cases" and args.examples else [],
                   opts, per_group, args.seed, manifest_hash)
        print(f"{len(files):,} files, {len(plan.holes):,} holes ({per_group} per group), "
              f"{len(plan.examples)} example holes", flush=True)
        return plan

    @functools.cached_property
    def by_id(self) -> dict[str, AsmFile]:
        return {f.id: f for f in self.files}

    def answers_stem(self) -> str:
        """Name of the answer logs: hole ids name corpus files, so answers on another build of
        the corpus are other answers."""
        if self.source == "cases":
            return f"answers-cases-seed{self.seed}"
        return f"answers-test-{self.manifest_hash[:12]}-seed{self.seed}"


@dataclass
class Answers:
    """Each system's answer per hole (``by_system[(hole id, system name)]``) and their origin."""

    names: list[str]
    models: dict  # per system: model and adapter files and hashes, or the imported file
    by_system: dict[tuple[str, str], dict]
    server_code: str
    decoding: str = "greedy, server engine, no assembler retry"
    answers_from: str | None = None


# --------------------------------------------------------------------------- subcommands

def run_main(args: argparse.Namespace) -> int:
    """Answer every hole with every system through the server's engine (llama.cpp), logging
    each answer as it comes (a stopped run resumes), then score and report."""
    plan = EvalPlan.from_args(args)
    systems = [System.parse(s) for s in args.system] if args.system else default_systems()
    if args.base_model:  # e.g. a machine without the chunk packages: same file, same sha256, same answer keys
        systems = [s if s.model else System(s.name, args.base_model, s.adapter) for s in systems]
    runners = [Runner(s, args.threads, args.context_size, load=not args.report_only) for s in systems]
    code = args.server_code or server_code_hash()
    keys = {r.system.name: f"{r.system.name}:{r.identity['model_sha256'][:12]}:{(r.identity['adapter_sha256'] or '')[:12]}:{code}"
            for r in runners}
    answers = read_answer_logs(args.work, plan.answers_stem())
    if not args.report_only:
        shard, shards = (int(x) for x in args.shard.split("/"))
        log = args.work / (f"{plan.answers_stem()}.jsonl" if shards == 1 else
                           f"{plan.answers_stem()}-shard{shard}of{shards}.jsonl")
        todo = (plan.examples + round_robin(plan.holes))[shard::shards]  # a time limit then still covers every group
        answer_holes(todo, plan.by_id, runners, keys, answers, log, args)
    for runner in runners:
        runner.close()
    if args.answers_only:
        return 0
    names = [r.system.name for r in runners]
    by_system = {(hole_id, name): row for name in names for (hole_id, key), row in answers.items() if key == keys[name]}
    return write_report(args, plan, Answers(names, {r.system.name: r.identity for r in runners}, by_system, code))


def read_answer_logs(work: Path, stem: str) -> dict[tuple[str, str], dict]:
    """Answers already logged under ``work`` (every shard's), by (hole id, system key)."""
    answers = {}
    for path in sorted(work.glob(f"{stem}*.jsonl")):
        for row in path.read_text().splitlines():
            record = json.loads(row)
            answers[(record["hole"], record["system_key"])] = record
    return answers


def answer_holes(todo: list[EvalHole], by_id: dict[str, AsmFile], runners: list[Runner], keys: dict[str, str],
                 answers: dict[tuple[str, str], dict], log_path: Path, args: argparse.Namespace) -> None:
    """Ask every runner at every hole not answered yet, interleaved (same machine load)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    made_on = args.made_on or f"{platform.node()}: {os.cpu_count()} CPUs, {args.threads} threads"
    with log_path.open("a") as log:
        for index, hole in enumerate(todo):
            if args.limit_s and time.monotonic() - started > args.limit_s:
                print(f"time limit: stopped after {index} of {len(todo)} holes", flush=True)
                break
            document = hole.document(by_id)
            for runner in runners:
                key = keys[runner.system.name]
                if (hole.id, key) in answers:
                    continue
                text, timings = runner.answer(document, hole.line, hole.col, hole.n_lines)
                record = {"hole": hole.id, "system_key": key, "text": text, "timings": timings, "made_on": made_on}
                answers[(hole.id, key)] = record
                log.write(json.dumps(record) + "\n")
                log.flush()
            if index % 10 == 0:
                print(f"[{index + 1}/{len(todo)}] {time.monotonic() - started:.0f} s  {hole.id}  "
                      + "  ".join(f"{r.system.name}={answers.get((hole.id, keys[r.system.name]), {}).get('text', '?')!r}"
                                  for r in runners) + f"  expected={hole.expected!r}", flush=True)


def export_main(args: argparse.Namespace) -> int:
    """One JSON line per hole (examples first): the prompt the server's engine would send, for
    models.hf_generate on a GPU machine. No model runs."""
    from models.dataset import load_tokenizer

    plan = EvalPlan.from_args(args)
    tokenizer = load_tokenizer(args.tokenizer)
    engine = prompt_engine(tokenizer, args.context_size, args.suffix_budget)
    seen: set[str] = set()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open_text(args.out, "wt") as out:
        for hole in plan.examples + plan.holes:
            if hole.id not in seen:
                seen.add(hole.id)
                out.write(json.dumps(export_prompt(engine, tokenizer, hole, hole.document(plan.by_id))) + "\n")
    print(f"{len(seen):,} prompts -> {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    return 0


def import_main(args: argparse.Namespace) -> int:
    """Score raw continuations made elsewhere (models.hf_generate), cut as the server cuts."""
    plan = EvalPlan.from_args(args)
    names, models, by_system = [], {}, {}
    wanted = {h.id for h in plan.examples + plan.holes}
    for spec in args.answers:
        name, path, rows = read_answers(spec)
        stray = sorted(set(rows) - wanted)
        if stray:
            raise SystemExit(f"{path}: {len(stray)} answers for holes this sampling does not make (e.g. {stray[0]}); "
                             "use the --source/--holes/--block-holes/--opts/--seed of the export")
        names.append(name)
        models[name] = {"answers": _rel(path), "answers_sha256": sha256_file(path), "answered": len(rows)}
        for hole in plan.examples + plan.holes:
            row = rows.get(hole.id)
            if row is not None:
                text = cut_raw(row["text"], bool(row.get("finished")), hole.document(plan.by_id), hole)
                by_system[(hole.id, name)] = {"text": text, "raw": row["text"], "timings": {},
                                              "made_on": row.get("made_on", "hf_generate")}
    return write_report(args, plan, Answers(names, models, by_system, server_code_hash(), args.decoding,
                                            answers_from="models.hf_generate"))


def find_assembler_or_none():
    from asm_lsp.assembler import AssemblerNotFound, find_assembler

    try:
        return find_assembler()
    except AssemblerNotFound:
        print("no AArch64 assembler found: 'assembles' is not measured", file=sys.stderr)
        return None


def write_report(args: argparse.Namespace, plan: EvalPlan, answers: Answers) -> int:
    """Score the answers, write ``--out`` and print (and with ``--card`` write) the markdown."""
    names, by_system = answers.names, answers.by_system
    assembler = find_assembler_or_none()
    done_holes = [h for h in plan.holes if all((h.id, n) in by_system for n in names)]
    # Scored here, not when answered: answers made elsewhere (no assembler) score the same.
    for hole in done_holes + plan.examples:
        document = hole.document(plan.by_id)
        for name in names:
            if (hole.id, name) in by_system:
                by_system[(hole.id, name)].update(score(hole, by_system[(hole.id, name)]["text"], document, assembler))
    report = {
        "config": {"server_code": answers.server_code, "source": plan.source, "description": plan.description,
                   "seed": plan.seed, "opts": list(plan.opts), "holes_per_group": plan.per_group,
                   "threads": getattr(args, "threads", None), "context_size": args.context_size,
                   "decoding": answers.decoding, "out": _rel(args.out), "command": args.command_line,
                   **({"answers_from": answers.answers_from} if answers.answers_from else {}),
                   **({"corpus_manifest": plan.manifest_hash} if plan.source == "test" else {})},
        "systems": names,
        "models": answers.models,
        "counts": {"files": len(plan.files), "holes": len(done_holes), "holes_planned": len(plan.holes),
                   "by_kind": {k: sum(h.kind == k for h in done_holes) for k in HOLE_LINES},
                   "by_project": dict(sorted(Counter(h.project for h in done_holes).items()))},
        "metrics": tables(done_holes, by_system, names),
        "speed": {n: {place: speed(rows) for place, rows in _by_place([by_system[(h.id, n)] for h in done_holes]).items()}
                  for n in names},
        "examples": [{**asdict(h), "answers": {n: by_system.get((h.id, n), {}).get("text") for n in names}}
                     for h in plan.examples],
        "holes": [{"id": h.id, "function": h.function, "expected": h.expected,
                   "answers": {n: {k: by_system[(h.id, n)][k] for k in ("text", "exact", "edit_sim", "assembles")}
                               for n in names}} for h in done_holes],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    section = markdown(report)
    print(section)
    if args.card:
        update_card(args.card, args.out.stem, section)
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sampling = argparse.ArgumentParser(add_help=False)  # the plan: the same flags make the same holes
    sampling.add_argument("--source", choices=("cases", "test"), default="cases", help="held-out files to cut holes in")
    sampling.add_argument("--case", action="append", default=None, help="only this case (--source cases; repeatable)")
    sampling.add_argument("--examples", action=argparse.BooleanOptionalAction, default=True,
                          help=f"also answer the {EXAMPLE_FUNCTION} showcase holes (--source cases)")
    sampling.add_argument("--corpus", type=Path, default=REPO / "models" / "work" / "corpus",
                          help="corpus directory (--source test)")
    sampling.add_argument("--holes", type=int, default=10, help="line holes per compiler x opt level")
    sampling.add_argument("--block-holes", type=int, default=None, help="3-line block holes per group (default: --holes / 2)")
    sampling.add_argument("--opts", default=",".join(CASE_OPTS), help="opt levels to evaluate, comma-separated")
    sampling.add_argument("--seed", type=int, default=0, help="hole sampling seed")
    sampling.add_argument("--work", type=Path, default=DEFAULT_WORK, help="compiled cases and resumable answers")
    sampling.add_argument("--context-size", type=int, default=2048, help="n_ctx, the server's default")
    report = argparse.ArgumentParser(add_help=False)
    report.add_argument("--out", type=Path, required=True, help="JSON report to write")
    report.add_argument("--card", type=Path, default=None, help="model card to update (section named after --out)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", parents=[sampling, report], help="answer with llama.cpp through the server's engine, report")
    run.add_argument("--system", action="append", default=None,
                     help="base | NAME=adapter:PATH | NAME=model:PATH (repeatable; default: base, and ours = "
                          "base + the shipped adapter when it exists)")
    run.add_argument("--base-model", type=Path, default=None,
                     help="the base GGUF file to use instead of the packaged one (must be the same model)")
    run.add_argument("--threads", type=int, default=2, help="llama.cpp threads per system")
    run.add_argument("--shard", default="0/1", help="I/N: answer every Nth hole from the Ith (parallel runs)")
    run.add_argument("--made-on", default="", help="where the answers are made, logged with each (speed is per place)")
    run.add_argument("--limit-s", type=float, default=0, help="stop sampling new holes after this many seconds (0: none)")
    run.add_argument("--answers-only", action="store_true",
                     help="make and log the answers, no report (scoring needs the AArch64 assembler)")
    run.add_argument("--report-only", action="store_true",
                     help="no model runs: report on the answers already logged under --work")
    run.add_argument("--server-code", default="",
                     help="with --report-only: report answers made by this earlier server code hash")

    export = sub.add_parser("export-prompts", parents=[sampling],
                            help="write the holes' server prompts (.jsonl[.gz]) for models.hf_generate")
    export.add_argument("--out", type=Path, required=True, help="prompts file to write")
    export.add_argument("--tokenizer", type=Path, default=REPO / "models" / "work" / "tokenizer",
                        help="tokenizer dir or base GGUF (counts tokens as the engine does)")
    export.add_argument("--suffix-budget", type=int, default=DEFAULT_SUFFIX_BUDGET,
                        help="the full window's tokens after the cursor (default: the server's, %(default)s)")

    imported = sub.add_parser("import-answers", parents=[sampling, report],
                              help="score raw continuations from models.hf_generate, cut as the server cuts")
    imported.add_argument("--answers", action="append", required=True, metavar="NAME=FILE",
                          help="a system's raw answers (.jsonl[.gz]; repeatable)")
    imported.add_argument("--decoding", default="greedy, transformers bf16 (dequantized Q4_K_M base [+ PEFT adapter]) "
                                                "on GPU, same prompts and cutting",
                          help="how the answers were made (goes into the report)")
    args = p.parse_args(argv)
    args.command_line = "python -m models.evaluate " + " ".join(sys.argv[1:] if argv is None else argv)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand (``run``, ``export-prompts``, ``import-answers``)."""
    args = parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # see asm_lsp.model.engine
    return {"run": run_main, "export-prompts": export_main, "import-answers": import_main}[args.command](args)


def _by_place(rows: list[dict]) -> dict[str, list[dict]]:
    places: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        places[row.get("made_on", "unknown")].append(row)
    return dict(places)


def _rel(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _manifest_hash(corpus: Path) -> str | None:
    from models.dataset import corpus_manifest_hash

    return corpus_manifest_hash(corpus)


if __name__ == "__main__":
    sys.exit(main())
