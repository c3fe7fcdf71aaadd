"""Retrieval tasks from the corpus's held-out TEST projects: the same C function compiled two ways.

A *pair task* (setting A, setting B) holds the keys (project, source file, function) that
have a variant in both settings; the query is the A variant, the positive the B variant,
and the negatives are other keys' B variants (same compiler and level as the positive).
Text is ``normalize_function(text, name)``: comments, .loc/.cfi gone, own name = FUNC.

Kept out, and counted: keys whose A and B texts are identical (nothing to retrieve), and
keys whose A or B text equals another key's (static helpers copied into many files would
be ambiguous positives).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from asm_lsp.syntax import normalize_function

Setting = tuple[str, str]  # (compiler, opt)
ALL_SETTINGS: list[Setting] = [(c, o) for c in ("gcc", "clang") for o in ("O0", "O1", "O2", "O3", "Os")]


def setting_name(s: Setting) -> str:
    return f"{s[0]}-{s[1]}"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class PairTask:
    task: str  # "T1" | "T3" | "T4"
    a: Setting
    b: Setting
    queries: list[str] = field(default_factory=list)  # normalised texts, A side, key order
    positives: list[str] = field(default_factory=list)  # B side, same order
    dropped_identical: int = 0
    dropped_ambiguous: int = 0
    available: int = 0  # keys with both settings before dropping

    @property
    def name(self) -> str:
        return f"{self.task} {setting_name(self.a)} -> {setting_name(self.b)}"

    def head(self, n: int) -> "PairTask":
        """The first ``n`` keys (the key order is a seeded shuffle)."""
        return PairTask(self.task, self.a, self.b, self.queries[:n], self.positives[:n],
                        self.dropped_identical, self.dropped_ambiguous, self.available)


@dataclass
class TestSplit:
    projects: list[str]
    keys: dict[tuple[str, str, str], dict[Setting, str]]  # key -> setting -> normalised text
    functions: int  # records read


def load_test_split(corpus: Path, split: str = "test") -> TestSplit:
    """Normalised texts of every ``split`` function, by (project, source, name) and setting.
    ``split="all"`` takes every project: for a corpus none of whose projects was trained on."""
    manifest = json.loads((corpus / "manifest.json").read_text())
    chosen = {"test", "valid", "train"} if split == "all" else {split}
    projects = sorted(p["name"] for p in _manifest_projects(manifest) if p.get("split") in chosen)
    texts: dict[str, tuple[str, str]] = {}
    marks = [f'"split": "{s}"' for s in chosen]  # skip other splits' records without parsing them
    with gzip.open(corpus / "functions.jsonl.gz", "rt") as f:
        for line in f:
            if not any(m in line[:400] for m in marks):
                continue
            rec = json.loads(line)
            if rec["split"] in chosen:
                texts[rec["id"]] = (rec["text"], rec["name"])
    keys: dict[tuple[str, str, str], dict[Setting, str]] = {}
    normalised: dict[str, str] = {}
    with gzip.open(corpus / "variants.jsonl.gz", "rt") as f:
        for line in f:
            rec = json.loads(line)
            if rec["split"] not in chosen:
                continue
            per: dict[Setting, str] = {}
            for v in rec["variants"]:
                fid = v["id"]
                if fid not in texts:
                    continue  # a duplicate of a function kept in another split
                if fid not in normalised:
                    text, name = texts[fid]
                    normalised[fid] = normalize_function(text, name)
                per[(v["compiler"], v["opt"])] = normalised[fid]
            if per:
                keys[(rec["project"], rec["source"], rec["name"])] = per
    return TestSplit(projects, keys, len(texts))


def _manifest_projects(manifest: dict) -> list[dict]:
    projects = manifest.get("projects", manifest)
    if isinstance(projects, dict):
        return [{"name": k, **v} for k, v in projects.items()]
    return list(projects)


def pair_task(split: TestSplit, task: str, a: Setting, b: Setting, seed: int) -> PairTask:
    order = sorted(split.keys)
    random.Random(f"{seed}").shuffle(order)  # one key order for every task: universes overlap
    out = PairTask(task, a, b)
    seen_a: set[str] = set()
    seen_b: set[str] = set()
    for key in order:
        per = split.keys[key]
        if a not in per or b not in per:
            continue
        out.available += 1
        qa, pb = per[a], per[b]
        if qa == pb:
            out.dropped_identical += 1
            continue
        ha, hb = sha(qa), sha(pb)
        if ha in seen_a or hb in seen_b:
            out.dropped_ambiguous += 1
            continue
        seen_a.add(ha)
        seen_b.add(hb)
        out.queries.append(qa)
        out.positives.append(pb)
    return out


def build_tasks(split: TestSplit, seed: int, t4_pairs: int) -> list[PairTask]:
    """T1: gcc -O0 -> gcc -O3. T3: gcc -> clang at each level. T4: ``t4_pairs`` random setting pairs."""
    tasks = [pair_task(split, "T1", ("gcc", "O0"), ("gcc", "O3"), seed)]
    for opt in ("O0", "O1", "O2", "O3", "Os"):
        tasks.append(pair_task(split, "T3", ("gcc", opt), ("clang", opt), seed))
    rng = random.Random(seed + 4)
    combos = [(x, y) for x in ALL_SETTINGS for y in ALL_SETTINGS if x != y]
    for a, b in rng.sample(combos, t4_pairs):
        tasks.append(pair_task(split, "T4", a, b, seed))
    return tasks
