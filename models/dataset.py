"""Cut training examples from the assembly corpus, tokenize and pack them into fixed rows.

    PYTHONPATH=server python -m models.dataset build --corpus models/work/corpus \\
        --tokenizer models/work/tokenizer --out models/work/data --preset gpu

makes under --out:
    train.u32.npy         packed rows [R, seq_len] (format below), shuffled
    valid_fim.u32.npy     FIM examples of the valid split (never trained on)
    valid_plain.u32.npy   plain function text of the valid split
    pairs_train.npz       (only with variants) token ids of function-variant pairs for the
    pairs_valid.npz       contrastive term: ids [P, 2, T] uint32, lens [P, 2] int32
    report.json           counts, token totals, hashes, the DataConfig used

    PYTHONPATH=server python -m models.dataset export --corpus models/work/corpus \\
        --tokenizer models/work/tokenizer --out .device/data --max-mib 45

copies a deterministic subset of the corpus (all of valid, train files in hash order until
the size cap) plus the tokenizer files: what the GPU machine needs to run `build` itself,
within its 64 MiB carry limit. Its manifest.json hash is the "data manifest hash".

Examples (all built with asm_lsp.model.prompt, exactly as the server builds prompts):
- FIM: a hole in a real assembly file, inside a kept function: one line (most), a block
  of 2-4 lines, or the rest of the function. The cursor sits at column 0, after the
  indentation, or inside the line. Prefix/suffix go through ``cut_window`` with the
  server's token budgets; the text is ``build_fim_example`` (suffix first, then the
  middle and <|endoftext|>). Loss only on the middle and <|endoftext|>.
- Context (a share ``context_fraction`` of the FIM examples): the repo-level block of
  asm_lsp.model.repo_context before the window, as the server sends it with
  ``completion.repoContext``: the definitions of the symbols the hole's function uses and the
  most similar function (MinHash over normalised instructions), both taken from the same
  project's OTHER files built by the same compiler at the same level (``prepare_contexts``).
- Plain: a function's text + <|endoftext|>, loss on every token.

Row format: one uint32 per token: bits 0-29 token id, bit 30 "a document starts here",
bit 31 "this token is a training target". Rows are packed first-fit; the rest of a row is
<|endoftext|> padding (its own document, no loss). Document boundaries: position ids
restart at each document start (the trainer derives them from bit 30), and the trainer
can also make attention block-diagonal from them (TrainConfig.doc_masking).
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from asm_lsp.model.prompt import END_OF_TEXT, FIM_TOKEN_IDS, approx_tokens, build_fim_example, cut_window
from asm_lsp.model.repo_context import (MAX_CALLEES, REPO_NAME, REPO_TOKEN_IDS, SIMILAR_BUDGET, Position,
                                        definition_excerpt, display_path, function_excerpt, repo_context,
                                        symbol_positions, window_symbols)
from asm_lsp.model.store import sha256_file
from asm_lsp.syntax import parse

from models.config import PRESETS, DataConfig, check_overrides, override

EOT_ID = FIM_TOKEN_IDS[END_OF_TEXT]
REPO_NAME_ID = REPO_TOKEN_IDS[REPO_NAME]
FIM_MIDDLE_ID = FIM_TOKEN_IDS["<|fim_middle|>"]
ID_MASK = (1 << 30) - 1
START_BIT = 1 << 30
LOSS_BIT = 1 << 31
CORPUS_FILES = ("files.jsonl.gz", "functions.jsonl.gz", "variants.jsonl.gz")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "chat_template.jinja")


@dataclass
class Example:
    """One document as row words (token id | start bit on the first | loss bits)."""

    words: np.ndarray  # uint32
    kind: str  # "line" | "block" | "rest" | "plain"

    def __len__(self) -> int:
        return len(self.words)


def encode(ids: list[int], loss_from: int) -> np.ndarray:
    """Row words of a document whose tokens from index `loss_from` on are targets."""
    words = np.asarray(ids, dtype=np.uint32)
    words[loss_from:] |= np.uint32(LOSS_BIT)
    words[0] |= np.uint32(START_BIT)
    return words


# --------------------------------------------------------------------------- tokenizer

def load_tokenizer(source: Path):
    """A Hugging Face tokenizer from a saved directory or straight from a GGUF file (slow: ~10 s)."""
    from transformers import AutoTokenizer

    source = Path(source)
    if source.suffix == ".gguf":
        return AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
    unpack_tokenizer(source)
    return AutoTokenizer.from_pretrained(str(source))


def unpack_tokenizer(source: Path) -> None:
    """An export ships tokenizer.json gzipped (11 MB -> 2 MB): unpack it once beside itself."""
    packed = source / "tokenizer.json.gz"
    if packed.exists() and not (source / "tokenizer.json").exists():
        tmp = source / f"tokenizer.json.{os.getpid()}.tmp"
        with gzip.open(packed, "rb") as src, tmp.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        tmp.replace(source / "tokenizer.json")


def save_tokenizer(gguf: Path, out: Path) -> None:
    """Save the GGUF's tokenizer as tokenizer.json & co. (loads in 0.2 s, needs no `gguf`)."""
    tok = load_tokenizer(gguf)
    out.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(str(out))


# --------------------------------------------------------------------------- corpus

def read_jsonl(path: Path) -> Iterator[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def load_corpus(corpus: Path, splits: set[str]) -> tuple[list[dict], dict[str, list[dict]]]:
    """(file records of `splits`, functions by file_id) from the corpus directory."""
    files = [r for r in read_jsonl(corpus / "files.jsonl.gz") if r["split"] in splits]
    wanted = {r["id"] for r in files}
    by_id = {r["id"]: r for r in files}
    functions: dict[str, list[dict]] = defaultdict(list)
    for fn in read_jsonl(corpus / "functions.jsonl.gz"):
        if fn["file_id"] in wanted:
            if "text" not in fn:  # an export drops it: it is lines start..end of its file
                lines = by_id[fn["file_id"]]["text"].split("\n")
                fn["text"] = "\n".join(lines[fn["start_line"]:fn["end_line"] + 1])
            functions[fn["file_id"]].append(fn)
    files.sort(key=lambda r: r["id"])
    return files, functions


# --------------------------------------------------------------------------- holes

def is_instruction(line: str) -> bool:
    """A line worth putting a hole on: not blank, not a directive, label or comment."""
    s = line.strip()
    return bool(s) and not s.startswith((".", "//", "#", "/*", ";", "@")) and not s.endswith(":")


def _cursor_column(line: str, cfg: DataConfig, rng: random.Random) -> int:
    indent = len(line) - len(line.lstrip(" \t"))
    roll = rng.random()
    if roll < cfg.cursor_at_indent:
        return indent
    if roll < cfg.cursor_at_indent + cfg.cursor_mid_line:
        # After a space, tab or comma past the indentation: "\tadd x0, |", "\tldr |"
        cuts = [i + 1 for i in range(indent, len(line) - 1) if line[i] in " \t,"]
        if cuts:
            return rng.choice(cuts)
        return indent
    return 0


def make_hole(lines: list[str], start: int, end: int, cfg: DataConfig,
              rng: random.Random) -> tuple[str, str, str, str] | None:
    """(prefix, middle, suffix, kind) for a hole inside lines[start..end] (a function), or None.

    The hole covers whole lines i..j; the cursor is on line i at a column chosen by
    _cursor_column; prefix + middle + suffix is the original text. The suffix starts
    with the newline that ends line j: the middle never ends in a newline, as the server
    sees it (the user's cursor line, then the rest of the file).
    """
    candidates = [i for i in range(start, end + 1) if is_instruction(lines[i])]
    if not candidates:
        return None
    i = rng.choice(candidates)
    roll = rng.random()
    if roll < cfg.hole_line:
        kind, j = "line", i
    elif roll < cfg.hole_line + cfg.hole_block:
        kind, j = "block", min(end, i + rng.randint(*cfg.block_lines) - 1)
    else:
        kind, j = "rest", end
    col = _cursor_column(lines[i], cfg, rng)
    middle = "\n".join([lines[i][col:]] + lines[i + 1:j + 1])
    if kind == "rest" and approx_tokens(middle) > cfg.max_middle_tokens:
        kind, j = "block", min(end, i + cfg.block_lines[1] - 1)
        middle = "\n".join([lines[i][col:]] + lines[i + 1:j + 1])
    if not middle.strip():
        return None
    prefix = "\n".join(lines[:i] + [lines[i][:col]])
    suffix = "\n" + "\n".join(lines[j + 1:]) if j + 1 < len(lines) else ""
    return prefix, middle, suffix, kind


def fim_texts_for_file(record: dict, functions: list[dict], cfg: DataConfig,
                       epoch: int, ctx: FileContext | None = None) -> list[tuple[str, str]]:
    """(example text, kind) for every FIM hole of one file; deterministic per (file, seed, epoch).

    With ``ctx`` (the file's repo-level context sources, ``prepare_contexts``), a share
    ``cfg.context_fraction`` of the holes gets the repo-level block before its window. Its
    draws come from a generator of their own: without context the holes are those of round two.
    """
    rng = random.Random(f"{cfg.seed}:{epoch}:{record['id']}")
    ctx_rng = random.Random(f"{cfg.seed}:{epoch}:{record['id']}:context")
    lines = record["text"].split("\n")
    out: list[tuple[str, str]] = []
    for fn in sorted(functions, key=lambda f: f["start_line"]):
        start, end = fn["start_line"], min(fn["end_line"], len(lines) - 1)
        expected = cfg.holes_per_function + (end - start + 1) / cfg.lines_per_extra_hole
        if record.get("compiler") == "handwritten":
            expected *= cfg.handwritten_holes
        n = int(expected) + (rng.random() < expected - int(expected))
        for _ in range(n):
            hole = make_hole(lines, start, end, cfg, rng)
            if hole is None:
                continue
            prefix, middle, suffix, kind = hole
            prefix_budget, suffix_budget = cfg.prefix_budget, cfg.suffix_budget
            if rng.random() < cfg.short_window:  # the server's cold-cache short window, and smaller ones
                prefix_budget = rng.randint(min(48, prefix_budget), prefix_budget)
                suffix_budget = rng.randint(min(16, suffix_budget), suffix_budget)
            elif cfg.long_suffix and rng.random() < cfg.long_suffix:
                suffix_budget = cfg.long_suffix_budget
            window = cut_window(prefix, suffix, prefix_budget, suffix_budget)
            context = ""
            if ctx is not None and ctx_rng.random() < cfg.context_fraction:
                context = hole_context(ctx, fn, prefix, middle, cfg.context_budget)
            out.append((build_fim_example(window.prefix, middle, window.suffix, context), kind))
    return out


def hole_context(ctx: FileContext, fn: dict, prefix: str, middle: str, budget: int) -> str:
    """The repo-level block for one hole, as the server builds it for the same function: the
    symbols the function uses outside the hole's middle, and its similar function."""
    line = prefix.count("\n")
    cursor = (line, len(prefix) - prefix.rfind("\n") - 1)
    names = window_symbols(ctx.refs, ctx.labels, (fn["start_line"], 0), cursor,
                           (line + middle.count("\n") + 1, 0), fn["end_line"], MAX_CALLEES)
    callees = [ctx.defs[name] for name in names if name in ctx.defs]
    similar = [ctx.similar[fn["id"]]] if fn["id"] in ctx.similar else []
    return repo_context(ctx.repo, ctx.path, similar, callees, budget)


# --------------------------------------------------------------------------- repo-level context
#
# What a user's workspace would hold beside the file: the same project's other files, built
# by the same compiler at the same level. Never the file itself nor another compilation of
# it (other compilers/levels are other groups), so no answer leaks through the context.

MINHASH_PERMS = 32
LSH_BANDS = 16  # bands of 2 rows: a pair at Jaccard 0.3 shares a bucket with p 0.78, at 0.5 with 0.99
LSH_BUCKET_CAP = 48  # members per bucket looked at: keeps a group O(n), not O(n^2), for common shapes
MIN_SIMILARITY = 0.25  # estimated Jaccard of instruction shingles below which no function is "similar"
_PRIME = 4_294_967_291  # largest prime below 2^32: (a*x + b) stays below 2^64
_PERM_RNG = np.random.default_rng(20261203)
_PERM_A = _PERM_RNG.integers(1, _PRIME, MINHASH_PERMS, dtype=np.uint64)
_PERM_B = _PERM_RNG.integers(0, _PRIME, MINHASH_PERMS, dtype=np.uint64)


@dataclass
class FileContext:
    """Where one file's holes take their context from (built once per file, pickled to workers)."""

    repo: str  # project name: <|repo_name|>
    path: str  # the file's display path: the last <|file_sep|>
    defs: dict[str, tuple[str, str]]  # symbol -> (path, definition excerpt) in another file of the group
    similar: dict[str, tuple[str, str]]  # function id -> (path, head) of the most similar function elsewhere
    refs: list[Position]  # the file's symbol_positions, for window_symbols (parsed once, in the scan)
    labels: list[Position]


def instruction_shingles(doc, functions: list[dict]) -> list[np.ndarray]:
    """Per function (lines start_line..end_line), hashes of its normalised instructions and of
    each consecutive pair. An instruction is its mnemonic and operands with ``.L`` labels as
    ``.L`` and the function's own name as ``FUNC`` (normalize_function's renaming, without
    a parse per function)."""
    import bisect
    import zlib

    order = sorted(range(len(functions)), key=lambda k: functions[k]["start_line"])
    starts = [functions[k]["start_line"] for k in order]
    tokens: list[list[str]] = [[] for _ in functions]
    for st in doc.statements:
        if st.kind != "instruction":
            continue
        at = bisect.bisect_right(starts, st.line) - 1
        if at < 0 or st.line > functions[order[at]]["end_line"]:
            continue
        fn = functions[order[at]]
        ops = ",".join(o.text for o in st.operands)
        if ".L" in ops or fn["name"] in ops:
            ops = ",".join(".L" if o.text.startswith(".L") else o.text.replace(fn["name"], "FUNC")
                           for o in st.operands)
        tokens[order[at]].append(f"{st.name} {ops}")
    out = []
    for toks in tokens:
        grams = toks + [a + "|" + b for a, b in zip(toks, toks[1:])]
        out.append(np.fromiter((zlib.crc32(g.encode()) for g in grams), dtype=np.uint64, count=len(grams)))
    return out


def minhash(shingles: np.ndarray) -> np.ndarray:
    """MINHASH_PERMS minima of (a x + b) mod p over the shingles (uint32; all ones when empty)."""
    if len(shingles) == 0:
        return np.full(MINHASH_PERMS, 0xFFFFFFFF, dtype=np.uint32)
    mixed = (_PERM_A[:, None] * shingles[None, :] + _PERM_B[:, None]) % _PRIME
    return mixed.min(axis=1).astype(np.uint32)


def _scan_file(record: dict, functions: list[dict]) -> tuple[str, list[Position], list[Position], dict]:
    """(file id, symbol references, symbol definitions, {function id: MinHash}): one parse."""
    doc = parse(record["text"])
    refs, labels = symbol_positions(doc)
    sigs = {fn["id"]: minhash(sh) for fn, sh in zip(functions, instruction_shingles(doc, functions))}
    return record["id"], refs, labels, sigs


def _work_scan(items: list[tuple[dict, list[dict]]]) -> list:
    return [_scan_file(record, functions) for record, functions in items]


def most_similar(sigs: np.ndarray, owners: list[str], exclude: list[str]) -> list[tuple[int, float] | None]:
    """For each row of ``sigs`` (MinHash [n, MINHASH_PERMS]), the most similar row of another
    owner (file) whose ``exclude`` key (function name / normalised hash) differs, with its
    estimated Jaccard, if at least MIN_SIMILARITY. Candidates come from LSH buckets."""
    n = len(sigs)
    rows = MINHASH_PERMS // LSH_BANDS
    buckets: dict[tuple[int, bytes], list[int]] = defaultdict(list)
    for i in range(n):
        for b in range(LSH_BANDS):
            members = buckets[(b, sigs[i, b * rows:(b + 1) * rows].tobytes())]
            if len(members) < LSH_BUCKET_CAP:
                members.append(i)
    out: list[tuple[int, float] | None] = []
    for i in range(n):
        cands = {j for b in range(LSH_BANDS) for j in buckets[(b, sigs[i, b * rows:(b + 1) * rows].tobytes())]}
        cands = [j for j in sorted(cands) if owners[j] != owners[i] and exclude[j] != exclude[i]
                 and exclude[j] and not (sigs[j] == 0xFFFFFFFF).all()]
        if not cands or (sigs[i] == 0xFFFFFFFF).all():
            out.append(None)
            continue
        sims = (sigs[cands] == sigs[i]).mean(axis=1)
        k = int(np.argmax(sims))
        out.append((cands[k], float(sims[k])) if sims[k] >= MIN_SIMILARITY else None)
    return out


def prepare_contexts(files: list[dict], functions: dict[str, list[dict]], pool,
                     jobs: int) -> dict[str, FileContext]:
    """Each file's FileContext from the other files of its (project, compiler, opt) group."""
    started = time.time()
    items = [(r, functions.get(r["id"], [])) for r in files]
    scans = {}
    for part in pool.map(_work_scan, _chunks(items, max(1, min(32, len(items) // (4 * jobs) + 1)))):
        for file_id, refs, labels, sigs in part:
            scans[file_id] = (refs, labels, sigs)
    groups: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for r in files:
        groups[(r["project"], r["compiler"], r["opt"])].append(r)
    contexts: dict[str, FileContext] = {}
    n_defs = n_similar = 0
    for key in sorted(groups):
        members = sorted(groups[key], key=lambda r: r["path"])
        where: dict[str, list[tuple[dict, int]]] = defaultdict(list)  # symbol -> [(file, line)]
        for r in members:
            for name, line, _ in scans[r["id"]][1]:
                where[name].append((r, line))
        fns = [fn for r in members for fn in functions.get(r["id"], [])]
        similar: dict[str, tuple[str, str]] = {}
        if len(members) > 1 and fns:
            sigs = np.stack([scans[fn["file_id"]][2][fn["id"]] for fn in fns])
            found = most_similar(sigs, [fn["file_id"] for fn in fns],
                                 [fn["name"] for fn in fns])
            by_id = {r["id"]: r for r in members}
            for fn, hit in zip(fns, found):
                if hit is not None:
                    other = fns[hit[0]]
                    similar[fn["id"]] = (display_path(by_id[other["file_id"]]["path"]),
                                         function_excerpt(other["text"], SIMILAR_BUDGET))
        split_lines: dict[str, list[str]] = {}
        for r in members:
            refs, labels, _ = scans[r["id"]]
            own = {name for name, _, _ in labels}
            defs: dict[str, tuple[str, str]] = {}
            for name in sorted({name for name, _, _ in refs} - own):
                elsewhere = [(o, line) for o, line in where.get(name, ()) if o["id"] != r["id"]]
                if not elsewhere:
                    continue
                o, line = elsewhere[0]
                if o["id"] not in split_lines:
                    split_lines[o["id"]] = o["text"].split("\n")
                excerpt = definition_excerpt(split_lines[o["id"]], line)
                if excerpt:
                    defs[name] = (display_path(o["path"]), excerpt)
            own_fns = {fn["id"] for fn in functions.get(r["id"], [])}
            contexts[r["id"]] = FileContext(r["project"], display_path(r["path"]), defs,
                                            {k: v for k, v in similar.items() if k in own_fns}, refs, labels)
            n_defs += len(defs)
            n_similar += len(contexts[r["id"]].similar)
    print(f"context: {len(groups):,} groups, {n_defs:,} symbols defined in another file, "
          f"{n_similar:,} functions with a similar one ({time.time() - started:.1f} s)", flush=True)
    return contexts


# --------------------------------------------------------------------------- tokenize

_TOKENIZER = None


def _init_worker(tokenizer_source: str) -> None:
    global _TOKENIZER
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _TOKENIZER = load_tokenizer(Path(tokenizer_source))


def fim_example(ids: list[int], kind: str) -> Example:
    """Loss on everything after the (last) <|fim_middle|>: the middle and <|endoftext|>."""
    cut = len(ids) - 1 - ids[::-1].index(FIM_MIDDLE_ID)
    return Example(encode(ids, cut + 1), kind)


def plain_examples(ids: list[int], max_tokens: int) -> list[Example]:
    """A function's tokens + <|endoftext|> in pieces of at most max_tokens, loss everywhere."""
    ids = ids + [EOT_ID]
    return [Example(encode(ids[k:k + max_tokens], 0), "plain")
            for k in range(0, len(ids), max_tokens) if len(ids[k:k + max_tokens]) > 1]


def _work_fim(job: tuple[list[tuple[dict, list[dict], FileContext | None]], DataConfig, int]) -> list[Example]:
    items, cfg, epoch = job
    texts: list[tuple[str, str]] = []
    for record, functions, ctx in items:
        texts.extend(fim_texts_for_file(record, functions, cfg, epoch, ctx))
    if not texts:
        return []
    encoded = _TOKENIZER([t for t, _ in texts], add_special_tokens=False)["input_ids"]
    return [fim_example(ids, kind) for ids, (_, kind) in zip(encoded, texts)
            if FIM_MIDDLE_ID in ids]


def _work_plain(job: tuple[list[str], int]) -> list[Example]:
    texts, max_tokens = job
    if not texts:
        return []
    out: list[Example] = []
    for ids in _TOKENIZER(texts, add_special_tokens=False)["input_ids"]:
        out.extend(plain_examples(ids, max_tokens))
    return out


def _work_pairs(job: tuple[list[tuple[str, str]], int]) -> list[tuple[list[int], list[int]]]:
    pairs, max_tokens = job
    flat = [t for pair in pairs for t in pair]
    if not flat:
        return []
    ids = _TOKENIZER(flat, add_special_tokens=False)["input_ids"]
    return [(ids[k][:max_tokens], ids[k + 1][:max_tokens]) for k in range(0, len(ids), 2)]


def _chunks(items: list, n: int) -> list[list]:
    return [items[k:k + n] for k in range(0, len(items), n)]


# --------------------------------------------------------------------------- packing

def pack(examples: list[Example], seq_len: int, rng: random.Random, block: int = 20000) -> np.ndarray:
    """Best-fit-decreasing packing into rows of seq_len (uint32, format in the module docstring).

    Examples are shuffled, then packed a block at a time, longest first, each into the open
    row with the least room that still fits it (padding ~1%; plain first-fit left 25%).
    Rows are shuffled at the end. Examples longer than a row are dropped by the caller.
    """
    import bisect

    order = list(range(len(examples)))
    rng.shuffle(order)
    rows: list[list[int]] = []  # example indices per row
    for b in range(0, len(order), block):
        chunk = sorted(order[b:b + block], key=lambda k: -len(examples[k]))
        free: list[tuple[int, int]] = []  # (room left, row), sorted
        for k in chunk:
            need = len(examples[k])
            at = bisect.bisect_left(free, (need, -1))
            if at < len(free):
                room, r = free.pop(at)
            else:
                room, r = seq_len, len(rows)
                rows.append([])
            rows[r].append(k)
            if room - need >= 8:
                bisect.insort(free, (room - need, r))
    rng.shuffle(rows)
    out = np.full((len(rows), seq_len), EOT_ID, dtype=np.uint32)
    for r, members in enumerate(rows):
        at = 0
        for k in members:
            words = examples[k].words
            out[r, at:at + len(words)] = words
            at += len(words)
        if at < seq_len:
            out[r, at] |= START_BIT  # padding is a document of its own
    return out


def decode_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(token ids, document-start flags, loss flags) of packed rows."""
    rows = rows.astype(np.uint32, copy=False)
    return ((rows & ID_MASK).astype(np.int64), (rows & START_BIT) != 0, (rows & LOSS_BIT) != 0)


# --------------------------------------------------------------------------- build

def _stats(examples: list[Example]) -> dict:
    by_kind: dict[str, int] = defaultdict(int)
    for ex in examples:
        by_kind[ex.kind] += 1
    return {"examples": len(examples), "by_kind": dict(sorted(by_kind.items())),
            "with_context": sum(1 for e in examples if len(e.words) and int(e.words[0]) & ID_MASK == REPO_NAME_ID),
            "tokens": sum(len(e) for e in examples),
            "loss_tokens": int(sum(int((e.words >> 31).sum()) for e in examples))}


def _pairs_from_variants(corpus: Path, split: str, functions_by_id: dict[str, dict],
                         rng: random.Random) -> list[tuple[str, str]]:
    """One (text, text) pair per source function with 2+ distinct variants, normalised."""
    from asm_lsp.syntax import normalize_function

    path = corpus / "variants.jsonl.gz"
    if not path.exists():
        return []
    pairs = []
    for rec in read_jsonl(path):
        if rec["split"] != split:
            continue
        ids = sorted({v["id"] for v in rec["variants"] if v["id"] in functions_by_id})
        if len(ids) < 2:
            continue
        a, b = rng.sample(ids, 2)
        fa, fb = functions_by_id[a], functions_by_id[b]
        pairs.append((normalize_function(fa["text"], fa["name"]),
                      normalize_function(fb["text"], fb["name"])))
    return pairs


def _save_pairs(path: Path, pairs: list[tuple[list[int], list[int]]], max_tokens: int) -> None:
    ids = np.full((len(pairs), 2, max_tokens), EOT_ID, dtype=np.uint32)
    lens = np.zeros((len(pairs), 2), dtype=np.int32)
    for p, (a, b) in enumerate(pairs):
        for side, seq in enumerate((a, b)):
            ids[p, side, :len(seq)] = seq
            lens[p, side] = len(seq)
    np.savez(path, ids=ids, lens=lens)


def corpus_manifest_hash(corpus: Path) -> str:
    """sha256 over the names and sha256s of the corpus files that exist: the data manifest hash."""
    digest = hashlib.sha256()
    for name in CORPUS_FILES:
        if (corpus / name).exists():
            digest.update(f"{name} {sha256_file(corpus / name)}\n".encode())
    return digest.hexdigest()


def build(corpus: Path, tokenizer: Path, out: Path, cfg: DataConfig, jobs: int = 2,
          with_pairs: bool = True) -> dict:
    """Build every split's rows under `out` and return the report (also written as report.json)."""
    started = time.time()
    out.mkdir(parents=True, exist_ok=True)
    if Path(tokenizer).is_dir():
        unpack_tokenizer(Path(tokenizer))  # before the workers start, not in each of them
    files, functions = load_corpus(corpus, {"train", "valid"})
    functions_by_id = {fn["id"]: fn for fns in functions.values() for fn in fns}
    print(f"corpus: {len(files):,} files, {len(functions_by_id):,} functions (train+valid)", flush=True)
    report: dict = {"config": asdict(cfg), "corpus": str(corpus),
                    "data_manifest_sha256": corpus_manifest_hash(corpus), "splits": {}}
    ctx_rng = random.Random(cfg.seed)
    with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker,
                             initargs=(str(tokenizer),)) as pool:
        contexts = prepare_contexts(files, functions, pool, jobs) if cfg.context_fraction > 0 else {}
        for split in ("train", "valid"):
            split_files = [r for r in files if r["split"] == split]
            items = [(r, functions.get(r["id"], []), contexts.get(r["id"])) for r in split_files]
            fim: list[Example] = []
            for epoch in range(cfg.epochs if split == "train" else 1):
                for part in pool.map(_work_fim, [(c, cfg, epoch) for c in _chunks(items, 8)]):
                    fim.extend(part)
            fns = sorted((fn for r in split_files for fn in functions.get(r["id"], [])),
                         key=lambda f: f["id"])
            rng = random.Random(f"{cfg.seed}:{split}:plain")
            if split == "valid":
                rng.shuffle(fim)
                fim = fim[:cfg.valid_fim_examples]
                n_plain = min(cfg.valid_plain_examples, len(fns))
            else:
                n_plain = round(len(fim) * (1 - cfg.fim_fraction) / cfg.fim_fraction)
            chosen = [rng.choice(fns)["text"] for _ in range(n_plain)] if fns else []
            plain: list[Example] = []
            for part in pool.map(_work_plain, [(c, cfg.max_plain_tokens) for c in _chunks(chosen, 64)]):
                plain.extend(part)
            too_long = sum(len(e) > cfg.seq_len for e in fim + plain)
            fim = [e for e in fim if len(e) <= cfg.seq_len]
            plain = [e for e in plain if len(e) <= cfg.seq_len]
            entry = {"files": len(split_files), "functions": len(fns), "fim": _stats(fim),
                     "plain": _stats(plain), "dropped_too_long": too_long}
            if split == "train":
                arrays = {"train": pack(fim + plain, cfg.seq_len, random.Random(f"{cfg.seed}:pack"))}
            else:
                arrays = {"valid_fim": pack(fim, cfg.seq_len, random.Random(f"{cfg.seed}:vf")),
                          "valid_plain": pack(plain, cfg.seq_len, random.Random(f"{cfg.seed}:vp"))}
            for name, rows in arrays.items():
                path = out / f"{name}.u32.npy"
                np.save(path, rows)
                ids, starts, loss = decode_rows(rows)
                pad = int(_padding_tokens(ids, starts))
                entry[name] = {"rows": int(rows.shape[0]), "tokens": int(rows.size),
                               "padding_tokens": pad, "loss_tokens": int(loss.sum()),
                               "sha256": sha256_file(path)}
                print(f"{name} has {rows.shape[0]:,} rows, {rows.size:,} tokens "
                      f"({pad / max(rows.size, 1):.1%} padding), {int(loss.sum()):,} loss tokens", flush=True)
            print(f"{split} has {len(fim) + len(plain):,} examples "
                  f"({len(fim):,} FIM {entry['fim']['by_kind']}, {len(plain):,} plain), "
                  f"{entry['fim']['tokens'] + entry['plain']['tokens']:,} tokens", flush=True)
            if with_pairs:
                pairs = _pairs_from_variants(corpus, split, functions_by_id, ctx_rng)
                tok_pairs: list[tuple[list[int], list[int]]] = []
                for part in pool.map(_work_pairs, [(c, cfg.pair_max_tokens) for c in _chunks(pairs, 64)]):
                    tok_pairs.extend(part)
                if tok_pairs:
                    path = out / f"pairs_{split}.npz"
                    _save_pairs(path, tok_pairs, cfg.pair_max_tokens)
                    entry["pairs"] = {"pairs": len(tok_pairs), "sha256": sha256_file(path)}
                    print(f"pairs_{split} has {len(tok_pairs):,} function-variant pairs", flush=True)
            report["splits"][split] = entry
    report["seconds"] = round(time.time() - started, 1)
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


def _padding_tokens(ids: np.ndarray, starts: np.ndarray) -> int:
    """Tokens of each row's trailing padding document (an <|endoftext|> run that starts a document)."""
    total = 0
    for r in range(ids.shape[0]):
        start_idx = np.flatnonzero(starts[r])
        last = start_idx[-1]
        if (ids[r, last:] == EOT_ID).all() and (last > 0 or ids.shape[1] == 1):
            total += ids.shape[1] - last
    return total


# --------------------------------------------------------------------------- export

def _export_order(files: list[dict], seed: int, per_project_mb: float, valid_mb: float) -> list[dict]:
    """Valid files, then train files round-robin over projects, each in hash order under its caps.

    Caps are in MB of assembly text (0: none). Round-robin with a per-project cap keeps the
    data varied: a few projects (brotli, libzstd: large data tables) hold a third of the text.
    """
    def key(r: dict) -> str:
        return hashlib.sha256(f"{seed}:{r['id']}".encode()).hexdigest()

    def capped(records: list[dict], cap_mb: float) -> list[dict]:
        kept, used = [], 0
        for r in sorted(records, key=key):
            if cap_mb and used + len(r["text"]) > cap_mb * 1e6:
                continue
            kept.append(r)
            used += len(r["text"])
        return kept

    valid = capped([r for r in files if r["split"] == "valid"], valid_mb)
    by_project: dict[str, list[dict]] = defaultdict(list)
    for r in files:
        if r["split"] == "train":
            by_project[r["project"]].append(r)
    queues = [capped(by_project[p], per_project_mb) for p in sorted(by_project)]
    train = [q[k] for k in range(max((len(q) for q in queues), default=0)) for q in queues if k < len(q)]
    return valid + train


def export(corpus: Path, tokenizer: Path, out: Path, max_mib: float, seed: int,
           per_project_mb: float = 0.0, valid_mb: float = 0.0) -> dict:
    """Copy valid + a subset of train files (and their functions/variants) under a size cap.

    Without per-project/valid caps: valid first, then train in hash order (round one).
    With them: see _export_order (round two).
    """
    out.mkdir(parents=True, exist_ok=True)
    budget = int(max_mib * 2**20)
    for name in TOKENIZER_FILES:
        if name == "tokenizer.json":
            with (tokenizer / name).open("rb") as src, gzip.open(out / (name + ".gz"), "wb", 9) as dst:
                shutil.copyfileobj(src, dst)
        elif (tokenizer / name).exists():
            shutil.copy2(tokenizer / name, out / name)
    used = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    # Compressed size is not known before writing; assembly gzips ~6x, measure as we go.
    files = list(read_jsonl(corpus / "files.jsonl.gz"))
    if per_project_mb or valid_mb:
        order = _export_order(files, seed, per_project_mb, valid_mb)
    else:
        order = sorted(files, key=lambda r: (r["split"] != "valid",
                                             hashlib.sha256(f"{seed}:{r['id']}".encode()).hexdigest()))
    keep: set[str] = set()
    tmp = out / "files.jsonl.gz"
    with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=9) as handle:
        for r in order:
            if r["split"] not in ("train", "valid"):
                continue
            handle.write(json.dumps(r) + "\n")
            keep.add(r["id"])
            if len(keep) % 50 == 0:
                handle.flush()
                if used + tmp.stat().st_size * 1.1 > budget:  # functions (no text) + variants: ~0.1
                    break
    kept_fns: set[str] = set()
    texts = {r["id"]: r["text"].split("\n") for r in files if r["id"] in keep}
    with gzip.open(out / "functions.jsonl.gz", "wt", encoding="utf-8", compresslevel=9) as handle:
        for fn in read_jsonl(corpus / "functions.jsonl.gz"):
            if fn["file_id"] in keep:
                # The text is lines start..end of its file (checked here): rebuilt on load.
                lines = texts[fn["file_id"]]
                if "\n".join(lines[fn["start_line"]:fn["end_line"] + 1]) == fn.get("text"):
                    fn = {k: v for k, v in fn.items() if k != "text"}
                handle.write(json.dumps(fn) + "\n")
                kept_fns.add(fn["id"])
    if (corpus / "variants.jsonl.gz").exists():
        with gzip.open(out / "variants.jsonl.gz", "wt", encoding="utf-8", compresslevel=9) as handle:
            for rec in read_jsonl(corpus / "variants.jsonl.gz"):
                vs = [v for v in rec["variants"] if v["id"] in kept_fns]
                if len({v["id"] for v in vs}) >= 2:
                    handle.write(json.dumps(dict(rec, variants=vs)) + "\n")
    by_split: dict[str, int] = defaultdict(int)
    for r in files:
        if r["id"] in keep:
            by_split[r["split"]] += 1
    manifest = {"source_corpus": str(corpus), "source_manifest_sha256": corpus_manifest_hash(corpus),
                "seed": seed, "max_mib": max_mib, "per_project_mb": per_project_mb, "valid_mb": valid_mb,
                "files_by_split": dict(by_split),
                "files_total_in_corpus": len(files),
                "data_manifest_sha256": corpus_manifest_hash(out),
                "bytes": {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()}}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    total = sum(manifest["bytes"].values())
    print(f"export: {len(keep):,} of {len(files):,} files {dict(by_split)}, {total / 2**20:.1f} MiB "
          f"in {out}; data manifest {manifest['data_manifest_sha256'][:16]}", flush=True)
    return manifest


# --------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("build", "export", "tokenizer"),
                        help="build: rows from a corpus; export: corpus subset for the GPU; "
                             "tokenizer: save the GGUF's tokenizer as files")
    parser.add_argument("--corpus", type=Path, default=Path("models/work/corpus"), help="corpus directory")
    parser.add_argument("--tokenizer", type=Path, default=Path("models/work/tokenizer"),
                        help="saved tokenizer directory, or the base .gguf")
    parser.add_argument("--gguf", type=Path, default=None, help="base GGUF (command tokenizer)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="gpu", help="config preset")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override one DataConfig field (repeatable)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (shared machine: 2)")
    parser.add_argument("--max-mib", type=float, default=45.0, help="export: size cap")
    parser.add_argument("--per-project-mb", type=float, default=0.0,
                        help="export: at most this many MB of assembly per train project, round-robin (0: hash order)")
    parser.add_argument("--valid-mb", type=float, default=0.0, help="export: at most this many MB of valid assembly")
    parser.add_argument("--no-pairs", action="store_true", help="build: skip contrastive pairs")
    parser.add_argument("--force", action="store_true", help="rebuild even if report.json exists")
    args = parser.parse_args(argv)
    check_overrides(args.set)
    cfg = override(PRESETS[args.preset][0], args.set)
    if args.command == "tokenizer":
        save_tokenizer(args.gguf, args.out)
        print(f"tokenizer saved to {args.out}")
        return 0
    if args.command == "export":
        export(args.corpus, args.tokenizer, args.out, args.max_mib, cfg.seed, args.per_project_mb, args.valid_mb)
        return 0
    if (args.out / "report.json").exists() and not args.force:
        print(f"{args.out / 'report.json'} exists; --force to rebuild")
        return 0
    if not (args.corpus / "files.jsonl.gz").exists():
        raise SystemExit(f"{args.corpus / 'files.jsonl.gz'} not found; build the corpus first "
                         "(python -m models.corpus.build) or pass --corpus")
    build(args.corpus, args.tokenizer, args.out, cfg, args.jobs, not args.no_pairs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
