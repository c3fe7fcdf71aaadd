"""Context beyond the window (asm_lsp.model.repo_context) and its training data (models/dataset.py).

The corpus here is written by hand in the corpus format: a project of three files at one
compiler and level (main.s calls helpers defined in util.s and reads a table from data.s),
plus another compilation of main.s (clang -O0) that must never feed main.s's context.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from asm_lsp.model.prompt import FIM_MIDDLE, FIM_SUFFIX, FIM_TOKEN_IDS, build_fim_prompt
from asm_lsp.model.repo_context import (CONTEXT_BUDGET, FILE_SEP, REPO_NAME, REPO_TOKEN_IDS, build_context, definition_excerpt,
                                        display_path, function_excerpt, repo_context, symbol_positions,
                                        window_symbols)
from asm_lsp.syntax import parse, split_functions

from models import dataset
from models.config import PRESETS

UTIL = """\t.text
\t.align\t2
\t.global\tscale_add
\t.type\tscale_add, %function
scale_add:
\t.cfi_startproc
\tstp\tx29, x30, [sp, -32]!
\tmov\tx29, sp
\tstr\tx19, [sp, 16]
\tmov\tx19, x1
\tlsl\tw0, w0, 2
\tadd\tw0, w0, w19
\tldr\tx19, [sp, 16]
\tldp\tx29, x30, [sp], 32
\tret
\t.cfi_endproc
\t.size\tscale_add, .-scale_add
\t.global\tclamp
\t.type\tclamp, %function
clamp:
\tcmp\tw0, w1
\tcsel\tw0, w0, w1, le
\tcmp\tw0, w2
\tcsel\tw0, w0, w2, ge
\tret
\t.size\tclamp, .-clamp
"""

DATA = """\t.data
\t.global\ttable
\t.type\ttable, %object
table:
\t.word\t1
\t.word\t2
\t.word\t3
\t.size\ttable, 12
\t.text
\t.global\tsum_table
\t.type\tsum_table, %function
sum_table:
\tadrp\tx1, table
\tadd\tx1, x1, :lo12:table
\tmov\tw0, 0
\tmov\tx2, 0
.L2:
\tldr\tw3, [x1, x2, lsl 2]
\tadd\tw0, w0, w3
\tadd\tx2, x2, 1
\tcmp\tx2, 3
\tbne\t.L2
\tret
\t.size\tsum_table, .-sum_table
"""

MAIN = """\t.text
\t.global\tcompute
\t.type\tcompute, %function
compute:
\tstp\tx29, x30, [sp, -16]!
\tmov\tx29, sp
\tmov\tw1, 3
\tbl\tscale_add
\tmov\tw1, 0
\tmov\tw2, 100
\tbl\tclamp
\tadrp\tx1, table
\tldr\tw1, [x1, :lo12:table]
\tadd\tw0, w0, w1
\tldp\tx29, x30, [sp], 16
\tret
\t.size\tcompute, .-compute
\t.global\ttotal
\t.type\ttotal, %function
total:
\tadrp\tx1, table
\tadd\tx1, x1, :lo12:table
\tmov\tw0, 0
\tmov\tx2, 0
.L7:
\tldr\tw3, [x1, x2, lsl 2]
\tadd\tw0, w0, w3
\tadd\tx2, x2, 1
\tcmp\tx2, 3
\tbne\t.L7
\tret
\t.size\ttotal, .-total
"""

# Another compilation of main.c: it defines scale_add itself and has a function just like
# `total`. Neither may reach main.s (gcc -O2) through the context.
MAIN_CLANG = MAIN.replace("compute:", "compute:\n\tnop") + """\t.global\tscale_add
\t.type\tscale_add, %function
scale_add:
\tmadd\tw0, w0, w1, w1
\tret
\t.size\tscale_add, .-scale_add
"""


def corpus_records() -> tuple[list[dict], dict[str, list[dict]]]:
    files, functions = [], {}
    for path, compiler, opt, text in (("util.c", "gcc", "O2", UTIL), ("data.c", "gcc", "O2", DATA),
                                      ("main.c", "gcc", "O2", MAIN), ("main.c", "clang", "O0", MAIN_CLANG)):
        file_id = f"{path}-{compiler}-{opt}"
        files.append({"id": file_id, "project": "demo", "split": "train", "path": path,
                      "compiler": compiler, "opt": opt, "text": text})
        functions[file_id] = [{"id": f"{file_id}:{fn.name}", "file_id": file_id, "name": fn.name,
                               "start_line": fn.start_line, "end_line": fn.end_line, "text": fn.text}
                              for fn in split_functions(text)]
    return files, functions


class SerialPool:
    def map(self, fn, jobs):
        return map(fn, jobs)


# --------------------------------------------------------------------------- pure part

def test_block_has_qwen_repo_layout_and_goes_before_the_window():
    block = build_context([("util.s", "scale_add:\n\tstp x29, x30, [sp, -32]!")], "main.s", "demo")
    assert block == (f"{REPO_NAME}demo\n{FILE_SEP}util.s\nscale_add:\n\tstp x29, x30, [sp, -32]!\n"
                     f"{FILE_SEP}main.s\n")
    prompt = build_fim_prompt("\tmov w0, 1\n", "\n\tret", block)
    assert prompt.startswith(block + "<|fim_suffix|>")


def test_block_keeps_to_its_budget_and_drops_what_does_not_fit():
    long = "\n".join(f"\tadd x{i % 30}, x{i % 30}, {i}" for i in range(200))
    for budget in (40, 96, CONTEXT_BUDGET):
        block = build_context([("a.s", long), ("b.s", "f:\n\tret")], "c.s", "demo", budget)
        assert 0 < len(block) and (len(block) * 5 + 8) // 9 <= budget
    assert build_context([("a.s", "f:")], "c.s", "demo") == ""  # one line: nothing worth a block
    assert build_context([], "c.s", "demo") == ""
    two = build_context([("a.s", "f:\n\tret"), ("a.s", "g:\n\tret")], "c.s", "demo")
    assert two.count(FILE_SEP) == 2 and "\tret\n\ng:" in two  # one header per path


def test_definition_excerpt_is_the_label_and_its_prologue():
    lines = UTIL.split("\n")
    assert definition_excerpt(lines, lines.index("scale_add:"), 4) == (
        "scale_add:\n\tstp\tx29, x30, [sp, -32]!\n\tmov\tx29, sp\n\tstr\tx19, [sp, 16]")
    assert definition_excerpt(lines, lines.index("clamp:")) == "\n".join(lines[lines.index("clamp:"):][:6])
    data = DATA.split("\n")
    assert definition_excerpt(data, data.index("table:")) == "table:\n\t.word\t1\n\t.word\t2\n\t.word\t3"
    head = function_excerpt(UTIL, 30)
    assert ".cfi" not in head and ".type" not in head and head.startswith("scale_add:")


def test_window_symbols_are_the_visible_ones_in_order_of_use():
    refs, defs = symbol_positions(parse(MAIN))
    lines = MAIN.split("\n")
    at = lines.index("\tbl\tclamp")
    end = len(lines) - 1
    # The server's window: everything visible, the cursor at the start of `bl clamp`.
    # compute and total are defined in the span; the others in order of first use.
    assert window_symbols(refs, defs, (0, 0), (at, 0), (at, 0), end) == ["scale_add", "clamp", "table"]
    # A training hole over `bl clamp`: the middle's symbol is not in the context.
    names = window_symbols(refs, defs, (0, 0), (at, 0), (at + 1, 0), end)
    assert names == ["scale_add", "table"]
    assert window_symbols(refs, defs, (0, 0), (at, 4), (at, 4), at) == ["scale_add", "clamp"]  # the cursor line's rest
    # The function `total` alone: it defines nothing it uses but `table`.
    first = lines.index("total:")
    assert window_symbols(refs, defs, (first, 0), (first + 3, 1), (first + 3, 1), end) == ["table"]
    assert window_symbols(refs, defs, (0, 0), (at, 0), (at + 1, 0), end, limit=1) == names[:1]


def test_display_path():
    assert display_path("src/zip/crc32.c") == "src/zip/crc32.s"
    assert display_path("arch/aarch64/memcpy.S") == "arch/aarch64/memcpy.S"


def test_repo_context_puts_the_similar_function_first():
    block = repo_context("demo", "main.s", [("data.s", DATA)], [("util.s", "clamp:\n\tcmp\tw0, w1")])
    assert block.index(f"{FILE_SEP}data.s") < block.index(f"{FILE_SEP}util.s") < block.index(f"{FILE_SEP}main.s")


# --------------------------------------------------------------------------- training data

def test_contexts_come_from_other_files_of_the_same_compilation_only():
    files, functions = corpus_records()
    contexts = dataset.prepare_contexts(files, functions, SerialPool(), 1)
    main = contexts["main.c-gcc-O2"]
    assert main.repo == "demo" and main.path == "main.s"
    assert set(main.defs) == {"scale_add", "clamp", "table"}
    assert main.defs["scale_add"][0] == "util.s" and main.defs["scale_add"][1].startswith("scale_add:\n\tstp")
    assert main.defs["table"] == ("data.s", "table:\n\t.word\t1\n\t.word\t2\n\t.word\t3")
    # `total` is sum_table under another name: its similar function, from data.s.
    assert main.similar["main.c-gcc-O2:total"][0] == "data.s"
    assert main.similar["main.c-gcc-O2:total"][1].startswith("sum_table:")
    # clang -O0 main.s is alone in its group: it defines scale_add itself, finds nothing.
    clang = contexts["main.c-clang-O0"]
    assert clang.defs == {} and clang.similar == {}
    assert all("madd" not in text for _, text in main.defs.values())


def test_fim_examples_carry_the_block_and_never_their_own_answer():
    files, functions = corpus_records()
    contexts = dataset.prepare_contexts(files, functions, SerialPool(), 1)
    cfg = replace(PRESETS["tiny"][0], context_fraction=1.0, context_budget=160, holes_per_function=6.0)
    record = files[2]
    texts = dataset.fim_texts_for_file(record, functions[record["id"]], cfg, 0, contexts[record["id"]])
    with_block = [t for t, _ in texts if t.startswith(REPO_NAME)]
    assert len(with_block) >= len(texts) // 2
    for text in with_block:
        block, _, rest = text.partition("<|fim_suffix|>")
        assert block.endswith(f"{FILE_SEP}main.s\n") and (len(block) * 5 + 8) // 9 <= 160
        middle = rest.split("<|fim_middle|>")[1]
        for name in ("scale_add", "clamp"):
            if name in middle:  # the hole's own call: its definition is not given away
                assert f"\n{name}:" not in block
    # Without context the holes are byte for byte those of round two.
    plain_cfg = replace(cfg, context_fraction=0.0)
    plain = dataset.fim_texts_for_file(record, functions[record["id"]], plain_cfg, 0, contexts[record["id"]])
    assert plain == dataset.fim_texts_for_file(record, functions[record["id"]], plain_cfg, 0)
    assert [t.partition("<|fim_suffix|>")[2] for t, _ in texts] == \
        [t.partition("<|fim_suffix|>")[2] for t, _ in plain]


def test_most_similar_is_linear_in_candidates_and_respects_owners():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2**32, 64, dtype=np.uint64)
    shingle_sets = [base[:48], base[4:52], rng.integers(0, 2**32, 64, dtype=np.uint64), base[:48]]
    sigs = np.stack([dataset.minhash(s) for s in shingle_sets])
    found = dataset.most_similar(sigs, ["a", "b", "c", "a"], ["f", "g", "h", "i"])
    assert found[0][0] == 1 and found[1][0] in (0, 3) and found[2] is None
    assert found[3][0] == 1  # row 0 is identical but in the same file
    same_name = dataset.most_similar(sigs, ["a", "b", "c", "d"], ["f", "f", "h", "f"])
    assert same_name[0] is None  # same name elsewhere: another copy of the same source, not a neighbour


@pytest.mark.model
@pytest.mark.timeout(300)
def test_tiny_build_packs_context_examples_with_the_real_tokenizer(tmp_path, base_gguf):
    """`dataset.build` at the tiny configuration with context on: the block's markers are
    single special tokens, the loss covers only the middle, and the report counts them."""
    import gzip
    import json

    from models.dataset import decode_rows

    files, functions = corpus_records()
    # The same project again as the valid split (other ids): valid examples get context too.
    files += [dict(r, id=r["id"] + "-v", split="valid", project="demo2") for r in files]
    for r in list(files):
        if r["split"] == "valid":
            functions[r["id"]] = [dict(fn, id=fn["id"] + "-v", file_id=r["id"])
                                  for fn in functions[r["id"][:-2]]]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    with gzip.open(corpus / "files.jsonl.gz", "wt") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in files)
    with gzip.open(corpus / "functions.jsonl.gz", "wt") as handle:
        handle.writelines(json.dumps(fn) + "\n" for fns in functions.values() for fn in fns)
    tokenizer_dir = tmp_path / "tokenizer"
    dataset.save_tokenizer(base_gguf, tokenizer_dir)
    cfg = replace(PRESETS["tiny"][0], context_fraction=0.5, context_budget=64, holes_per_function=8.0)
    report = dataset.build(corpus, tokenizer_dir, tmp_path / "data", cfg, jobs=1, with_pairs=False)
    assert report["config"]["context_fraction"] == 0.5
    ids, starts, loss = decode_rows(np.load(tmp_path / "data" / "train.u32.npy"))
    repo_id, sep_id = REPO_TOKEN_IDS[REPO_NAME], REPO_TOKEN_IDS[FILE_SEP]
    with_block = without = 0
    for r in range(ids.shape[0]):
        bounds = list(np.flatnonzero(starts[r])) + [ids.shape[1]]
        for a, b in zip(bounds, bounds[1:]):
            doc = ids[r, a:b]
            if doc[0] == repo_id:
                with_block += 1
                assert (doc == sep_id).sum() >= 2  # a context file and the current file
                middle_at = int(np.flatnonzero(doc == FIM_TOKEN_IDS[FIM_MIDDLE])[-1])
                assert not loss[r, a:a + middle_at + 1].any() and loss[r, a + middle_at + 1:b].all()
            elif doc[0] == FIM_TOKEN_IDS[FIM_SUFFIX]:
                without += 1
    assert with_block > 5 and without > 5
    assert report["splits"]["train"]["fim"]["with_context"] == with_block


# --------------------------------------------------------------------------- server

def workspace(tmp_path):
    """A WorkspaceIndex of util.s, data.s and main.s under tmp_path, and their URIs."""
    from asm_lsp.workspace.index import WorkspaceIndex

    index = WorkspaceIndex()
    uris = {}
    for name, text in (("util.s", UTIL), ("data.s", DATA), ("main.s", MAIN)):
        uris[name] = (tmp_path / "demo" / name).as_uri()
        index.update(uris[name], text)
    return index, uris


def test_server_block_holds_the_functions_callees_and_stays_put_while_typing(tmp_path):
    from asm_lsp.features.repo_context import RepoContext

    index, uris = workspace(tmp_path)
    repo = RepoContext(index.get, index, roots=lambda: [tmp_path / "demo"])
    lines = MAIN.split("\n")
    at = lines.index("\tbl\tclamp")
    block = repo.block(uris["main.s"], at, 1)
    assert block.startswith(f"{REPO_NAME}demo\n") and block.endswith(f"{FILE_SEP}main.s\n")
    assert f"{FILE_SEP}util.s\nscale_add:\n\tstp\tx29, x30, [sp, -32]!" in block
    assert "\n\nclamp:\n\tcmp\tw0, w1" in block  # the second util.s excerpt, under the same header
    assert f"{FILE_SEP}data.s\ntable:\n\t.word\t1" in block
    # Anywhere in `compute` the block is the same (the KV cache keeps it); in `total` its own.
    assert all(repo.block(uris["main.s"], line, 0) == block for line in range(lines.index("compute:"), at + 4))
    total = repo.block(uris["main.s"], lines.index("total:") + 2, 1)
    assert total != block and "table:" in total and "scale_add" not in total
    assert repo.block(uris["main.s"], 0, 0) == ""  # `.text` before any function


def test_server_block_takes_the_similar_function_from_the_embeddings_index(tmp_path):
    from asm_lsp.embed.index import FunctionIndex, extract_functions
    from asm_lsp.features.repo_context import RepoContext

    index, uris = workspace(tmp_path)
    functions = FunctionIndex()
    vectors = {}
    for name, text in (("util.s", UTIL), ("data.s", DATA), ("main.s", MAIN)):
        entries = extract_functions(uris[name], text)
        functions.set_document(uris[name], entries)
        for entry in entries:  # `total` and `sum_table` point the same way, the rest apart
            axis = {"total": 0, "sum_table": 0}.get(entry.name, 1 + len(vectors))
            vectors[entry.sha] = np.eye(8, dtype=np.float32)[axis] + 0.01
    functions.set_vectors(vectors)
    repo = RepoContext(index.get, index, lambda: functions, roots=lambda: [tmp_path / "demo"])
    lines = MAIN.split("\n")
    block = repo.block(uris["main.s"], lines.index("total:") + 3, 1)
    assert block.index(f"{FILE_SEP}data.s\nsum_table:\n\tadrp\tx1, table") < block.index("table:\n\t.word")
    compute = repo.block(uris["main.s"], lines.index("compute:") + 2, 1)
    assert "sum_table" not in compute  # its nearest is below SIMILAR_MIN_SCORE


def test_server_block_costs_well_under_5_ms_in_a_big_file(tmp_path):
    import time

    from asm_lsp.features.repo_context import RepoContext

    index, uris = workspace(tmp_path)
    body = "".join(f"\t.global\tf{k}\n\t.type\tf{k}, %function\nf{k}:\n\tbl\tscale_add\n\tbl\tf{k - 1}\n"
                   f"\tadrp\tx0, table\n" + "\tadd\tx0, x0, 1\n" * 12 + "\tret\n\t.size\tf{k}, .-f{k}\n"
                   for k in range(1, 1200))
    big = (tmp_path / "demo" / "big.s").as_uri()
    index.update(big, body)
    repo = RepoContext(index.get, index, roots=lambda: [tmp_path / "demo"])
    doc = index.get(big)
    assert len(doc.lines) > 20_000
    line = doc.lines.index("f900:") + 4
    assert "scale_add:" in repo.block(big, line, 1)
    started = time.perf_counter()
    for _ in range(50):
        repo.block(big, line, 1)
    assert (time.perf_counter() - started) / 50 < 0.005


def test_fit_prompt_puts_the_block_first_and_drops_it_before_the_window():
    from asm_lsp.model.fitting import fit_prompt
    from asm_lsp.model.suggest import Hole

    def tokenize(data: bytes, add_bos: bool = False, special: bool = True) -> list[int]:
        return list(data)  # a byte a token: enough to see what is kept

    block = build_context([("util.s", "scale_add:\n\tstp x29, x30, [sp, -32]!")], "main.s", "demo")
    hole = Hole.at(MAIN, 8, 1, block)
    assert bytes(fit_prompt(hole, 1, 4096, tokenize)).decode().startswith(block + FIM_SUFFIX)
    assert bytes(fit_prompt(hole, 1, 4096, tokenize, short=True)).decode().startswith(FIM_SUFFIX)
    for size in (300, 500, 700, 900):  # the same window as without the block, the block only where it fits
        plain = bytes(fit_prompt(Hole.at(MAIN, 8, 1), 1, size, tokenize)).decode()
        fitted = bytes(fit_prompt(hole, 1, size, tokenize)).decode()
        assert fitted in (plain, block + plain) and len(fitted) <= size - 48 - 8
    assert bytes(fit_prompt(hole, 1, 900, tokenize)).decode().startswith(block)
    assert not bytes(fit_prompt(hole, 1, 300, tokenize)).decode().startswith(block)


def test_server_block_leaves_out_same_file_definitions_the_window_shows(tmp_path):
    from asm_lsp.features.repo_context import RepoContext
    from asm_lsp.workspace.index import WorkspaceIndex

    helper = "\t.global\thelper\n\t.type\thelper, %function\nhelper:\n\tadd\tw0, w0, 1\n\tret\n\t.size\thelper, .-helper\n"
    filler = "".join(f"\t.word\t{k}\n" for k in range(80))
    caller = "\t.global\tcaller\n\t.type\tcaller, %function\ncaller:\n\tbl\thelper\n\tret\n\t.size\tcaller, .-caller\n"
    index = WorkspaceIndex()
    near, far = (tmp_path / "near.s").as_uri(), (tmp_path / "far.s").as_uri()
    index.update(near, helper + caller)
    index.update(far, helper + "\t.data\n" + filler + "\t.text\n" + caller)
    repo = RepoContext(index.get, index, roots=lambda: [tmp_path])
    assert repo.block(near, index.get(near).lines.index("caller:") + 1, 1) == ""
    block = repo.block(far, index.get(far).lines.index("caller:") + 1, 1)
    assert f"{FILE_SEP}far.s\nhelper:\n\tadd\tw0, w0, 1" in block and block.endswith(f"{FILE_SEP}far.s\n")


def test_server_sends_the_block_with_prefills_only_when_the_setting_is_on(tmp_path):
    """Through the server's own ModelCompletions (engine replaced by a recorder): the block
    reaches the engine's prefill with completion.repoContext, and nothing without it."""
    import asyncio

    from lsprotocol import types
    from pygls.workspace import Workspace

    from asm_lsp.features.model_completion import ModelCompletions
    from asm_lsp.server import create_server

    class RecordingEngine:
        def __init__(self) -> None:
            self.contexts: list[str] = []

        def prefill(self, text: str, line: int, col: int, context: str = "") -> None:
            self.contexts.append(context)

        def close(self) -> None:
            pass

    root = tmp_path / "demo"
    root.mkdir()
    for name, text in (("util.s", UTIL), ("data.s", DATA), ("main.s", MAIN)):
        (root / name).write_text(text)

    async def main(on: bool) -> list[str]:
        ls = create_server({"model": {"enabled": False}, "index": {"embeddings": False},
                            "completion": {"repoContext": on}})
        ls.protocol._workspace = Workspace(root.as_uri())
        ls.protocol.client_capabilities = types.ClientCapabilities()
        ls.loop = ls.parses.loop = asyncio.get_running_loop()
        for name in ("util.s", "data.s"):
            ls.index.update((root / name).as_uri(), (root / name).read_text())
        completions = ModelCompletions(ls)
        completions.engine = RecordingEngine()  # type: ignore[assignment]
        uri = (root / "main.s").as_uri()
        item = types.TextDocumentItem(uri=uri, language_id="asm", version=1, text=MAIN)
        ls.workspace.put_text_document(item)
        ls.protocol.fm.features[types.TEXT_DOCUMENT_DID_OPEN](types.DidOpenTextDocumentParams(text_document=item))
        completions._prefill(uri, MAIN, MAIN.split("\n").index("\tbl\tclamp"), 1)
        return completions.engine.contexts

    contexts = asyncio.run(main(True))
    assert contexts[-1].startswith(f"{REPO_NAME}demo\n{FILE_SEP}util.s\nscale_add:")
    assert contexts[-1].endswith(f"{FILE_SEP}main.s\n") and "table:" in contexts[-1]
    assert set(asyncio.run(main(False))) == {""}
