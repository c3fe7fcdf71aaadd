"""Turn compiled assembly into the corpus files: split by project, split into functions, dedup.

Writes under OUT:
    files.jsonl.gz      one record per assembly file (full text, for fill-in-the-middle context)
    functions.jsonl.gz  one record per kept function (deduplicated across the whole corpus)
    variants.jsonl.gz   (project, source, function) -> its (compiler, opt) variants and ids
"""
from __future__ import annotations

import gzip
import hashlib
import json
import random
from collections import defaultdict
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

from asm_lsp.syntax import normalize_function, split_functions

from models.corpus.compile import COMPILERS, OPTS, asm_path

SPLITS = ("test", "valid", "train")


@dataclass
class ProjectResult:
    """What one project contributed; becomes a row of the manifest."""
    name: str
    kind: str
    version: str
    licence: str
    tus: list[str]
    split: str = ""
    error: str = ""
    pinned_split: str | None = None  # from sources.toml
    ok: dict[str, dict[str, int]] = field(default_factory=dict)   # compiler -> opt -> TUs ok
    files: int = 0
    asm_bytes: int = 0
    functions_seen: int = 0
    functions: int = 0        # kept after dedup
    function_bytes: int = 0   # bytes of kept function text
    root: str = ""            # hand-written projects: the unpacked tree
    sources: list[str] = field(default_factory=list)  # hand-written projects: their files, relative to root

    def summary(self) -> dict:
        return {
            "name": self.name, "kind": self.kind, "version": self.version,
            "licence": self.licence, "split": self.split, "error": self.error,
            "tus_tried": len(self.tus), "tus_ok": self.ok, "files": self.files,
            "asm_bytes": self.asm_bytes, "functions_seen": self.functions_seen,
            "functions": self.functions, "function_bytes": self.function_bytes,
            **({"handwritten_files": len(self.sources)} if self.sources else {}),
        }


def split_projects(projects: list[tuple[str, str]], seed: int) -> dict[str, str]:
    """Assign each (name, kind) to test/valid/train, ~10/10/80 by project, never by function.

    With 12+ projects the test split takes at least 4 projects of 4 different kinds
    so that the held-out score is not about one kind of code.
    """
    names = sorted(projects)
    rng = random.Random(seed)
    n = len(names)
    if n >= 12:
        n_test, n_valid = max(4, round(0.1 * n)), max(1, round(0.1 * n))
    elif n >= 3:
        n_test, n_valid = 1, 1
    else:
        n_test, n_valid = n - 1, 0
    by_kind: dict[str, list[str]] = defaultdict(list)
    for name, kind in names:
        by_kind[kind].append(name)
    kinds = sorted(by_kind)
    rng.shuffle(kinds)
    test: list[str] = []
    for kind in kinds[:n_test]:
        test.append(rng.choice(by_kind[kind]))
    rest = [name for name, _ in names if name not in test]
    rng.shuffle(rest)
    test += rest[: n_test - len(test)]
    rest = [name for name in rest if name not in test]
    valid = rest[:n_valid]
    return {name: ("test" if name in test else "valid" if name in valid else "train")
            for name, _ in names}


def _id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class SplitFunction:
    name: str
    start_line: int
    end_line: int
    text: str
    sha_exact: str
    sha_normalized: str


def analyse(path: Path) -> tuple[str, list[SplitFunction]]:
    """Read one assembly file and split it into hashed functions (runs in a worker)."""
    text = path.read_text(errors="replace")
    return text, [SplitFunction(fn.name, fn.start_line, fn.end_line, fn.text, _sha(fn.text),
                                _sha(normalize_function(fn.text, fn.name)))
                  for fn in split_functions(text)]


def assemble(results: list[ProjectResult], asm_root: Path, out: Path, seed: int,
             pool: Executor | None = None) -> dict:
    """Write the three corpus files from the cached assembly; return the totals.

    Splitting and normalising is the slow part (pure Python parsing), so it runs in
    `pool`; dedup and writing stay here, in a fixed order, so output is reproducible.
    """
    from models.corpus.handwritten import COMPILER, OPT, analyse_handwritten

    usable = [r for r in results if not r.error and (r.sources or any(
        n for per_opt in r.ok.values() for n in per_opt.values()))]
    if any(r.pinned_split for r in results):
        # Pinned in the config: a project never changes split between builds.
        splits = {r.name: r.pinned_split or "train" for r in usable}
    else:
        splits = split_projects([(r.name, r.kind) for r in usable], seed)
    for r in results:
        r.split = splits.get(r.name, "")
    # Held-out projects go first so that a function shared with train (gnulib, vendored
    # code) stays in test/valid and is dropped from train: no leak across splits.
    ordered = sorted(usable, key=lambda r: (SPLITS.index(r.split), r.name))
    seen_exact: set[str] = set()
    seen_norm: dict[str, str] = {}  # sha of normalised text -> id of the kept function
    totals = {s: {"projects": 0, "files": 0, "functions": 0, "function_bytes": 0,
                  "asm_bytes": 0} for s in SPLITS}
    dups = {"exact": 0, "normalized": 0}
    tmp_names = {name: out / (name + ".tmp") for name in
                 ("files.jsonl.gz", "functions.jsonl.gz", "variants.jsonl.gz")}
    with gzip.open(tmp_names["files.jsonl.gz"], "wt") as files_out, \
            gzip.open(tmp_names["functions.jsonl.gz"], "wt") as funcs_out:
        variants: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
        for r in ordered:
            totals[r.split]["projects"] += 1
            outputs = [(rel, compiler, opt, asm_path(asm_root / r.name, compiler, opt, rel))
                             for rel in r.tus for compiler in COMPILERS for opt in OPTS]
            # Hand-written projects: the upstream files themselves, one "variant" each.
            outputs += [(rel, COMPILER, OPT, Path(r.root) / rel) for rel in r.sources]
            outputs = [v for v in outputs if v[3].exists()]
            paths = [v[3] for v in outputs]
            analyser = analyse_handwritten if r.sources else analyse
            analysed = pool.map(analyser, paths, chunksize=4) if pool else map(analyser, paths)
            for (rel, compiler, opt, _), (text, split_fns) in zip(outputs, analysed):
                file_id = _id(r.name, rel, compiler, opt)
                files_out.write(json.dumps({
                    "id": file_id, "project": r.name, "split": r.split, "path": rel,
                    "compiler": compiler, "opt": opt, "text": text}) + "\n")
                r.files += 1
                r.asm_bytes += len(text.encode())
                for fn in split_fns:
                    r.functions_seen += 1
                    exact, norm = fn.sha_exact, fn.sha_normalized
                    key = (r.name, rel, fn.name)
                    if norm in seen_norm:
                        dups["exact" if exact in seen_exact else "normalized"] += 1
                        variants[key].append({"compiler": compiler, "opt": opt,
                                              "id": seen_norm[norm], "duplicate": True})
                        continue
                    fid = _id(r.name, rel, compiler, opt, fn.name)
                    seen_exact.add(exact)
                    seen_norm[norm] = fid
                    variants[key].append({"compiler": compiler, "opt": opt,
                                          "id": fid, "duplicate": False})
                    funcs_out.write(json.dumps({
                        "id": fid, "file_id": file_id, "project": r.name,
                        "split": r.split, "source": rel, "compiler": compiler,
                        "opt": opt, "name": fn.name, "start_line": fn.start_line,
                        "end_line": fn.end_line, "sha256_normalized": norm,
                        "text": fn.text}) + "\n")
                    r.functions += 1
                    r.function_bytes += len(fn.text.encode())
            t = totals[r.split]
            t["files"] += r.files
            t["functions"] += r.functions
            t["function_bytes"] += r.function_bytes
            t["asm_bytes"] += r.asm_bytes
            print(f"{r.name} [{r.split}]: {r.files:,} asm files, {r.functions:,} functions kept "
                  f"of {r.functions_seen:,}, {r.asm_bytes / 1e6:.1f} MB", flush=True)
    with gzip.open(tmp_names["variants.jsonl.gz"], "wt") as var_out:
        for (project, source, name), entries in sorted(variants.items()):
            var_out.write(json.dumps({"project": project, "split": splits[project],
                                      "source": source, "name": name,
                                      "variants": entries}) + "\n")
    for name, tmp in tmp_names.items():
        tmp.replace(out / name)
    for split in SPLITS:
        t = totals[split]
        print(f"{split} has {t['functions']:,} functions from {t['projects']} projects, "
              f"{t['function_bytes'] / 1e6:.1f} MB of function text, "
              f"{t['asm_bytes'] / 1e6:.1f} MB of assembly", flush=True)
    print(f"dropped duplicates: {dups['exact']:,} exact, {dups['normalized']:,} "
          f"whitespace/label-normalised", flush=True)
    return {"splits": totals, "duplicates_dropped": dups,
            "variant_keys": len(variants),
            "asm_bytes": sum(t["asm_bytes"] for t in totals.values()),
            "functions": sum(t["functions"] for t in totals.values())}
