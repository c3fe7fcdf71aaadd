"""Hand-written AArch64 assembly from Debian source packages, for the corpus.

    nice -n 19 python -m models.corpus.build --out models/work/corpus --seed 0          # C corpus + these
    nice -n 19 python -m models.corpus.build --out models/work/corpus_hw --only-handwritten
        # just these; writes the summary models/corpus_handwritten_manifest.json

(PYTHONPATH=server.) Projects come from models/corpus/handwritten.toml; `--handwritten-dir
DIR` uses local folders instead (tests, offline; every .s/.S file in them). Upstream files
go in as they are, one record per file (compiler "handwritten", opt "src"), split by
project like the compiled corpus; dav1d and x264 are pinned to test because
bench/handwritten.py measures on them. Nothing from the packages is run.

Functions: what ``asm_lsp.syntax.split_functions`` finds (the one splitter serving and
training share, macro-defined functions included once the syntax layer knows them); the
code it leaves out (macro bodies, functions it does not recognise) is cut into regions
at blank lines, so that every instruction can be a training hole.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from asm_lsp.syntax import normalize_function, parse, split_functions

from models.corpus.assemble import ProjectResult, SplitFunction, _sha
from models.corpus.fetch import fetch_package

DEFAULT_CONFIG = Path(__file__).with_name("handwritten.toml")
COMPILER, OPT = "handwritten", "src"
MAX_FILE_BYTES = 512 * 1024  # bigger .S files are generated tables, not code someone wrote
REGION_LINES = 80  # a region is cut at a blank line once it is this long (~ one long function)
MIN_REGION_INSTRUCTIONS = 3  # fewer: not worth a hole (a stray .align, a lone ret)


@dataclass
class HandwrittenSpec:
    name: str
    kind: str
    files: list[str]
    exclude: list[str] = field(default_factory=list)
    split: str | None = None
    max_files: int = 1000
    local_dir: Path | None = None


def load_handwritten(config: Path = DEFAULT_CONFIG) -> list[HandwrittenSpec]:
    with config.open("rb") as handle:
        data = tomllib.load(handle)
    return [HandwrittenSpec(name=p["name"], kind=p["kind"], files=p["files"], exclude=p.get("exclude", []),
                            split=p.get("split"), max_files=p.get("max_files", 1000)) for p in data["project"]]


def local_spec(directory: Path) -> HandwrittenSpec:
    return HandwrittenSpec(name=directory.resolve().name, kind="local", files=["**/*.s", "**/*.S"],
                           local_dir=directory.resolve())


def find_sources(root: Path, spec: HandwrittenSpec) -> list[str]:
    """The spec's files under ``root`` (relative POSIX paths, sorted): plain files inside the
    tree, not excluded, not over MAX_FILE_BYTES; at most ``max_files`` (the first in order)."""
    found: set[str] = set()
    resolved_root = root.resolve()
    for pattern in spec.files:
        for path in root.glob(pattern):
            if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
                continue
            if resolved_root not in path.resolve().parents:
                continue
            rel = path.relative_to(root)
            if any(rel.match(glob) or str(rel).startswith(glob.rstrip("*")) for glob in spec.exclude):
                continue
            found.add(rel.as_posix())
    return sorted(found)[: spec.max_files]


def collect(spec: HandwrittenSpec, out: Path) -> ProjectResult:
    """Fetch (once) and list one project's hand-written files; print how many."""
    try:
        if spec.local_dir is not None:
            root, version, licence = spec.local_dir, "local", "unknown"
        else:
            package = fetch_package(spec.name, out / "downloads" / spec.name, out / "src" / spec.name)
            root, version, licence = package.root, package.version, package.licence
    except Exception as exc:  # one missing package must not stop the others
        print(f"{spec.name}: skipped, {exc}", flush=True)
        return ProjectResult(spec.name, f"handwritten:{spec.kind}", "", "", [], error=str(exc)[:500],
                             pinned_split=spec.split)
    sources = find_sources(root, spec)
    size = sum((root / rel).stat().st_size for rel in sources)
    print(f"{spec.name}: {len(sources)} hand-written files, {size / 1e6:.2f} MB  [{version}, {licence}]",
          flush=True)
    return ProjectResult(spec.name, f"handwritten:{spec.kind}", version, licence, [], pinned_split=spec.split,
                         root=str(root), sources=sources)


def regions(lines: list[str], covered: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """0-based inclusive line spans outside ``covered``, cut at blank lines once REGION_LINES
    long, that hold at least MIN_REGION_INSTRUCTIONS instructions."""
    inside = [False] * len(lines)
    for start, end in covered:
        for i in range(max(0, start), min(len(lines), end + 1)):
            inside[i] = True
    doc = parse("\n".join(lines))
    instruction_lines = {s.line for s in doc.statements if s.kind == "instruction"}
    spans: list[tuple[int, int]] = []
    start = None
    for i, text in enumerate(lines + [""]):
        blocked = i == len(lines) or inside[i]
        if start is None:
            if not blocked and text.strip():
                start = i
            continue
        long_enough = i - start >= REGION_LINES and not text.strip()
        if blocked or long_enough:
            end = i - 1
            while end > start and not lines[end].strip():
                end -= 1
            spans.append((start, end))
            start = None if blocked or not text.strip() else i
    return [(s, e) for s, e in spans if sum(s <= n <= e for n in instruction_lines) >= MIN_REGION_INSTRUCTIONS]


def analyse_handwritten(path: Path) -> tuple[str, list[SplitFunction]]:
    """Read one hand-written file: its functions, then regions of the code they leave out."""
    text = path.read_text(errors="replace")
    functions = [SplitFunction(fn.name, fn.start_line, fn.end_line, fn.text, _sha(fn.text),
                               _sha(normalize_function(fn.text, fn.name))) for fn in split_functions(text)]
    lines = text.split("\n")
    for start, end in regions(lines, [(f.start_line, f.end_line) for f in functions]):
        body = "\n".join(lines[start:end + 1])
        functions.append(SplitFunction(f"{path.name}:{start + 1}", start, end, body, _sha(body),
                                       _sha(normalize_function(body))))
    functions.sort(key=lambda f: f.start_line)
    return text, functions
