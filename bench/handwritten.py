"""Hand-written AArch64 from held-out upstream projects, unmodified, through the server.

    PYTHONPATH=server nice python -m bench.handwritten                  # ~30-90 min on 2 loaded cores
    PYTHONPATH=server python -m bench.handwritten --no-completion       # outline and diagnostics, ~2 min
    -> bench/results/handwritten.json and bench/results/handwritten.md

Test data: the Debian bookworm source packages in bench/handwritten_sources.json (dav1d and
x264: their AArch64 NEON code, `function NAME, export=1` … `endfunc`, the style FFmpeg and
its descendants share). Both are kept out of the model's training corpus
(models/corpus/handwritten.toml pins them to the test split). Downloaded and unpacked into
bench/work/handwritten/ (git-ignored) by models/corpus/fetch.py; the sha256 of every
downloaded file is checked against the manifest.

Each project is opened twice, as a workspace folder:
- **unconfigured**: the unpacked tree as it is, the way a new user opens a checkout;
- **configured**: a copy with what configuring the build writes: build/config.h (the values
  configure/meson would write for aarch64 Linux) and build/compile_commands.json with the
  `-I`/`-D` flags the project's build passes for its `.S` files (meson's layout).

Measured, per project and in total:
- **outline coverage**: functions the server's documentSymbol lists (any depth) out of the
  functions defined. "Defined" is counted independently of the server: each file that
  is not only included is assembled with the configured flags and its object's symbol
  table read (`FUNC` symbols, aarch64-linux-gnu-readelf). A listed name matches a symbol
  as it is, or with the project's symbol prefix (`dav1d_`, `x264_8_`) removed.
- **files with an error / warning / information message** among all unmodified `.S` files
  of the AArch64 folders (pull diagnostics), unconfigured and configured.
- **completion** (unless --no-completion): --holes instruction lines removed at random
  (seed 0) from the files that are not only included; once the workspace scan is done, each
  holed file is opened in the unconfigured workspace, given 3 s to read, then an inline
  completion is asked at the empty line. First line exact (whitespace collapsed) and empty answers, at the default
  settings and with `completion.timeBudgetMs` lifted (600 s), side by side in one run.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asm_lsp import docs
from asm_lsp.syntax import parse
from bench.common import RESULTS, ROOT, command_line, machine, percentile, write_report
from bench.lsp_client import SERVER_ENV, LspClient, LspError
from models.corpus.fetch import fetch_package

WORK = ROOT / "bench" / "work" / "handwritten"
MANIFEST = ROOT / "bench" / "handwritten_sources.json"
READ_S = 3.0  # "3 s to read" before asking, as in issue 15
LIFTED_MS = 600_000


@dataclass
class Project:
    package: str
    folders: list[str]  # the AArch64 folders (globs of .S files, relative to the tree)
    prefixes: tuple[str, ...]  # symbol prefixes the project's macros add
    config_h: str  # what configuring for aarch64 Linux writes into build/config.h
    build_args: list[str]  # per .S file, relative to build/ (meson-style out-of-tree build)


PROJECTS = [
    Project("dav1d", ["src/arm/*.S", "src/arm/64/*.S"], ("dav1d_",),
            "\n".join(f"#define {k} {v}" for k, v in [
                ("ARCH_AARCH64", 1), ("ARCH_ARM", 0), ("ARCH_PPC64LE", 0), ("ARCH_X86", 0), ("ARCH_X86_32", 0),
                ("ARCH_X86_64", 0), ("CONFIG_16BPC", 1), ("CONFIG_8BPC", 1), ("CONFIG_LOG", 1),
                ("ENDIANNESS_BIG", 0), ("HAVE_ASM", 1), ("HAVE_AS_FUNC", 0), ("HAVE_CLOCK_GETTIME", 1),
                ("HAVE_GETAUXVAL", 1), ("HAVE_POSIX_MEMALIGN", 1), ("HAVE_UNISTD_H", 1),
                ("STACK_ALIGNMENT", 16)]) + "\n",
            ["-Isrc", "-I../src", "-I.", "-I..", "-Iinclude/dav1d", "-I../include/dav1d", "-Iinclude",
             "-I../include", "-DNDEBUG", "-D_GNU_SOURCE", "-DPIC"]),
    Project("x264", ["common/aarch64/*.S", "tools/checkasm-aarch64.S"], ("x264_8_", "x264_"),
            "\n".join(f"#define {k} {v}" for k, v in [
                ("HAVE_MALLOC_H", 1), ("ARCH_AARCH64", 1), ("SYS_LINUX", 1), ("HAVE_POSIXTHREAD", 1),
                ("HAVE_THREAD", 1), ("HAVE_LOG2F", 1), ("HAVE_NEON", 1), ("HAVE_AS_FUNC", 0),
                ("SYS_MACOSX", 0), ("HAVE_BITDEPTH8", 1), ("HAVE_BITDEPTH10", 1), ("HAVE_GPL", 1),
                ("HAVE_INTERLACED", 1)]) + "\n",
            ["-I.", "-I..", "-DSTACK_ALIGNMENT=16", "-DPIC", "-DHIGH_BIT_DEPTH=0", "-DBIT_DEPTH=8"]),
]


# -- sources ---------------------------------------------------------------------------------
def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(project: Project) -> tuple[Path, dict[str, Any]]:
    """The unpacked upstream tree, and what was downloaded (name, version, sha256 of each file)."""
    downloads = WORK / "downloads" / project.package
    package = fetch_package(project.package, downloads, WORK / "src" / project.package)
    files = {p.name: sha256(p) for p in sorted(downloads.iterdir()) if p.is_file()}
    return package.root, {"package": project.package, "version": package.version, "licence": package.licence,
                          "files": files}


def check_manifest(records: list[dict[str, Any]]) -> None:
    """Compare with the committed manifest; write it when there is none."""
    if not MANIFEST.exists():
        MANIFEST.write_text(json.dumps({"distribution": "debian bookworm (apt-get source)",
                                        "packages": records}, indent=1) + "\n")
        return
    known = {r["package"]: r for r in json.loads(MANIFEST.read_text())["packages"]}
    for record in records:
        if known.get(record["package"], {}).get("files") != record["files"]:
            print(f"warning: {record['package']} {record['version']} differs from {MANIFEST.name}; "
                  "figures are not comparable with the committed ones", flush=True)


def asm_files(tree: Path, project: Project) -> list[Path]:
    return sorted({p for pattern in project.folders for p in tree.glob(pattern) if p.is_file()})


def included_names(files: list[Path]) -> set[str]:
    """Basenames that some file includes: those files are only included, never built."""
    names = set()
    for path in files:
        for match in re.finditer(r'^\s*(?:#\s*include|\.include)\s*"([^"]+)"', path.read_text(errors="replace"), re.M):
            names.add(Path(match.group(1)).name)
    return names


def configure(tree: Path, project: Project, built: list[Path]) -> Path:
    """A copy of ``tree`` with build/config.h and build/compile_commands.json."""
    target = WORK / "configured" / project.package
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(tree, target, symlinks=True)
    build = target / "build"
    build.mkdir()
    (build / "config.h").write_text(project.config_h)
    entries = []
    for path in built:
        rel = path.relative_to(tree)
        obj = str(rel).replace("/", "_") + ".o"
        entries.append({"directory": str(build), "file": f"../{rel}", "output": obj,
                        "arguments": ["aarch64-linux-gnu-gcc", *project.build_args, "-o", obj, "-c", f"../{rel}"]})
    (build / "compile_commands.json").write_text(json.dumps(entries, indent=1))
    return target


def defined_functions(configured: Path, project: Project, rel: Path) -> list[str]:
    """FUNC symbols of ``rel`` assembled as its build would (not through the server)."""
    build = configured / "build"
    with tempfile.TemporaryDirectory() as tmp:
        obj = Path(tmp) / "out.o"
        proc = subprocess.run(["aarch64-linux-gnu-gcc", *project.build_args, "-c", "-o", str(obj), f"../{rel}"],
                              cwd=build, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"{project.package}/{rel} does not assemble with the build's flags: {proc.stderr[:500]}")
        table = subprocess.run(["aarch64-linux-gnu-readelf", "-sW", str(obj)], capture_output=True, text=True,
                               check=True).stdout
    names = []
    for line in table.splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[3] == "FUNC":
            names.append(parts[7])
    return sorted(set(names))


# -- the server ------------------------------------------------------------------------------
def start_server(root: Path, settings: dict[str, Any], log: Path, model: bool,
                 server_args: tuple[str, ...] = ()) -> LspClient:
    argv = [sys.executable, "-m", "asm_lsp", "--stdio", *server_args] + ([] if model else ["--no-model"])
    client = LspClient(argv, log, env=SERVER_ENV, cwd=ROOT, settings=settings, strict=False)
    client.request("initialize", {
        "processId": os.getpid(), "clientInfo": {"name": "handwritten-bench"},
        "rootUri": root.as_uri(), "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
        "initializationOptions": settings,
        "capabilities": {"workspace": {"configuration": True},
                         "textDocument": {"diagnostic": {}, "inlineCompletion": {}, "synchronization": {},
                                          "documentSymbol": {"hierarchicalDocumentSymbolSupport": True}},
                         "window": {"workDoneProgress": False}},
    }, timeout=120.0)
    client.notify("initialized", {})
    return client


def wait_indexed(client: LspClient, timeout: float = 120.0) -> None:
    """Until the workspace scan is done (``asmLsp/status`` says how many files are indexed)."""
    client.wait_for(lambda m: m.get("method") == "asmLsp/status"
                    and str((m.get("params") or {}).get("indexing", "")).endswith(" files"), timeout)


def open_doc(client: LspClient, path: Path, text: str | None = None, uri: str | None = None) -> str:
    uri = uri or path.as_uri()
    client.notify("textDocument/didOpen", {"textDocument": {
        "uri": uri, "languageId": "aarch64-asm", "version": 1,
        "text": path.read_text(errors="replace") if text is None else text}})
    return uri


def symbol_names(symbols: list[dict[str, Any]] | None) -> list[str]:
    names: list[str] = []
    for symbol in symbols or []:
        names.append(symbol["name"])
        names += symbol_names(symbol.get("children"))
    return names


def severities(items: list[dict[str, Any]]) -> dict[str, int]:
    labels = {1: "error", 2: "warning", 3: "information", 4: "hint"}
    counts = {name: 0 for name in labels.values()}
    for item in items:
        counts[labels.get(item.get("severity", 1), "error")] += 1
    return counts


def outline_and_diagnostics(tree: Path, files: list[Path], log: Path) -> dict[str, dict[str, Any]]:
    """documentSymbol names and diagnostic counts per file (relative path), model off."""
    client = start_server(tree, {"diagnostics": {"debounceMs": 0}}, log, model=False)
    found: dict[str, dict[str, Any]] = {}
    try:
        wait_indexed(client)  # macros from other files (asm.S, templates) are known once indexed
        for path in files:
            uri = open_doc(client, path)
            symbols = client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}}, timeout=120)
            report = client.request("textDocument/diagnostic", {"textDocument": {"uri": uri}}, timeout=120)
            items = report.get("items", []) if isinstance(report, dict) else []
            found[str(path.relative_to(tree))] = {
                "symbols": symbol_names(symbols), "diagnostics": severities(items),
                "messages": sorted({f"{i.get('severity')}:{i['range']['start']['line'] + 1}: {i['message'][:160]}"
                                    for i in items})[:5]}
            client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    finally:
        client.close()
    return found


def listed(symbol: str, names: set[str], prefixes: tuple[str, ...]) -> bool:
    if symbol in names:
        return True
    return any(symbol.startswith(p) and symbol[len(p):] in names for p in prefixes)


# -- completion ------------------------------------------------------------------------------
@dataclass
class Hole:
    package: str
    rel: str
    line: int
    truth: str
    path: Path = field(repr=False)


def normalize(line: str) -> str:
    code = line.split("//", 1)[0]
    return " ".join(code.replace(",", ", ").split()).replace(" ,", ",").lower()


def pick_holes(trees: dict[str, tuple[Project, Path, list[Path]]], count: int, seed: int) -> list[Hole]:
    candidates = []
    for package, (_, tree, built) in trees.items():
        for path in built:
            text = path.read_text(errors="replace")
            doc = parse(text)
            for number, line_text in enumerate(doc.lines):
                statements = doc.statements_on(number)
                if (len(statements) == 1 and statements[0].kind == "instruction"
                        and docs.lookup_mnemonic(statements[0].name) is not None
                        and "\\" not in line_text and line_text.strip() and normalize(line_text)):
                    candidates.append(Hole(package, str(path.relative_to(tree)), number, line_text, path))
    rng = random.Random(seed)
    # In the drawn order: the first k of them are a random sample too (a run cut by --minutes).
    return rng.sample(candidates, min(count, len(candidates)))


def ask(client: LspClient, hole: Hole, opened: int, timeout: float) -> tuple[str | None, float, str | None]:
    lines = hole.path.read_text(errors="replace").split("\n")
    lines[hole.line] = ""
    # A distinct URI per hole in the hole's folder: the includes are searched from there.
    uri = hole.path.with_name(f".{opened}.{hole.path.name}").as_uri()
    open_doc(client, hole.path, "\n".join(lines), uri)
    time.sleep(READ_S)
    started = time.monotonic()
    try:
        result = client.request("textDocument/inlineCompletion", {
            "textDocument": {"uri": uri}, "position": {"line": hole.line, "character": 0},
            "context": {"triggerKind": 1}}, timeout=timeout)
        error = None
    except TimeoutError:
        result, error = None, "timeout"
    except LspError as exc:
        result, error = None, str(exc)[:200]
    finally:
        client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    seconds = time.monotonic() - started
    items = result.get("items", []) if isinstance(result, dict) else (result or [])
    if not items:
        return None, seconds, error
    text = items[0].get("insertText")
    text = text.get("value") if isinstance(text, dict) else text
    return text, seconds, error


def completion_run(name: str, settings: dict[str, Any], root: Path, holes: list[Hole], warmup_hole: Hole,
                   log: Path, timeout: float, minutes: float, server_args: tuple[str, ...] = ()) -> dict[str, Any]:
    """Ask at each hole in turn; stop when ``minutes`` have passed (the holes asked so far count)."""
    load = [round(x, 2) for x in os.getloadavg()]
    client = start_server(root, settings, log, model=True, server_args=server_args)
    stats: dict[str, Any] = {}
    try:
        warm_started = time.monotonic()  # loading the model is not measured
        while time.monotonic() - warm_started < 300 and client.proc.poll() is None and not any(
                n.get("method") == "asmLsp/status" and (n.get("params") or {}).get("model") in ("ready", "unavailable")
                for n in client.notifications):
            time.sleep(0.5)
        wait_indexed(client, 300)  # the steady state: the first scan of both trees (~20-40 s) is done
        ask(client, warmup_hole, 0, timeout)  # the first request's one-time costs, on a file no hole is in
        warmup = time.monotonic() - warm_started
        records = []
        deadline = time.monotonic() + 60 * minutes
        for n, hole in enumerate(holes, 1):
            if time.monotonic() > deadline:
                print(f"  {name}: {minutes:g} minutes passed; {n - 1} of {len(holes)} holes asked", flush=True)
                break
            text, seconds, error = ask(client, hole, n, timeout)
            first = (text or "").split("\n")[0]
            records.append({"package": hole.package, "file": hole.rel, "line": hole.line + 1,
                            "truth": hole.truth.strip(), "answer": first.strip() if text else None,
                            "exact": bool(text) and normalize(first) == normalize(hole.truth),
                            "empty": not (text or "").strip(), "seconds": round(seconds, 3), "error": error})
            print(f"  {name} {n}/{len(holes)} {hole.package}/{hole.rel}:{hole.line + 1} "
                  f"{'EXACT' if records[-1]['exact'] else ('empty' if records[-1]['empty'] else 'other')} "
                  f"{seconds:.1f}s", flush=True)
        found = client.request("workspace/executeCommand", {"command": "asmLsp.modelStats", "arguments": []}, timeout=60)
        stats = {k: found.get(k) for k in ("counters", "rates", "thread_speeds")} if isinstance(found, dict) else {}
    finally:
        client.close()
    times = sorted(r["seconds"] for r in records)
    return {"settings": settings, "load_before": load, "load_after": [round(x, 2) for x in os.getloadavg()],
            "engine": stats, "warmup_s": round(warmup, 1), "holes": len(records), "minutes": minutes,
            "exact": sum(r["exact"] for r in records), "empty": sum(r["empty"] for r in records),
            "p50_s": round(statistics.median(times), 2), "p95_s": round(percentile(times, 0.95) or 0.0, 2),
            "records": records}


# -- report ----------------------------------------------------------------------------------
def pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f} %" if b else "–"


def write_markdown(report: dict[str, Any]) -> str:
    out = ["# Hand-written AArch64 from held-out upstream projects", "",
           f"Command: `{report['command']}`  ", f"When: {report['machine']['date']}; machine: "
           f"{report['machine']['machine']}, {report['machine']['cpus']} CPUs; load (1/5/15 min) before: "
           f"`{report['load_before']}`, after: `{report['machine']['load']}`", "",
           "Sources (Debian bookworm, unmodified; bench/handwritten_sources.json): " +
           ", ".join(f"{s['package']} {s['version']}" for s in report["sources"]), "",
           "## Outline coverage", "",
           "Functions defined = `FUNC` symbols of each built file's object (assembled with the build's flags, "
           "outside the server); listed = names in the server's documentSymbol.", "",
           "| project | files | defined | listed | coverage |", "| --- | --- | --- | --- | --- |"]
    for name, o in report["outline"].items():
        out.append(f"| {name} | {o['files']} | {o['defined']} | {o['listed']} | {pct(o['listed'], o['defined'])} |")
    out += ["", "## Diagnostics on unmodified files", "",
            "| project | workspace | files | with an error | with a warning | with only information |",
            "| --- | --- | --- | --- | --- | --- |"]
    for name, d in report["diagnostics"].items():
        for setup in ("unconfigured", "configured"):
            s = d[setup]
            out.append(f"| {name} | {setup} | {s['files']} | {s['error']} | {s['warning']} | {s['information_only']} |")
    examples = [m for d in report["diagnostics"].values() for s in d.values() for m in s["examples"]]
    if examples:
        out += ["", "Examples (severity 1 = error, 3 = information):", ""] + [f"- `{m}`" for m in examples[:6]]
    if report.get("completion"):
        out += ["", "## Completion on removed instruction lines", "",
                f"{report['holes']} instruction lines drawn at random (seed {report['seed']}) from the built files and "
                "asked in that order until a variant's time (--minutes) ran out; once the workspace scan is done, "
                f"each holed file opened in the unconfigured workspace, {READ_S:.0f} s to read, then one inline "
                "completion at the empty line. Exact = first line equal with whitespace collapsed.", "",
                "| settings | exact first line | empty | p50 | p95 | warm-up (not counted) | load before → after | "
                "engine rates at the end |",
                "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        runs = report["completion"]
        for name, run in runs.items():
            rates = (run.get("engine") or {}).get("rates") or {}
            rate_text = (f"{rates['prompt_tokens_per_s']} prompt tokens/s, {rates['decode_ms_per_token']} ms/token"
                         if rates else "–")
            out.append(f"| {name} | {run['exact']}/{run['holes']} ({pct(run['exact'], run['holes'])}) | "
                       f"{run['empty']}/{run['holes']} ({pct(run['empty'], run['holes'])}) | {run['p50_s']} s | "
                       f"{run['p95_s']} s | {run['warmup_s']} s | {run.get('load_before', '–')} → "
                       f"{run.get('load_after', '–')} | {rate_text} |")
        out.append("")
        for name, run in runs.items():
            counters = (run.get("engine") or {}).get("counters") or {}
            if counters:
                out.append(f"- {name}, engine counters (asmLsp.modelStats, warm-up included): " + ", ".join(
                    f"{key.replace('_', ' ')} {counters[key]}" for key in
                    ("completions", "over_budget", "cold_windows", "answered_early", "aborted_chunks", "cache_hits")
                    if key in counters))
        common = min((run["holes"] for run in runs.values()), default=0)
        if len(runs) > 1 and common:
            out += ["", f"On the first {common} holes, which every run asked:", ""]
            for name, run in runs.items():
                first = run["records"][:common]
                out.append(f"- {name}: exact {sum(r['exact'] for r in first)}/{common}, "
                           f"empty {sum(r['empty'] for r in first)}/{common}")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--holes", type=int, default=30, help="removed instruction lines (issue 15: 30)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the removed lines")
    parser.add_argument("--no-completion", action="store_true", help="outline and diagnostics only (no model)")
    parser.add_argument("--variants", default="default,lifted",
                        help="completion settings to run: default, lifted, lifted-nocheck, lifted-1.5b, default-1.5b "
                             "(comma-separated)")
    parser.add_argument("--adapter", action="append", default=[], metavar="NAME=PATH",
                        help="also the variant lifted-NAME: the budget lifted, the server started with "
                             "--adapter PATH (a candidate GGUF LoRA for the packaged base; repeatable)")
    parser.add_argument("--request-timeout", type=float, default=240.0, help="seconds to wait for one answer")
    parser.add_argument("--minutes", default="60",
                        help="stop a completion variant after this long (the holes are in random order): "
                             "minutes for all, or per variant as default=10,lifted=28")
    parser.add_argument("--out", type=Path, default=RESULTS / "handwritten", help="result path without suffix")
    args = parser.parse_args(argv)
    for tool in ("aarch64-linux-gnu-gcc", "aarch64-linux-gnu-readelf"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found; install gcc-aarch64-linux-gnu and binutils-aarch64-linux-gnu")
    load_before = [round(x, 2) for x in os.getloadavg()]
    logs = WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    sources, trees = [], {}
    for project in PROJECTS:
        tree, record = fetch(project)
        sources.append(record)
        files = asm_files(tree, project)
        only_included = included_names(files)
        built = [p for p in files if p.name not in only_included]
        trees[project.package] = (project, tree, built)
        print(f"{project.package} {record['version']}: {len(files)} .S files, {len(built)} built", flush=True)
    check_manifest(sources)

    outline: dict[str, Any] = {}
    diagnostics: dict[str, Any] = {}
    per_file: dict[str, Any] = {}
    for package, (project, tree, built) in trees.items():
        files = asm_files(tree, project)
        configured = configure(tree, project, built)
        setups = {"unconfigured": outline_and_diagnostics(tree, files, logs / f"{package}-unconfigured.log"),
                  "configured": outline_and_diagnostics(configured, [configured / p.relative_to(tree) for p in files],
                                                        logs / f"{package}-configured.log")}
        diagnostics[package] = {}
        for setup, found in setups.items():
            counts = [f["diagnostics"] for f in found.values()]
            diagnostics[package][setup] = {
                "files": len(found), "error": sum(c["error"] > 0 for c in counts),
                "warning": sum(c["warning"] > 0 for c in counts),
                "information_only": sum(c["information"] > 0 and not c["error"] and not c["warning"] for c in counts),
                "examples": sorted({m for f in found.values() for m in f["messages"]})[:3]}
        defined = listed_count = 0
        missing: list[str] = []
        for path in built:
            rel = path.relative_to(tree)
            symbols = defined_functions(configured, project, rel)
            names = set(setups["unconfigured"][str(rel)]["symbols"])
            hits = [s for s in symbols if listed(s, names, project.prefixes)]
            defined += len(symbols)
            listed_count += len(hits)
            missing += [f"{rel}:{s}" for s in symbols if s not in hits]
            per_file[f"{package}/{rel}"] = {"defined": len(symbols), "listed": len(hits)}
        outline[package] = {"files": len(built), "defined": defined, "listed": listed_count,
                            "missing_examples": missing[:10]}
        print(f"{package}: outline {listed_count}/{defined}; errors unconfigured "
              f"{diagnostics[package]['unconfigured']['error']}/{len(files)}, configured "
              f"{diagnostics[package]['configured']['error']}/{len(files)}", flush=True)
    outline["total"] = {k: sum(o[k] for o in outline.values()) for k in ("files", "defined", "listed")}

    completion: dict[str, Any] = {}
    holes: list[Hole] = []
    if not args.no_completion:
        holes = pick_holes(trees, args.holes, args.seed)
        project, tree, built = next(iter(trees.values()))
        included = next(p for p in asm_files(tree, project) if p not in built)  # e.g. dav1d's src/arm/asm.S
        warmup = Hole(project.package, str(included.relative_to(tree)), 0, "", included)
        variants = {"default": {},
                    "lifted": {"completion": {"timeBudgetMs": LIFTED_MS}},
                    "lifted-nocheck": {"completion": {"timeBudgetMs": LIFTED_MS, "checkWithAssembler": False}},
                    # the 1.5B with its round-three adapter (trained with hand-written projects)
                    "lifted-1.5b": {"completion": {"timeBudgetMs": LIFTED_MS}, "model": {"size": "1.5b"}},
                    "default-1.5b": {"model": {"size": "1.5b"}}}
        server_args: dict[str, tuple[str, ...]] = {}
        for spec in args.adapter:
            label, _, path = spec.partition("=")
            variants[f"lifted-{label}"] = variants["lifted"]
            server_args[f"lifted-{label}"] = ("--adapter", str(Path(path).resolve()))
        for name in args.variants.split(","):
            settings = {**variants[name], "diagnostics": {"enabled": False}, "index": {"embeddings": False}}
            root = WORK / "src"  # both projects' unconfigured trees
            completion[name] = completion_run(name, settings, root, holes, warmup, logs / f"completion-{name}.log",
                                              args.request_timeout, minutes_for(args.minutes, name),
                                              server_args.get(name, ()))
            write_results(args, argv, load_before, sources, holes, outline, diagnostics, per_file, completion)
    write_results(args, argv, load_before, sources, holes, outline, diagnostics, per_file, completion)
    return 0


def minutes_for(spec: str, variant: str) -> float:
    """``--minutes`` for one variant: "30" for all, or "default=10,lifted=28" (others: 60)."""
    if "=" not in spec:
        return float(spec)
    given = dict(part.split("=", 1) for part in spec.split(",") if "=" in part)
    return float(given.get(variant, 60))


def write_results(args: argparse.Namespace, argv: list[str] | None, load_before: list[float],
                  sources: list[dict[str, Any]], holes: list[Hole], outline: dict[str, Any],
                  diagnostics: dict[str, Any], per_file: dict[str, Any], completion: dict[str, Any]) -> None:
    """Write the JSON and Markdown results (after each completion variant, so a long run keeps its part)."""
    report = {"command": command_line(argv), "machine": machine(), "load_before": load_before,
              "sources": sources, "seed": args.seed, "holes": len(holes), "outline": outline,
              "diagnostics": diagnostics, "per_file": per_file, "completion": completion}
    markdown = write_markdown(report)
    write_report(args.out, report, markdown)
    print(markdown, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
