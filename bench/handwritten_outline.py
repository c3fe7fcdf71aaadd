"""Outline coverage on real hand-written AArch64 projects: functions listed out of functions defined.

    python -m bench.handwritten_outline        # writes bench/results/handwritten_outline.{json,md}

Sources: Debian source packages (bookworm), fetched and unpacked by models/corpus/fetch.py
into bench/work/handwritten/ (nothing from them is run). Files: the `.S`/`.s` files under an
`aarch64`, `arm64` or `arm/64` folder, unmodified.

Defined functions (the truth): each file is assembled on its own by the cross gcc
(`-x assembler-with-cpp`, the project's include folders, and a `config.h` holding the few
configuration macros these sources test, listed in CONFIGS) and `readelf` lists its
`FUNC` symbols. A symbol counts as listed when the outline of the project has a function
of that name, or of that name less the project's symbol prefix (dav1d's `dav1d_`, x264's
`x264_8_`: `function NAME` writes NAME, the macro adds the prefix). Files that do not
assemble alone (templates included by others) are listed; their functions are counted
in the files that include them.

Outline: every asm file of the project is parsed and put in one WorkspaceIndex (so a
macro from the project's asm.S reaches the files that include it), then each file's
outline is `features.symbols.document_symbols` (what textDocument/documentSymbol answers):
its Function symbols. With --baseline DIR (a `server/` folder of another revision, such as
/work/main/server) the same outline is taken from that code too, in a subprocess, side by side.

glibc cannot be assembled outside its build; its truth is textual instead: the names in
`ENTRY (name)`/`ENTRY_ALIGN (name, …)` lines (grep, independent of the parser), and it
is reported apart.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, write_report

WORK = ROOT / "bench" / "work" / "handwritten"
RESULTS = ROOT / "bench" / "results"
ASM_DIRS = re.compile(r"(?:^|/)(?:aarch64|arm64|arm/64)(?:/|$)")

#: config.h contents for each project: the macros its AArch64 sources test.
CONFIGS = {
    "ffmpeg": "#define EXTERN_ASM\n#define HAVE_SECTION_DATA_REL_RO 1\n#define HAVE_AS_FUNC 0\n#define HAVE_AS_ARCH_DIRECTIVE 0\n#define CONFIG_PIC 1\n#define HAVE_DOTPROD 1\n"
              "#define HAVE_I8MM 1\n#define HAVE_AS_DN_DIRECTIVE 0\n#define HAVE_AS_ARCHEXT_DOTPROD_DIRECTIVE 0\n"
              "#define HAVE_AS_ARCHEXT_I8MM_DIRECTIVE 0\n",
    "x264": "#define HAVE_AS_FUNC 0\n#define HIGH_BIT_DEPTH 0\n#define BIT_DEPTH 8\n#define HAVE_DOTPROD 0\n",
    "dav1d": "#define ARCH_AARCH64 1\n#define ARCH_ARM 0\n#define HAVE_AS_FUNC 0\n#define CONFIG_8BPC 1\n"
             "#define CONFIG_16BPC 1\n#define PIC 1\n",
    "libjpeg-turbo": "#define NEON_INTRINSICS 0\n",
}
#: Symbol prefixes the projects' function macros add to the name written in the source.
PREFIXES = ("dav1d_", "x264_8_", "x264_", "_")
ENTRY = re.compile(r"^\s*(?:ENTRY|ENTRY_ALIGN|ENTRY_ALIGN_AND_PAD|ENTRY_CHK)\s*\(\s*([A-Za-z_.$][\w.$]*)", re.M)


def asm_files(root: Path) -> list[Path]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.suffix in (".S", ".s") and path.is_file() and ASM_DIRS.search(path.relative_to(root).as_posix()):
            found.append(path)
    return found


def defined_functions(project: str, root: Path, files: list[Path]) -> tuple[set[str], list[str]]:
    """FUNC symbols of every file that assembles alone, and the files that do not."""
    truth: set[str] = set()
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.h"
        config.write_text(CONFIGS.get(project, ""))
        includes = [tmp, str(root), str(root / "src"), str(root / "common"), str(root / "simd"),
                    str(root / "simd" / "arm"), str(root / "simd" / "arm" / "aarch64")]
        for path in files:
            obj = Path(tmp) / "out.o"
            cmd = ["aarch64-linux-gnu-gcc", "-c", "-x", "assembler-with-cpp", "-DPIC", "-I", str(path.parent),
                   *[f"-I{d}" for d in includes], "-include", str(config), str(path), "-o", str(obj)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                failed.append(str(path.relative_to(root)))
                continue
            out = subprocess.run(["readelf", "-sW", str(obj)], capture_output=True, text=True).stdout
            for line in out.splitlines():
                cols = line.split()
                if len(cols) >= 8 and cols[3] == "FUNC":
                    truth.add(cols[7])
    return truth, failed


def outline_functions(files: list[Path]) -> tuple[dict[str, set[str]], float]:
    """Function names of each file's documentSymbol, with the project in one index; and
    the seconds that took (parse + index + outline)."""
    from asm_lsp.features.symbols import document_symbols
    from asm_lsp.workspace.index import WorkspaceIndex, read_text
    from asm_lsp.syntax import parse
    from lsprotocol import types

    start = time.perf_counter()
    index = WorkspaceIndex()
    for path in files:
        index.put(path.as_uri(), parse(read_text(path)))
    found = {}
    for path in files:
        doc = index.get(path.as_uri())
        found[str(path)] = {s.name for s in document_symbols(doc) if s.kind == types.SymbolKind.Function}
    return found, time.perf_counter() - start


def baseline_functions(server: Path, files: list[Path]) -> set[str]:
    """The outline's function names from another revision's ``server/`` folder."""
    code = ("import json, sys; from pathlib import Path;"
            "from bench.handwritten_outline import outline_functions;"
            "found, _ = outline_functions([Path(p) for p in sys.argv[1:]]);"
            "print(json.dumps(sorted(set().union(*found.values()))))")
    # asm_lsp from the other revision's server/, bench from this tree
    out = subprocess.run([sys.executable, "-c", code, *map(str, files)], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join([str(server), str(ROOT)])}).stdout
    return set(json.loads(out))


def listed(symbol: str, names: set[str]) -> bool:
    return symbol in names or any(symbol.startswith(p) and symbol[len(p):] in names for p in PREFIXES)


def measure(project: str, root: Path, baseline: Path | None = None) -> dict:
    files = asm_files(root)
    outline, seconds = outline_functions(files)
    names = set().union(*outline.values()) if outline else set()
    if project == "glibc":
        truth = {m.group(1) for path in files for m in ENTRY.finditer(path.read_text(errors="replace"))}
        failed: list[str] = []
        basis = "ENTRY lines (textual)"
    else:
        truth, failed = defined_functions(project, root, files)
        basis = "FUNC symbols of the assembled files"
    missing = sorted(s for s in truth if not listed(s, names))
    extra = sorted(n for n in names if not any(listed(s, {n}) for s in truth))
    before = None
    if baseline is not None:
        old_names = baseline_functions(baseline, files)
        before = sum(1 for t in truth if listed(t, old_names))
    return {
        "project": project, "files": len(files), "truth_basis": basis, "not_assembled": failed,
        "baseline_listed": before,
        "defined": len(truth), "listed": len(truth) - len(missing),
        "coverage": round((len(truth) - len(missing)) / len(truth), 4) if truth else None,
        "missing": missing[:40], "outline_not_in_truth": len(extra), "outline_not_in_truth_sample": extra[:20],
        "outline_seconds": round(seconds, 3),
    }


def fetch(projects: list[str]) -> dict[str, Path]:
    from models.corpus.fetch import fetch_package

    roots = {}
    for name in projects:
        try:
            package = fetch_package(name, WORK / "downloads" / name, WORK / "src" / name)
        except Exception as exc:  # noqa: BLE001 - report, measure the others
            print(f"{name}: not fetched: {exc}", file=sys.stderr)
            continue
        print(f"{name} {package.version}: {package.root}", flush=True)
        roots[name] = package.root
    return roots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", default="ffmpeg,x264,dav1d,libjpeg-turbo,glibc",
                        help="Debian source packages to measure, comma-separated")
    parser.add_argument("--out", type=Path, default=RESULTS / "handwritten_outline",
                        help="result path without suffix (.json and .md are written)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a server/ folder of another revision to measure side by side (e.g. /work/main/server)")
    args = parser.parse_args()
    roots = fetch(args.projects.split(","))
    report = {"load": os.getloadavg(), "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
              "projects": []}
    for name, root in roots.items():
        result = measure(name, root, args.baseline)
        print(json.dumps({k: v for k, v in result.items() if not isinstance(v, list)}), flush=True)
        report["projects"].append(result)
    assembled = [p for p in report["projects"] if p["truth_basis"].startswith("FUNC")]
    defined = sum(p["defined"] for p in assembled)
    listed_ = sum(p["listed"] for p in assembled)
    report["total"] = {"defined": defined, "listed": listed_, "coverage": round(listed_ / defined, 4) if defined else None}
    if args.baseline is not None:
        before = sum(p["baseline_listed"] for p in assembled)
        report["total"]["baseline_listed"] = before
        report["baseline"] = str(args.baseline)
    lines = ["# Outline coverage on hand-written AArch64 projects", "",
             f"`python -m bench.handwritten_outline` — {report['uptime']}", "",
             "| project | files | functions defined | listed in the outline | coverage | baseline listed | truth | outline extra |",
             "|---|---:|---:|---:|---:|---:|---|---:|"]
    for p in report["projects"]:
        cov = f"{p['coverage']:.1%}" if p["coverage"] is not None else "–"
        base = "–" if p["baseline_listed"] is None else str(p["baseline_listed"])
        lines.append(f"| {p['project']} | {p['files']} | {p['defined']} | {p['listed']} | {cov} | {base} | {p['truth_basis']} "
                     f"| {p['outline_not_in_truth']} |")
    total = report["total"]
    if total["coverage"] is not None:
        lines += ["", f"Assembled projects together: {total['listed']} of {total['defined']} functions listed "
                      f"({total['coverage']:.1%}; goal ≥ 95 %)."]
        if "baseline_listed" in total:
            lines += ["", f"Baseline ({report['baseline']}): {total['baseline_listed']} of {total['defined']} "
                          f"({total['baseline_listed'] / total['defined']:.1%})."]
    lines += ["", "outline extra: outline functions that are no FUNC symbol of an assembled file (functions in "
                  "files that do not assemble alone, or in `#if` branches this configuration leaves out)."]
    for p in report["projects"]:
        if p["missing"]:
            lines += ["", f"{p['project']}, not listed: " + ", ".join(f"`{m}`" for m in p["missing"][:20])]
        if p["not_assembled"]:
            lines += ["", f"{p['project']}, files that do not assemble alone ({len(p['not_assembled'])}): "
                          + ", ".join(f"`{f}`" for f in p["not_assembled"][:12])]
    write_report(args.out, report, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
