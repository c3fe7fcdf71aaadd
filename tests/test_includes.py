"""Includes: compile_commands.json (read, never run), the include search, and what the
assembler check makes of a file whose includes cannot all be found.

Test data: tests/fixtures/handwritten/ (libfoo/aarch64/dsp_neon.S includes
libfoo/aarch64/asm.S from the project root; asm.S includes the build's config.h), copied to
a temporary folder; ``configured()`` adds build/config.h and build/compile_commands.json
as meson would write them.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from asm_lsp.assembler import AssembleResult, assemble, find_assembler, insertion_assembles
from asm_lsp.workspace.compile_commands import (CompileFlags, find_databases, flags_from_arguments,
                                                load_database)
from asm_lsp.workspace.includes import DATABASE_REFRESH_S, IncludeResolver, find_includes, include_at

FIXTURE = Path(__file__).parent / "fixtures" / "handwritten"
DSP = Path("libfoo/aarch64/dsp_neon.S")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(FIXTURE, root)
    return root


def configured(root: Path, config: str = "#define HAVE_AS_FUNC 0\n") -> Path:
    build = root / "build"
    build.mkdir(exist_ok=True)
    (build / "config.h").write_text(config)
    entry = {"directory": str(build), "file": f"../{DSP}", "output": "libfoo/dsp_neon.S.o",
             "arguments": ["/usr/bin/cc", "-Ilibfoo/aarch64", "-I../libfoo/aarch64", "-I.", "-I..", "-DPIC", "-o", "x.o", "-c", f"../{DSP}"]}
    (build / "compile_commands.json").write_text(json.dumps([entry]))
    return build / "compile_commands.json"


def test_only_search_flags_are_kept_and_made_absolute():
    args = ["/opt/evil/cc", "-I", "inc", "-Isrc", "-isystem", "/sys/inc", "-DA=1", "-D", "B", "-UC",
            "-include", "pre.h", "-specs=/tmp/x", "-B/tmp/bin", "-wrapper", "/bin/sh", "-fplugin=/tmp/p.so",
            "-D-fplugin=/x", "-o", "/tmp/out.o", "-c", "f.S"]
    flags = flags_from_arguments(args, Path("/work/build"))
    assert flags == CompileFlags(include_dirs=("/work/build/inc", "/work/build/src"), system_dirs=("/sys/inc",),
                                 macros=("-DA=1", "-DB", "-UC"), forced_includes=("/work/build/pre.h",))
    assert flags.args() == ["-I/work/build/inc", "-I/work/build/src", "-isystem/sys/inc", "-DA=1", "-DB", "-UC",
                            "-include", "/work/build/pre.h"]


def test_database_from_command_strings_and_lookup(tmp_path: Path):
    (tmp_path / "build").mkdir()
    db = tmp_path / "build" / "compile_commands.json"
    db.write_text(json.dumps([
        {"directory": str(tmp_path / "build"), "file": "../a/x.S", "command": "cc '-I../my inc' -DX=\"1 2\" -c ../a/x.S"},
        {"directory": str(tmp_path / "build"), "file": "../b/y.c", "command": "cc -I../c -c ../b/y.c"},
        "junk", {"file": 3},
    ]))
    database = load_database(db)
    assert database is not None
    x = database.flags_for(tmp_path / "a" / "x.S")
    assert x == CompileFlags(include_dirs=(str(tmp_path / "my inc"),), macros=("-DX=1 2",))
    assert database.flags_for(tmp_path / "a" / "included_only.S") == x  # same folder
    assert database.flags_for(tmp_path / "elsewhere" / "z.S") == x  # an assembly entry
    assert find_databases([tmp_path]) == [db]
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "compile_commands.json").write_text("{not json")
    assert load_database(tmp_path / "broken" / "compile_commands.json") is None


def test_include_directives_and_cursor():
    lines = ['#include "libfoo/aarch64/asm.S"', "  .include \"macros.inc\" // c", "#  include <sys/x.h>",
             "\tinclude_not", "#define X 1"]
    found = find_includes(lines)
    assert [(d.line, d.name, d.directive, d.system, d.start, d.end) for d in found] == [
        (0, "libfoo/aarch64/asm.S", "#include", False, 10, 30),
        (1, "macros.inc", ".include", False, 12, 22),
        (2, "sys/x.h", "#include", True, 12, 19)]
    assert include_at(lines, 0, 15).name == "libfoo/aarch64/asm.S"
    assert include_at(lines, 1, 30) is None  # in the comment after it
    assert include_at(lines, 4, 2) is None


def test_root_relative_include_is_found_without_configuration(project: Path):
    resolver = IncludeResolver([project])
    dsp = project / DSP
    assert resolver.resolve(dsp, "libfoo/aarch64/asm.S") == project / "libfoo/aarch64/asm.S"
    assert resolver.resolve(dsp, "config.h") is None
    plan = resolver.plan(dsp, dsp.read_text())
    assert plan.database is None
    assert plan.files == [project / "libfoo/aarch64/asm.S"]
    assert [(m.name, m.line, m.via) for m in plan.missing] == [("config.h", 0, ("libfoo/aarch64/asm.S",))]


def test_generated_header_in_a_build_folder_is_found(project: Path):
    """No compile database, but a configured build folder: the folder holding config.h."""
    (project / "builddir").mkdir()
    (project / "builddir" / "config.h").write_text("#define HAVE_AS_FUNC 0\n")
    dsp = project / DSP
    plan = IncludeResolver([project]).plan(dsp, dsp.read_text())
    assert plan.missing == []
    assert f"-I{project / 'builddir'}" in plan.cpp_args


def test_compile_database_gives_the_build_folders(project: Path):
    db = configured(project)
    dsp = project / DSP
    plan = IncludeResolver([project]).plan(dsp, dsp.read_text())
    assert plan.database == db and plan.missing == []
    assert plan.cpp_args == [f"-iquote{dsp.parent}", f"-I{project / 'build/libfoo/aarch64'}", f"-I{dsp.parent}",
                             f"-I{project / 'build'}", f"-I{project}", "-DPIC"]


def test_assembling_with_and_without_the_build(project: Path):
    asm = find_assembler()
    dsp = project / DSP
    text = dsp.read_text()
    resolver = IncludeResolver([project])
    plan = resolver.plan(dsp, text)
    result = assemble(asm, text, True, dsp.parent, 10, plan.cpp_args, plan.as_args)
    assert result.messages == [] and result.include_failure is not None
    assert (result.include_failure.missing, result.include_failure.line) == ("config.h", 0)
    configured(project)
    time.sleep(DATABASE_REFRESH_S)  # the resolver looks for new databases this often
    plan = resolver.plan(dsp, text)
    assert assemble(asm, text, True, dsp.parent, 10, plan.cpp_args, plan.as_args) == AssembleResult()
    broken = text.replace("uqadd   v0.16b", "uqadd   v0.16q")
    messages = assemble(asm, broken, True, dsp.parent, 10, plan.cpp_args, plan.as_args).messages
    assert [(m.line, m.severity) for m in messages] == [(6, "error")]


def test_dot_include_for_plain_assembly(tmp_path: Path):
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "regs.inc").write_text("ptr .req x0\n")
    main = tmp_path / "src" / "main.s"
    main.parent.mkdir()
    text = '.include "inc/regs.inc"\n\tldr x1, [ptr]\n'
    main.write_text(text)
    resolver = IncludeResolver([tmp_path])
    plan = resolver.plan(main, text)
    assert assemble(find_assembler(), text, False, main.parent, 10, None, plan.as_args).messages == []
    missing = assemble(find_assembler(), '.include "nope.inc"\n\tbogus\n', False, main.parent, 10, None, plan.as_args)
    assert missing.messages == [] and missing.include_failure.missing == "nope.inc"


# -- the suggestion check in hand-written files (issue 15 item 4) ---------------------------

def test_check_without_the_build_keeps_what_it_cannot_check(project: Path):
    """Unconfigured: asm.S (and its macros) cannot be preprocessed, so the candidate is
    checked on its own; a macro from the include is not held against it, bad operands are."""
    asm = find_assembler()
    text = (project / DSP).read_text()
    line = 7  # after "uqadd": inside foo_add_u8_neon
    assert insertion_assembles(asm, text, line, 0, "\tmovrel  x1, foo_table\n", 10, preprocess=True)
    assert insertion_assembles(asm, text, line, 0, "\tuqadd   v2.16b, v0.16b, v1.16b\n", 10, preprocess=True)
    assert not insertion_assembles(asm, text, line, 0, "\tuqadd   v2.16q, v0.16b, v1.16b\n", 10, preprocess=True)
    assert not insertion_assembles(asm, text, line, 0, "\tb.gt    3b\n", 10, preprocess=True)  # no 3: label
    # The same file as the old check saw it (no preprocessor, no include search).
    assert insertion_assembles(asm, text, line, 0, "\tmovrel  x1, foo_table\n", 10)


def test_check_with_the_build_assembles_the_whole_file(project: Path):
    configured(project)
    asm = find_assembler()
    dsp = project / DSP
    text = dsp.read_text()
    plan = IncludeResolver([project]).plan(dsp, text)
    check = lambda insert: insertion_assembles(asm, text, 7, 0, insert, 10, True, plan.cpp_args, plan.as_args)
    assert check("\tmovrel  x1, foo_table\n")
    assert not check("\tmovrel  x1\n")  # the macro's missing argument
    assert not check("\tfrobnicate x0\n")  # no such mnemonic or macro


def test_check_inside_a_macro_body():
    asm = find_assembler()
    text = ".macro addn reg, n\n\tadd \\reg, \\reg, #\\n\n\n.endm\n\t.text\nf:\n\taddn x0, 4\n\tret\n"
    assert insertion_assembles(asm, text, 2, 0, "\tsub \\reg, \\reg, #1", 10)  # parameters: cannot check
    assert insertion_assembles(asm, text, 2, 0, "\tsub x1, x1, #1", 10)
    assert not insertion_assembles(asm, text, 2, 0, "\tsub x1, x1", 10)
    assert not insertion_assembles(asm, text, 2, 0, "\tfrob x1", 10)


def test_cli_check_uses_the_include_search(project: Path):
    """`asm-lsp check` from the project root: the information line, then nothing once configured."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "server")}
    run = lambda: subprocess.run([sys.executable, "-m", "asm_lsp", "check", str(DSP)], cwd=project, env=env,
                                 capture_output=True, text=True, timeout=60)
    first = run()
    assert first.returncode == 0
    assert first.stdout.startswith(f"{DSP}:1:1: info: config.h (included from libfoo/aarch64/asm.S) was not found")
    configured(project)
    second = run()
    assert (second.returncode, second.stdout) == (0, "")


def test_check_options_for_the_engine(project: Path):
    """features.includes.check_options: what the completion glue passes to the check."""
    from asm_lsp.features.includes import check_options

    configured(project)
    dsp = project / DSP
    text = dsp.read_text()
    options = check_options(IncludeResolver([project]), dsp.as_uri(), text)
    assert options["preprocess"] is True and f"-I{project / 'build'}" in options["cpp_args"]
    asm = find_assembler()
    assert not insertion_assembles(asm, text, 7, 0, "\tmovrel  x1\n", 10, **options)
    assert insertion_assembles(asm, text, 7, 0, "\tmovrel  x1, foo_table\n", 10, **options)
    assert check_options(IncludeResolver([project]), "untitled:Untitled-1", text) == {}


def test_a_hostile_compile_database_runs_nothing(project: Path, tmp_path: Path):
    """The database names a compiler, a -B folder with an `as`, a wrapper and specs that would
    each leave a marker: assembling the file with its plan leaves none."""
    marker = tmp_path / "ran"
    evil = tmp_path / "evil"
    evil.mkdir()
    for name in ("cc", "as", "wrap"):
        (evil / name).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (evil / name).chmod(0o755)
    (evil / "x.specs").write_text(f"*self_spec:\n+ %<touch {marker}\n")
    configured(project)
    db = project / "build" / "compile_commands.json"
    entry = json.loads(db.read_text())[0]
    entry["arguments"] = [str(evil / "cc"), f"-B{evil}", "-wrapper", str(evil / "wrap"), f"-specs={evil / 'x.specs'}",
                          "-I.", "-I..", "-c", entry["file"]]
    db.write_text(json.dumps([entry]))
    dsp = project / DSP
    plan = IncludeResolver([project]).plan(dsp, dsp.read_text())
    assert not any(str(evil) in arg for arg in plan.cpp_args + plan.as_args)
    assert assemble(find_assembler(), dsp.read_text(), True, dsp.parent, 10, plan.cpp_args, plan.as_args) == AssembleResult()
    assert not marker.exists()
