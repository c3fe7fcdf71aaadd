"""The corpus builder end to end on three tiny local projects, with the real cross compilers.

Test data: C sources written by `_make_projects` below (alpha, beta, gamma); beta
repeats alpha's shared.c so cross-project dedup has something to drop, gamma has a
TU that cannot compile.
"""
from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

from models.corpus.assemble import split_projects
from models.corpus.build import DEFAULT_CONFIG, load_specs, main
from models.corpus.fetch import UnsafeArchiveError, licence_from_copyright, safe_extract

pytestmark = pytest.mark.compilers

SHARED_C = """\
int shared_mix(int a, int b) { return (a * 31) ^ (b >> 3); }
"""
ALPHA_C = """\
#include <string.h>
int one(void) { return 1; }
long add(long a, long b) { return a + b; }
unsigned count_zeros(const char *s) {
    unsigned n = 0;
    for (size_t i = 0; i < strlen(s); i++) n += s[i] == '0';
    return n;
}
"""
BETA_C = """\
#include <stdint.h>
uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
"""
GAMMA_C = """\
#include "config.h"
#ifdef HAVE_STRING_H
#include <string.h>
#endif
void clear(char *p, int n) { memset(p, 0, n); }
"""
BROKEN_C = "int broken(void) { return undefined_symbol_here; }\n"


def _make_projects(base: Path) -> list[Path]:
    files = {
        "alpha": {"lib.c": ALPHA_C, "shared.c": SHARED_C},
        "beta": {"src/b.c": BETA_C, "src/shared.c": SHARED_C},
        "gamma": {"g.c": GAMMA_C, "broken.c": BROKEN_C},
    }
    dirs = []
    for project, sources in files.items():
        for rel, text in sources.items():
            path = base / project / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        dirs.append(base / project)
    return dirs


def _read(path: Path) -> list[dict]:
    with gzip.open(path, "rt") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("corpus")
    dirs = _make_projects(base / "projects")
    out = base / "out"
    argv = ["--out", str(out), "--seed", "0", "--jobs", "2"]
    for d in dirs:
        argv += ["--source-dir", str(d)]
    assert main(argv) == 0
    return out


def test_outputs_and_success_rates(corpus: Path) -> None:
    manifest = json.loads((corpus / "manifest.json").read_text())
    rows = {p["name"]: p for p in manifest["projects"]}
    assert sorted(rows) == ["alpha", "beta", "gamma"]
    every_level = {"O0": 2, "O1": 2, "O2": 2, "O3": 2, "Os": 2}
    assert rows["alpha"]["tus_ok"] == {"gcc": every_level, "clang": every_level}
    # gamma: g.c compiles (generated config.h), broken.c fails and is skipped.
    half = {"O0": 1, "O1": 1, "O2": 1, "O3": 1, "Os": 1}
    assert rows["gamma"]["tus_ok"] == {"gcc": half, "clang": half}
    files = _read(corpus / "files.jsonl.gz")
    assert len(files) == 10 * (2 + 2 + 1)
    assert not any(f["path"] == "broken.c" for f in files)
    assert (corpus / "asm/gamma/gcc/O0/broken.c.fail").read_text().strip()
    for name, info in manifest["data_files"].items():
        assert (corpus / name).stat().st_size == info["bytes"]


def test_functions_are_deduplicated(corpus: Path) -> None:
    functions = _read(corpus / "functions.jsonl.gz")
    assert len({f["id"] for f in functions}) == len(functions)
    assert len({f["sha256_normalized"] for f in functions}) == len(functions)
    # shared.c is in alpha and beta: each of its variants is kept in one project only.
    assert len({f["project"] for f in functions if f["name"] == "shared_mix"}) == 1
    # `return 1` is the same code at -O1..-O3 for one compiler: fewer than 10 kept.
    assert 2 <= sum(f["name"] == "one" for f in functions) < 10
    for f in functions:
        assert f["text"].count("\n") == f["end_line"] - f["start_line"]


def test_split_is_by_project(corpus: Path) -> None:
    split_of: dict[str, set[str]] = defaultdict(set)
    for name in ("files.jsonl.gz", "functions.jsonl.gz", "variants.jsonl.gz"):
        for record in _read(corpus / name):
            split_of[record["project"]].add(record["split"])
    assert all(len(splits) == 1 for splits in split_of.values()), split_of
    assert sorted(s for (s,) in split_of.values()) == ["test", "train", "valid"]


def test_variants_recorded(corpus: Path) -> None:
    variants = {(v["project"], v["source"], v["name"]): v["variants"]
                for v in _read(corpus / "variants.jsonl.gz")}
    add = variants[("alpha", "lib.c", "add")]
    assert sorted((v["compiler"], v["opt"]) for v in add) == sorted(
        (c, o) for c in ("gcc", "clang") for o in ("O0", "O1", "O2", "O3", "Os"))
    kept_ids = {f["id"] for f in _read(corpus / "functions.jsonl.gz")}
    assert all(v["id"] in kept_ids for vs in variants.values() for v in vs)


def test_rerun_is_cached(corpus: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in (corpus / "asm").rglob("*.s")}
    projects = sorted(p for p in (corpus.parent / "projects").iterdir())
    argv = ["--out", str(corpus), "--seed", "0"]
    for d in projects:
        argv += ["--source-dir", str(d)]
    assert main(argv) == 0
    assert {p: p.stat().st_mtime_ns for p in (corpus / "asm").rglob("*.s")} == before


def test_split_projects_spreads_test_over_kinds() -> None:
    kinds = ["compression", "crypto", "parser", "math", "network", "system"]
    projects = [(f"p{i}", kinds[i % len(kinds)]) for i in range(45)]
    splits = split_projects(projects, seed=0)
    assert splits == split_projects(list(reversed(projects)), seed=0)
    test = [name for name, split in splits.items() if split == "test"]
    assert len(test) >= 4
    assert len({dict(projects)[name] for name in test}) >= 4
    assert sum(split == "valid" for split in splits.values()) >= 4


def test_config_pins_held_out_projects_of_several_kinds() -> None:
    specs = load_specs(DEFAULT_CONFIG)  # Test data: models/corpus/sources.toml
    assert len(specs) >= 40 and len({s.name for s in specs}) == len(specs)
    assert {s.split for s in specs} == {None, "test", "valid"}
    test_kinds = {s.kind for s in specs if s.split == "test"}
    assert len(test_kinds) >= 4


def _tar_with(member: str, tmp: Path) -> Path:
    archive = tmp / "bad.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        ok = tarfile.TarInfo("pkg/ok.c")
        ok.size = 3
        tar.addfile(ok, io.BytesIO(b"x;\n"))
        evil = tarfile.TarInfo(member)
        evil.size = 4
        tar.addfile(evil, io.BytesIO(b"pwn\n"))
    return archive


@pytest.mark.parametrize("member", ["pkg/../../evil.c", "/tmp/corpus-test-evil.c"])
def test_extraction_rejects_path_traversal(tmp_path: Path, member: str) -> None:
    archive = _tar_with(member, tmp_path)
    dest = tmp_path / "dest" / "inner"
    with pytest.raises(UnsafeArchiveError):
        safe_extract(archive, dest)
    assert not (tmp_path / "dest" / "evil.c").exists()
    assert not (dest / "pkg" / "ok.c").exists()  # checked before anything is written
    assert not Path("/tmp/corpus-test-evil.c").exists()


def test_licence_from_copyright() -> None:
    text = ("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
            "Upstream-Name: zlib\n\nFiles: *\nCopyright: 1995 Jean-loup Gailly\n"
            "License: Zlib\n\nFiles: debian/*\nLicense: GPL-2+\n")
    assert licence_from_copyright(text) == "Zlib"
    assert licence_from_copyright("no licence here") == "unknown"
    free_form = ("License:\n\nPermission is hereby granted, free of charge, to any person...\n"
                 "see the GNU General Public License for tools/\n")
    assert licence_from_copyright(free_form) == "guessed: MIT"
