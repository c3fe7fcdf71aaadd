"""Execution-based completion benchmark: cut holes in compiled functions, fill
them, and run the program's own test under qemu.

For every case in cases/ (`NAME.c` holds the functions, `NAME_test.c` a `main`
that checks them and exits 0 on success) and every compiler x opt level, the
function file is compiled to `.s`; holes are single instruction lines and
3-line blocks of consecutive instruction lines inside function bodies. Each
filler writes the middle, the file is assembled with GNU as, linked statically
with the test object (gcc -O0) and run with qemu-aarch64.

    python -m bench.exec_completion.run --fillers oracle,empty --jobs 2
    python -m bench.exec_completion.run --fillers oracle,lsp:none,lsp:default \
        --cases add_two_arrays,crc32 --holes-per-file 3 --out bench/results/exec_completion_lsp

Writes OUT.json (summary), OUT.md (tables) and OUT_holes.jsonl (one record
per hole and filler). `--verify-tests` instead compiles each case from C with
both compilers at both levels and runs its test: it proves the tests are right.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from bench.common import command_line, percentile, rounded, write_report
from bench.exec_completion import toolchain
from bench.exec_completion.fillers import Fill, Filler, make_filler, uses_server
from bench.exec_completion.holes import HOLE_KINDS, Hole, normalize_code, pick_holes, undefined_local_labels

HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "cases"
REPO = HERE.parents[1]
DEFAULT_OUT = REPO / "bench" / "results" / "exec_completion"


def all_cases() -> list[str]:
    return sorted(p.stem for p in CASES_DIR.glob("*.c") if not p.stem.endswith("_test"))


@dataclass
class Outcome:
    """What happened to one hole under one filler."""
    hole: str
    case: str
    compiler: str
    opt: str
    kind: str
    filler: str
    status: str            # pass | no_answer | assemble_error | undefined_label | link_error | run_fail | timeout
    exact: bool
    assembles: bool
    latency_ms: float
    detail: str = ""
    fill: str | None = None
    cached: bool = False


@dataclass
class Config:
    case: str
    compiler: str
    opt: str
    asm: str = ""
    error: str = ""


@dataclass
class Workspace:
    """Build products shared by all fillers, plus a cache of verdicts keyed by the
    filled file's content: the same program gives the same verdict."""
    root: Path
    run_timeout: float
    test_objects: dict[str, Path] = field(default_factory=dict)
    _verdicts: dict[str, tuple[str, bool, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _counter: int = 0

    def scratch(self) -> Path:
        with self._lock:
            self._counter += 1
            path = self.root / "eval" / str(self._counter)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def verdict(self, case: str, asm: str) -> tuple[str, bool, str, bool]:
        """(status, assembles, detail, cached) for a complete .s of `case`."""
        key = hashlib.sha256(f"{case}\0{asm}".encode()).hexdigest()
        with self._lock:
            if key in self._verdicts:
                return (*self._verdicts[key], True)
        result = self._evaluate(case, asm)
        with self._lock:
            self._verdicts[key] = result
        return (*result, False)

    def _evaluate(self, case: str, asm: str) -> tuple[str, bool, str]:
        work = self.scratch()
        try:
            source = work / "filled.s"
            source.write_text(asm)
            obj = work / "filled.o"
            step = toolchain.assemble(source, obj)
            if not step.ok:
                return "assemble_error", False, step.output
            missing = undefined_local_labels(asm)
            binary = work / "prog"
            step = toolchain.link_static([self.test_objects[case], obj], binary)
            if not step.ok:
                if missing:
                    return "undefined_label", True, "undefined local label(s): " + ", ".join(missing)
                return "link_error", True, step.output
            step = toolchain.run_program(binary, self.run_timeout)
            if step.timed_out:
                return "timeout", True, f"no exit within {self.run_timeout:g} s"
            if not step.ok:
                return "run_fail", True, f"exit {step.returncode}: {step.output[-300:]}"
            return "pass", True, ""
        finally:
            shutil.rmtree(work, ignore_errors=True)


def build(cases: list[str], work: Workspace, jobs: int) -> list[Config]:
    """Test objects (gcc -O0, once per case) and the .s of every configuration."""
    configs = [Config(c, comp, opt) for c in cases for comp in toolchain.COMPILERS for opt in toolchain.OPT_LEVELS]
    (work.root / "obj").mkdir(parents=True, exist_ok=True)
    (work.root / "asm").mkdir(parents=True, exist_ok=True)

    def test_object(case: str) -> None:
        out = work.root / "obj" / f"{case}_test.o"
        step = toolchain.compile_to_object("gcc", "O0", CASES_DIR / f"{case}_test.c", out)
        if not step.ok:
            raise SystemExit(f"test program {case}_test.c does not compile:\n{step.output}")
        work.test_objects[case] = out

    def asm(config: Config) -> None:
        out = work.root / "asm" / f"{config.case}-{config.compiler}-{config.opt}.s"
        step = toolchain.compile_to_asm(config.compiler, config.opt, CASES_DIR / f"{config.case}.c", out)
        if step.ok:
            config.asm = out.read_text()
        else:
            config.error = step.output

    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(test_object, cases))
        list(pool.map(asm, configs))
    for config in configs:
        if config.error:
            raise SystemExit(f"{config.case}.c does not compile with {config.compiler} -{config.opt}:\n{config.error}")
    return configs


def outcome_for(hole: Hole, filler_name: str, fill: Fill, work: Workspace) -> Outcome:
    base = dict(hole=hole.id, case=hole.case, compiler=hole.compiler, opt=hole.opt, kind=hole.kind,
                filler=filler_name, latency_ms=round(fill.seconds * 1000, 1))
    if fill.text is None:
        return Outcome(**base, status="no_answer", exact=False, assembles=False, detail=fill.error)
    end_line, end_col = fill.end if fill.end else (None, 0)
    filled = hole.filled_text(fill.text, end_line, end_col)
    exact = normalize_code(filled) == normalize_code(hole.asm)
    status, assembles, detail, cached = work.verdict(hole.case, filled)
    keep_fill = None if filler_name in ("oracle", "empty") else fill.text
    return Outcome(**base, status=status, exact=exact, assembles=assembles, detail=detail[:500],
                   fill=keep_fill, cached=cached)


def run_filler(filler: Filler, holes: list[Hole], work: Workspace, pool: ThreadPoolExecutor,
               progress: bool) -> list[Outcome]:
    """Fill holes one at a time (a server answers one question at a time) while
    earlier fills are assembled, linked and run in the pool."""
    futures: list[Future[Outcome]] = []
    # Line holes first, then blocks: an LSP filler then runs one server at a time.
    ordered = sorted(holes, key=lambda h: (h.n_lines, h.id))
    for i, hole in enumerate(ordered, 1):
        fill = filler.fill(hole)
        futures.append(pool.submit(outcome_for, hole, filler.name, fill, work))
        if progress and (i % 100 == 0 or i == len(ordered)):
            print(f"  {filler.name}: filled {i}/{len(ordered)}", file=sys.stderr, flush=True)
    return [f.result() for f in futures]


def summarize(outcomes: list[Outcome], keys: tuple[str, ...]) -> list[dict]:
    groups: dict[tuple, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(tuple(getattr(o, k) for k in keys), []).append(o)
    rows = []
    for key, group in sorted(groups.items()):
        n = len(group)
        latencies = [o.latency_ms for o in group if o.status != "no_answer"]
        rows.append({
            **dict(zip(keys, key)),
            "n": n,
            "pass": round(sum(o.status == "pass" for o in group) / n, 4),
            "exact": round(sum(o.exact for o in group) / n, 4),
            "assembles": round(sum(o.assembles for o in group) / n, 4),
            "answered": round(sum(o.status != "no_answer" for o in group) / n, 4),
            "latency_p50_ms": rounded(percentile(latencies, 0.50)),
            "latency_p95_ms": rounded(percentile(latencies, 0.95)),
            "statuses": dict(Counter(o.status for o in group)),
        })
    return rows


def markdown(report: dict) -> str:
    def pct(v: float) -> str:
        return f"{100 * v:.1f}%"

    def ms(v: float | None) -> str:
        return "–" if v is None else f"{v:.0f}"

    lines = [
        "# Execution-based completion benchmark",
        "",
        f"- Date: {report['date']}",
        f"- Command: `{report['command']}`",
        f"- Commit: `{report['git_commit']}`",
        f"- Cases: {len(report['cases'])}; holes per kind per file: {report['holes_per_file']}; "
        f"seed {report['seed']}; holes per filler: {report['holes']}",
        "- A hole passes when the filled `.s` assembles, links with the case's test and the test exits 0 "
        "under qemu-aarch64. Exact = same code after dropping comments and normalising whitespace.",
        "- Fillers: `oracle` = the original text (sanity check, must be 100%), `empty` = hole deleted (floor), "
        "`lsp:X` = the server's inline completion with `model.adapter` = X (one request). "
        "`lsp-accept:X` = the same server used as a user takes a block with Tab: ask, read 0.3 s, accept, Enter, "
        "ask again, up to the hole's line count or an empty answer. Latency is the filler's answer time "
        "(for lsp-accept: all its waits for answers, reading time left out).",
        "",
        "## By filler and hole kind",
        "",
        "| filler | hole | n | pass | exact | assembles | answered | p50 ms | p95 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["by_filler_kind"]:
        lines.append(f"| {r['filler']} | {r['kind']} | {r['n']} | {pct(r['pass'])} | {pct(r['exact'])} | "
                     f"{pct(r['assembles'])} | {pct(r['answered'])} | {ms(r['latency_p50_ms'])} | "
                     f"{ms(r['latency_p95_ms'])} |")
    lines += [
        "",
        "## By compiler, opt level, hole kind and filler",
        "",
        "| compiler | opt | hole | filler | n | pass | exact | assembles | p50 ms | p95 ms |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["by_config"]:
        lines.append(f"| {r['compiler']} | -{r['opt']} | {r['kind']} | {r['filler']} | {r['n']} | {pct(r['pass'])} | "
                     f"{pct(r['exact'])} | {pct(r['assembles'])} | {ms(r['latency_p50_ms'])} | "
                     f"{ms(r['latency_p95_ms'])} |")
    lines += ["", "## Outcomes by filler", "", "| filler | " + " | ".join(report["status_names"]) + " |",
              "|---|" + "---:|" * len(report["status_names"])]
    for r in report["by_filler"]:
        lines.append(f"| {r['filler']} | " + " | ".join(str(r["statuses"].get(s, 0)) for s in report["status_names"]) + " |")
    if report.get("lsp_warmup_s"):
        lines += ["", "LSP warm-up (server start until the first answer, not counted in latency): "
                  + ", ".join(f"{k}: {v}" for k, v in report["lsp_warmup_s"].items())]
    lines += ["", "Cases: " + ", ".join(f"`{c}`" for c in report["cases"]), ""]
    return "\n".join(lines)


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def verify_tests(cases: list[str], jobs: int, run_timeout: float, root: Path) -> dict[str, str]:
    """Compile each case from C (function and test with the same compiler and level),
    link statically, run. Returns {"case/compiler-ON": problem} for every failure."""
    problems: dict[str, str] = {}

    def one(case: str, compiler: str, opt: str) -> None:
        work = root / "verify" / f"{case}-{compiler}-{opt}"
        work.mkdir(parents=True, exist_ok=True)
        fn, test, binary = work / "fn.o", work / "test.o", work / "prog"
        for source, out in ((CASES_DIR / f"{case}.c", fn), (CASES_DIR / f"{case}_test.c", test)):
            step = toolchain.compile_to_object(compiler, opt, source, out)
            if not step.ok:
                problems[f"{case}/{compiler}-{opt}"] = f"compile {source.name}: {step.output}"
                return
        step = toolchain.link_static([test, fn], binary)
        if not step.ok:
            problems[f"{case}/{compiler}-{opt}"] = f"link: {step.output}"
            return
        step = toolchain.run_program(binary, run_timeout)
        if not step.ok:
            problems[f"{case}/{compiler}-{opt}"] = "timeout" if step.timed_out else f"exit {step.returncode}: {step.output}"

    with ThreadPoolExecutor(jobs) as pool:
        futures = [pool.submit(one, c, comp, opt) for c in cases for comp in toolchain.COMPILERS
                   for opt in toolchain.OPT_LEVELS]
        for f in futures:
            f.result()
    return problems


def run_benchmark(cases: list[str], filler_specs: list[str], holes_per_file: int, seed: int, jobs: int,
                  run_timeout: float, root: Path, request_timeout: float = 60.0, warmup_timeout: float = 120.0,
                  progress: bool = False, lsp_settings: dict | None = None) -> tuple[list[Outcome], dict]:
    work = Workspace(root, run_timeout)
    t0 = time.monotonic()
    configs = build(cases, work, jobs)
    holes = [h for c in configs for h in pick_holes(c.case, c.compiler, c.opt, c.asm, holes_per_file, seed)]
    if progress:
        print(f"built {len(configs)} configurations, {len(holes)} holes per filler "
              f"({time.monotonic() - t0:.1f} s)", file=sys.stderr, flush=True)
    outcomes: list[Outcome] = []
    warmups: dict[str, float] = {}
    with ThreadPoolExecutor(jobs) as pool:
        for spec in filler_specs:
            filler = make_filler(spec, root, request_timeout, warmup_timeout, lsp_settings)
            try:
                outcomes += run_filler(filler, holes, work, pool, progress)
            finally:
                filler.close()
            for max_lines, seconds in getattr(filler, "warmup_seconds", {}).items():
                warmups[f"{spec} maxLines={max_lines}"] = seconds
    meta = {"holes": len(holes), "lsp_warmup_s": warmups, "seconds": round(time.monotonic() - t0, 1)}
    return outcomes, meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fillers", default="oracle,empty",
                        help="comma list: oracle, empty, lsp:none, lsp:default, lsp:<adapter path>, lsp-accept:<adapter> "
                             "(a block taken line by line: ask, read, accept, Enter, ask again)")
    parser.add_argument("--cases", default="", help="comma list of case names (default: all in cases/)")
    parser.add_argument("--holes-per-file", type=int, default=4, help="holes of each kind per compiled file")
    parser.add_argument("--seed", type=int, default=0, help="seed for choosing holes")
    parser.add_argument("--jobs", type=int, default=2, help="parallel compile/assemble/link/run workers")
    parser.add_argument("--run-timeout", type=float, default=5.0, help="seconds a test program may run")
    parser.add_argument("--request-timeout", type=float, default=60.0, help="seconds to wait for one inline completion")
    parser.add_argument("--warmup-timeout", type=float, default=120.0,
                        help="seconds to wait after server start for its first non-empty answer")
    parser.add_argument("--lsp-settings", type=json.loads, default={},
                        help='extra asmLsp settings for lsp fillers, JSON, e.g. \'{"completion": {"candidates": 1}}\'')
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="output prefix: writes PREFIX.json, PREFIX.md, PREFIX_holes.jsonl")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temp folder, removed)")
    parser.add_argument("--verify-tests", action="store_true",
                        help="only check each case's test against its C function under both compilers and levels")
    args = parser.parse_args(argv)

    cases = [c for c in args.cases.split(",") if c] or all_cases()
    unknown = [c for c in cases if not (CASES_DIR / f"{c}.c").exists() or not (CASES_DIR / f"{c}_test.c").exists()]
    if unknown:
        parser.error(f"no such case(s) in {CASES_DIR}: {', '.join(unknown)}")
    root = args.workdir or Path(tempfile.mkdtemp(prefix="exec_bench_"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        if args.verify_tests:
            problems = verify_tests(cases, args.jobs, args.run_timeout, root)
            for name, problem in sorted(problems.items()):
                print(f"FAIL {name}: {problem}")
            print(f"{len(cases) * 4 - len(problems)}/{len(cases) * 4} case builds pass their test")
            return 1 if problems else 0

        specs = [s for s in args.fillers.split(",") if s]
        outcomes, meta = run_benchmark(cases, specs, args.holes_per_file, args.seed, args.jobs, args.run_timeout,
                                       root, args.request_timeout, args.warmup_timeout, progress=True,
                                       lsp_settings=args.lsp_settings)
    finally:
        if args.workdir is None and not any(uses_server(s) for s in args.fillers.split(",")):
            shutil.rmtree(root, ignore_errors=True)

    status_names = ["pass", "run_fail", "timeout", "link_error", "undefined_label", "assemble_error", "no_answer"]
    report = {
        "command": command_line(argv),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "git_commit": git_commit(),
        "seed": args.seed,
        "holes_per_file": args.holes_per_file,
        "fillers": specs,
        "lsp_settings": args.lsp_settings,
        "cases": cases,
        **meta,
        "status_names": status_names,
        "by_filler": summarize(outcomes, ("filler",)),
        "by_filler_kind": summarize(outcomes, ("filler", "kind")),
        "by_config": summarize(outcomes, ("compiler", "opt", "kind", "filler")),
    }
    write_report(args.out, report, markdown(report))
    with open(f"{args.out}_holes.jsonl", "w") as f:
        for o in outcomes:
            f.write(json.dumps(asdict(o)) + "\n")
    print(markdown(report).split("## By compiler")[0])
    if any(uses_server(s) for s in specs):
        print(f"server stderr logs: {root}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
