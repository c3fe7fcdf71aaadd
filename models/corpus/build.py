"""Build the AArch64 assembly corpus from Debian C sources.

    nice -n 19 python -m models.corpus.build --out models/work/corpus --seed 0

(PYTHONPATH=server, for asm_lsp.syntax.) Projects come from models/corpus/sources.toml;
`--source-dir DIR` uses local directories instead (one project each; tests, offline).
Hand-written assembly (models/corpus/handwritten.py) comes from models/corpus/handwritten.toml
with the config, from `--handwritten-dir DIR` otherwise; `--only-handwritten` builds just that.
Makes, under --out: files.jsonl.gz, functions.jsonl.gz, variants.jsonl.gz, manifest.json,
plus caches (downloads/, src/, asm/) that make a rerun resume where it stopped.
With the config's projects it also writes the summary --summary (default
models/corpus_manifest.json) that the repository commits.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import tomllib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from asm_lsp.model.store import sha256_file
from models.corpus.assemble import ProjectResult, assemble
from models.corpus.compile import (COMPILERS, OPTS, Job, asm_path, discover_tus,
                                   gcc_include_dir, generate_headers, include_dirs, run_job, write_config_h)
from models.corpus.fetch import fetch_package
from models.corpus.handwritten import DEFAULT_CONFIG as HANDWRITTEN_CONFIG
from models.corpus.handwritten import collect as collect_handwritten
from models.corpus.handwritten import load_handwritten, local_spec

DEFAULT_CONFIG = Path(__file__).with_name("sources.toml")
DATA_FILES = ("files.jsonl.gz", "functions.jsonl.gz", "variants.jsonl.gz")


@dataclass
class ProjectSpec:
    name: str
    kind: str
    needs: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    defines: list[str] = field(default_factory=list)
    header_aliases: dict[str, str] = field(default_factory=dict)  # include prefix -> glob
    split: str | None = None  # pinned split; None = drawn with --seed (or train, see assemble)
    local_dir: Path | None = None  # set for --source-dir projects


def load_specs(config: Path) -> list[ProjectSpec]:
    with config.open("rb") as handle:
        data = tomllib.load(handle)
    return [ProjectSpec(name=p["name"], kind=p["kind"], needs=p.get("needs", []),
                        exclude=p.get("exclude", []), defines=p.get("defines", []),
                        header_aliases=p.get("header_aliases", {}), split=p.get("split")) for p in data["project"]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="output and cache directory")
    parser.add_argument("--seed", type=int, default=0, help="seed for TU choice and project split")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="project list (TOML)")
    parser.add_argument("--source-dir", type=Path, action="append", default=[],
                        help="local directory to use as a project (repeatable; replaces --config)")
    parser.add_argument("--only", nargs="*", default=None, help="restrict to these project names")
    parser.add_argument("--handwritten-config", type=Path, default=HANDWRITTEN_CONFIG,
                        help="hand-written assembly projects (TOML), used with --config")
    parser.add_argument("--handwritten-dir", type=Path, action="append", default=[],
                        help="local directory of hand-written .s/.S files as a project (repeatable)")
    parser.add_argument("--no-handwritten", action="store_true", help="compiled C projects only")
    parser.add_argument("--only-handwritten", action="store_true",
                        help="hand-written projects only (summary: models/corpus_handwritten_manifest.json)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel compiles (shared machine: 2)")
    parser.add_argument("--max-tus", type=int, default=40,
                        help="TUs per project; 40 x 10 variants keeps one project < ~15 min")
    parser.add_argument("--max-file-kb", type=int, default=400,
                        help="skip .c files larger than this (amalgamations, generated tables)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per compile")
    parser.add_argument("--summary", type=Path, default=None,
                        help="where to copy the small manifest (default with --config: "
                             "models/corpus_manifest.json; with --source-dir: none)")
    return parser.parse_args(argv)


def _project_sources(spec: ProjectSpec, out: Path) -> tuple[Path, str, str]:
    """(root, version, licence) of `spec`, fetching and unpacking Debian sources once."""
    if spec.local_dir is not None:
        return spec.local_dir.resolve(), "local", "unknown"
    pkg = fetch_package(spec.name, out / "downloads" / spec.name, out / "src" / spec.name)
    return pkg.root, pkg.version, pkg.licence


def compile_project(spec: ProjectSpec, roots: dict[str, Path], out: Path,
                    args: argparse.Namespace, pool: ProcessPoolExecutor,
                    gcc_include: str) -> ProjectResult:
    """Fetch, choose TUs and compile every variant of one project; print its success rates."""
    try:
        root, version, licence = _project_sources(spec, out)
    except Exception as exc:  # a missing package must not stop the other 60
        print(f"{spec.name}: skipped, {exc}", flush=True)
        return ProjectResult(spec.name, spec.kind, "", "", [], error=str(exc)[:500],
                             pinned_split=spec.split)
    roots[spec.name] = root
    tus = discover_tus(root, spec.name, args.seed, args.max_tus, args.max_file_kb * 1024,
                       spec.exclude)
    extra = [roots[n] for n in spec.needs if n in roots]
    gen_dir = out / "gen" / spec.name
    generate_headers(root, gen_dir, out / "config")
    for prefix, pattern in spec.header_aliases.items():
        # What the build would do first: headers reachable as <prefix/x.h>.
        (gen_dir / prefix).mkdir(parents=True, exist_ok=True)
        parent = Path(pattern).parent.name  # filled-in templates from that dir live in gen/
        found = sorted(root.glob(pattern)) + sorted(gen_dir.glob(f"{parent}/{Path(pattern).name}"))
        for header in found:
            target = gen_dir / prefix / header.name
            if header.is_file() and not header.is_symlink() and not target.exists():
                target.write_bytes(header.read_bytes())
    incs = tuple(include_dirs(root, extra, out / "config", gen_dir))
    jobs = [Job(spec.name, root / rel, rel, compiler, incs, tuple(spec.defines),
                out / "asm" / spec.name,
                args.timeout) for rel in tus for compiler in COMPILERS]
    list(pool.map(run_job, jobs, [gcc_include] * len(jobs)))
    result = ProjectResult(spec.name, spec.kind, version, licence, tus, pinned_split=spec.split)
    for compiler in COMPILERS:
        result.ok[compiler] = {opt: sum(asm_path(out / "asm" / spec.name, compiler, opt, rel)
                                        .exists() for rel in tus) for opt in OPTS}
    n = len(tus)
    print(f"{spec.name}: {result.ok['gcc']['O2']}/{n} TUs ok (gcc -O2), "
          f"{result.ok['clang']['O2']}/{n} (clang -O2)  [{version}, {licence}]", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        os.nice(19)  # the machine is shared; no-op if already started under nice -n 19
    except OSError:
        pass
    started = time.time()
    out: Path = args.out.resolve()  # generated headers point at absolute paths
    out.mkdir(parents=True, exist_ok=True)
    if args.source_dir or args.handwritten_dir:
        specs = [ProjectSpec(name=d.resolve().name, kind="local", local_dir=d)
                 for d in args.source_dir]
        handwritten = [local_spec(d) for d in args.handwritten_dir]
        summary = args.summary
    else:
        specs = load_specs(args.config)
        handwritten = load_handwritten(args.handwritten_config)
        summary = args.summary or Path("models/corpus_handwritten_manifest.json" if args.only_handwritten
                                       else "models/corpus_manifest.json")
    if args.only_handwritten:
        specs = []
    if args.no_handwritten:
        handwritten = []
    if args.only is not None:
        specs = [s for s in specs if s.name in args.only]
        handwritten = [h for h in handwritten if h.name in args.only]
    for tool in ("aarch64-linux-gnu-gcc", "clang") if specs else ():
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found; install gcc-aarch64-linux-gnu and clang")
    roots: dict[str, Path] = {}
    results = []
    if specs:
        write_config_h(out / "config")
        gcc_include = gcc_include_dir()
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            results = [compile_project(s, roots, out, args, pool, gcc_include) for s in specs]
    results += [collect_handwritten(h, out) for h in handwritten]
    print(f"sources ready in {time.time() - started:.0f} s; assembling the corpus", flush=True)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        totals = assemble(results, out / "asm", out, args.seed, pool)
    manifest = {
        "command": "python -m models.corpus.build " + " ".join(sys.argv[1:] if argv is None else argv),
        "seed": args.seed, "max_tus": args.max_tus, "max_file_kb": args.max_file_kb,
        "compilers": {"gcc": "aarch64-linux-gnu-gcc", "clang": "clang --target=aarch64-linux-gnu"},
        "opts": list(OPTS), "totals": totals,
        "split_method": ("pinned in sources.toml / handwritten.toml, unpinned -> train"
                         if any(sp.split for sp in [*specs, *handwritten])
                         else f"seeded draw by project (seed {args.seed})"),
        "handwritten": {"compiler": "handwritten", "opt": "src",
                        "projects": [h.name for h in handwritten]},
        "projects": [r.summary() for r in results],
        "data_files": {name: {"bytes": (out / name).stat().st_size,
                              "sha256": sha256_file(out / name)} for name in DATA_FILES},
        "seconds": round(time.time() - started),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    if summary:
        summary.write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"done: {totals['functions']:,} functions, {totals['asm_bytes'] / 1e6:.1f} MB of "
          f"assembly; manifest at {out / 'manifest.json'}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
