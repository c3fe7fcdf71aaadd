"""Hand-written assembly in the corpus builder, offline, on local folders.

Test data: tests/fixtures/handwritten/libfoo/ (FFmpeg-style `function` macros, see the README
there), copied as a project of its own, and
a glibc-style project written below (ENTRY/END macros, a plain global label), each a
project of its own (`--handwritten-dir`).
"""
from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

from asm_lsp.syntax import parse
from models.corpus.build import main
from models.corpus.handwritten import HandwrittenSpec, find_sources, load_handwritten, regions

FIXTURE = Path(__file__).parent / "fixtures" / "handwritten"
MEMZERO_S = """\
#include <sysdep.h>

/* void memzero (void *dst, size_t n), n a multiple of 16 */
ENTRY (memzero)
\tmovi\tv0.16b, #0
1:\tsubs\tx1, x1, #16
\tst1\t{v0.16b}, [x0], #16
\tb.gt\t1b
\tret
END (memzero)

\t.globl\tcount_bytes
count_bytes:
\tmov\tx2, #0
2:\tldrb\tw3, [x0], #1
\tadd\tx2, x2, #1
\tcbnz\tw3, 2b
\tmov\tx0, x2
\tret
"""


def _read(path: Path) -> list[dict]:
    with gzip.open(path, "rt") as handle:
        return [json.loads(line) for line in handle]


def test_handwritten_projects_end_to_end(tmp_path: Path):
    libc = tmp_path / "tinylibc"
    (libc / "sysdeps" / "aarch64").mkdir(parents=True)
    (libc / "sysdeps" / "aarch64" / "memzero.S").write_text(MEMZERO_S)
    (libc / "sysdeps" / "aarch64" / "notes.txt").write_text("not assembly\n")
    ffstyle = tmp_path / "handwritten"
    shutil.copytree(FIXTURE / "libfoo", ffstyle / "libfoo")
    out = tmp_path / "out"
    summary = tmp_path / "summary.json"
    assert main(["--out", str(out), "--handwritten-dir", str(ffstyle), "--handwritten-dir", str(libc),
                 "--summary", str(summary)]) == 0
    files = _read(out / "files.jsonl.gz")
    assert sorted((f["project"], f["path"], f["compiler"], f["opt"]) for f in files) == [
        ("handwritten", "libfoo/aarch64/asm.S", "handwritten", "src"),
        ("handwritten", "libfoo/aarch64/dsp_neon.S", "handwritten", "src"),
        ("tinylibc", "sysdeps/aarch64/memzero.S", "handwritten", "src")]
    roots = {"handwritten": ffstyle, "tinylibc": libc}
    assert all(f["text"] == (roots[f["project"]] / f["path"]).read_text() for f in files)
    functions = _read(out / "functions.jsonl.gz")
    # Every instruction line of a file with code sits in a function or region of it.
    for f in files:
        spans = [(fn["start_line"], fn["end_line"]) for fn in functions if fn["file_id"] == f["id"]]
        doc = parse(f["text"])
        code = {s.line for s in doc.statements if s.kind == "instruction"
                and not any(d.line <= s.line for d in doc.statements if d.name == ".macro")}
        assert all(any(a <= line <= b for a, b in spans) for line in code), f["path"]
        for fn in functions:
            if fn["file_id"] == f["id"]:
                assert fn["text"] == "\n".join(f["text"].split("\n")[fn["start_line"]:fn["end_line"] + 1])
    # Split by project: two local projects -> one held out, one trained on; never mixed.
    splits = {(r["project"], r["split"]) for name in ("files.jsonl.gz", "functions.jsonl.gz")
              for r in _read(out / name)}
    assert sorted(s for _, s in splits) == ["test", "train"]
    manifest = json.loads(summary.read_text())
    rows = {p["name"]: p for p in manifest["projects"]}
    assert rows["tinylibc"]["handwritten_files"] == 1 and rows["tinylibc"]["kind"] == "handwritten:local"
    assert manifest["totals"]["functions"] == len(functions)


def test_regions_cover_code_outside_functions():
    lines = ["// c", "\tnop", "\tnop", "\tnop", "", "f:", "\tret", "", "\tadd x0, x0, #1", "\tret"]
    assert regions(lines, [(5, 6)]) == [(0, 3)]  # the last block has 2 instructions: no hole worth it


def test_config_holds_out_the_benchmark_projects(tmp_path: Path):
    specs = {s.name: s for s in load_handwritten()}  # Test data: models/corpus/handwritten.toml
    assert {n for n, s in specs.items() if s.split == "test"} == {"dav1d", "x264"}
    assert "ffmpeg" in specs and specs["ffmpeg"].split is None
    (tmp_path / "a" / "aarch64").mkdir(parents=True)
    for name in ("x.S", "y.S", "big.S"):
        (tmp_path / "a" / "aarch64" / name).write_text("\tnop\n" * (200_000 if name == "big.S" else 1))
    (tmp_path / "tools" / "aarch64").mkdir(parents=True)
    (tmp_path / "tools" / "aarch64" / "t.S").write_text("\tnop\n")
    spec = HandwrittenSpec("p", "k", ["**/aarch64/*.S"], exclude=["tools/*"], max_files=1)
    assert find_sources(tmp_path, spec) == ["a/aarch64/x.S"]
