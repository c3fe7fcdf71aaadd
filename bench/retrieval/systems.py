"""Systems under test: each turns normalised function texts into unit vectors.

Pluggable: ``SYSTEMS`` maps a name to a factory; ``available_systems()`` lists those that
can run here. Model systems go through the product's own embedder
(asm_lsp.embed.embedder) and cache vectors in sqlite (asm_lsp.embed.store) keyed by
(model identity, text sha256), one file per system under the cache folder, so a run can
be split across machines and resumed.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asm_lsp.embed.store import EmbeddingStore, text_sha

# ---------------------------------------------------------------- lexical floor

_REG = re.compile(r"^(?:[wx](?:[0-9]|[12][0-9]|30)|[wx]zr|w?sp|[bhsdqv][0-9]+(?:\.\w+)?|z[0-9]+(?:\.\w)?|p[0-9]+(?:/[zm])?)$")


def _operand_class(op: str) -> str:
    op = op.strip().lower()
    if not op:
        return ""
    if op.startswith("["):
        return "m"
    if op.startswith("#") or op[0].isdigit() or op[0] == "-":
        return "#"
    if _REG.match(op):
        return op[0] if op[0] in "wxv" else "r"
    if op.startswith(".l"):
        return "L"
    if op.startswith(":"):
        return "@"
    if op in ("lsl", "lsr", "asr", "ror", "uxtw", "sxtw", "uxtb", "sxtb", "uxth", "sxth", "sxtx", "uxtx"):
        return op
    return "s"


def lexical_features(text: str) -> Counter:
    """Mnemonic 1-3-grams, mnemonic+operand-class unigrams, and callees (``bl NAME``)."""
    mnemonics: list[str] = []
    shaped: list[str] = []
    callees: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line or line.endswith(":") or line.startswith("."):
            continue
        mnemonic, _, rest = line.partition(" ")
        mnemonic = mnemonic.lower()
        ops = [o for o in re.split(r",(?![^\[]*\])", rest)] if rest else []
        mnemonics.append(mnemonic)
        shaped.append(mnemonic + " " + ",".join(_operand_class(o) for o in ops))
        if mnemonic in ("bl", "b") and ops and _operand_class(ops[0]) == "s":
            callees.append(ops[0].strip())
    feats: Counter = Counter()
    for n in (1, 2, 3):
        for i in range(len(mnemonics) - n + 1):
            feats["g" + str(n) + ":" + " ".join(mnemonics[i:i + n])] += 1
    feats.update("i:" + s for s in shaped)
    feats.update("c:" + c for c in callees)
    return feats


class LexicalTfidf:
    """TF-IDF (sublinear tf, smoothed idf) over ``lexical_features``, fitted on the texts it
    is given together (one pair task's queries and candidates), vocabulary cut to the
    ``max_features`` most frequent features seen in at least two texts."""

    name = "lexical"
    description = "TF-IDF of normalised instruction n-grams (mnemonic 1-3-grams, mnemonic+operand classes, callees)"

    def __init__(self, max_features: int = 8192) -> None:
        self.max_features = max_features

    def embed_many(self, groups: Sequence[Sequence[str]]) -> list[np.ndarray]:
        feats = [[lexical_features(t) for t in g] for g in groups]
        df: Counter = Counter()
        for g in feats:
            for f in g:
                df.update(f.keys())
        n_docs = sum(len(g) for g in feats)
        vocab = [f for f, c in df.most_common() if c >= 2][: self.max_features]
        column = {f: i for i, f in enumerate(vocab)}
        idf = np.array([math.log((1 + n_docs) / (1 + df[f])) + 1 for f in vocab], dtype=np.float32)
        out = []
        for g in feats:
            m = np.zeros((len(g), len(vocab)), dtype=np.float32)
            for r, f in enumerate(g):
                for feature, count in f.items():
                    c = column.get(feature)
                    if c is not None:
                        m[r, c] = 1.0 + math.log(count)
            m *= idf
            norms = np.linalg.norm(m, axis=1, keepdims=True)
            out.append(m / np.where(norms == 0, 1, norms))
        return out


# ---------------------------------------------------------------- model systems

@dataclass
class ModelSystem:
    """The base model (or base + adapter) through asm_lsp.embed.embedder, one pooling."""

    name: str
    description: str
    pooling: str
    adapter: Path | None  # None = base model alone
    max_tokens: int = 384

    def identity(self, files) -> str:
        from asm_lsp.embed.embedder import model_identity

        return model_identity(files, self.pooling, self.max_tokens, self.adapter)


def _shipped(name: str) -> Path:
    return Path(__file__).resolve().parents[2] / "server" / "asm_lsp" / "data" / name


def available_systems() -> dict[str, Callable[[], object]]:
    """Name -> factory. "ours" appears when a build ships an adapter (an embedding LoRA
    ``asm-embed-lora.gguf`` wins over the completion LoRA ``asm-lora.gguf``)."""
    systems: dict[str, Callable[[], object]] = {
        "lexical": LexicalTfidf,
        "base-last": lambda: ModelSystem("base-last", "base model, zero-shot, last-token pooling", "last", None),
        "base-mean": lambda: ModelSystem("base-mean", "base model, zero-shot, mean pooling", "mean", None),
    }
    for file_name, label in (("asm-embed-lora.gguf", "embedding adapter"), ("asm-lora.gguf", "shipped adapter")):
        if _shipped(file_name).is_file():
            systems["ours"] = (lambda p=_shipped(file_name), label=label:
                               ModelSystem("ours", f"base + {label} {p.name}, mean pooling", "mean", p))
            break
    return systems


class ModelVectors:
    """Cached vectors for the model systems; computes what is missing (all poolings of one
    adapter in one llama.cpp pass)."""

    def __init__(self, cache_dir: Path, threads: int, model_path: str = "") -> None:
        from asm_lsp.model.store import resolve_model

        self.cache_dir = cache_dir
        self.threads = threads
        files = resolve_model(model_path, "none", "")
        if not files.model_sha256:  # a copied GGUF (another machine): same identity as the packaged one
            from asm_lsp.model.store import sha256_file

            files = dataclasses.replace(files, model_sha256=sha256_file(files.model))
        self.files = files
        self.stores: dict[str, EmbeddingStore] = {}
        self.stats = {"computed": 0, "tokens": 0, "seconds": 0.0}

    def store(self, system: ModelSystem) -> EmbeddingStore:
        if system.name not in self.stores:
            self.stores[system.name] = EmbeddingStore(self.cache_dir / f"{system.name}.sqlite")
        return self.stores[system.name]

    def missing(self, systems: Sequence[ModelSystem], texts: Sequence[str]) -> dict[str, list[str]]:
        shas = {text_sha(t): t for t in texts}
        out = {}
        for s in systems:
            have = self.store(s).get_many(shas, s.identity(self.files))
            out[s.name] = [t for h, t in shas.items() if h not in have]
        return out

    def compute(self, systems: Sequence[ModelSystem], texts: Sequence[str], batch: int = 16,
                deadline: float | None = None) -> int:
        """Embed the texts some system lacks; returns how many were computed. Stops at ``deadline``
        (time.monotonic()) after the current batch: the cache keeps what is done."""
        from asm_lsp.embed.embedder import Embedder

        by_adapter: dict[Path | None, list[ModelSystem]] = {}
        for s in systems:
            by_adapter.setdefault(s.adapter, []).append(s)
        done = 0
        for adapter, group in by_adapter.items():
            missing = self.missing(group, texts)
            lacking = {t for s in group for t in missing[s.name]}
            todo = [t for t in dict.fromkeys(texts) if t in lacking]  # caller's order: most wanted first
            if not todo:
                continue
            embedder = Embedder(self.files, threads=self.threads, adapter=adapter, max_tokens=group[0].max_tokens)
            if not embedder.wait_ready(300):
                raise SystemExit(f"embedding model failed: {embedder.status()}")
            t0 = time.monotonic()
            poolings = sorted({s.pooling for s in group})
            try:
                for start in range(0, len(todo), batch):
                    if deadline is not None and time.monotonic() > deadline:
                        print(f"  deadline: stopping with {len(todo) - start:,} texts left", flush=True)
                        break
                    part = todo[start:start + batch]
                    vectors = embedder.submit(part, poolings=poolings).result()
                    for s in group:
                        self.store(s).put_many([(text_sha(t), v[s.pooling]) for t, v in zip(part, vectors)],
                                               s.identity(self.files))
                    done += len(part)
                    elapsed = time.monotonic() - t0
                    print(f"  {', '.join(s.name for s in group)}: {start + len(part):,}/{len(todo):,} texts, "
                          f"{embedder.stats['tokens'] / max(embedder.stats['seconds'], 1e-9):.0f} tok/s, "
                          f"{elapsed:.0f} s", file=sys.stderr, flush=True)
            finally:
                self.stats["computed"] += done
                self.stats["tokens"] += embedder.stats["tokens"]
                self.stats["seconds"] += embedder.stats["seconds"]
                embedder.close()
        return done

    def close(self) -> None:
        for store in self.stores.values():
            store.close()

    def have(self, system: ModelSystem, texts: Sequence[str]) -> set[str]:
        """Which of ``texts`` are cached for ``system``."""
        shas = {text_sha(t): t for t in texts}
        return {shas[h] for h in self.store(system).get_many(shas, system.identity(self.files))}

    def vectors(self, system: ModelSystem, texts: Sequence[str]) -> np.ndarray | None:
        """Unit vectors for ``texts`` in order, or None if any is missing from the cache."""
        shas = [text_sha(t) for t in texts]
        have = self.store(system).get_many(shas, system.identity(self.files))
        if len(have) < len(set(shas)):
            return None
        m = np.stack([have[h] for h in shas]).astype(np.float32)
        norms = np.linalg.norm(m, axis=1, keepdims=True)
        return m / np.where(norms == 0, 1, norms)


# ---------------------------------------------------------------- precomputed vectors

@dataclass
class Precomputed:
    """Vectors made elsewhere (models/hf_embed.py on a GPU) for run.py --export-texts' keys:
    an npz with ``keys`` (text sha256) and ``vectors`` (float16/32), optional ``meta`` (JSON)."""

    name: str
    description: str
    index: dict[str, int]
    matrix: np.ndarray  # float32, unit rows

    @classmethod
    def load(cls, name: str, path: Path) -> "Precomputed":
        with np.load(path) as z:
            keys = [str(k) for k in z["keys"]]
            m = z["vectors"].astype(np.float32)
            meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
        if m.ndim != 2 or m.shape[0] != len(keys):
            raise SystemExit(f"{path}: vectors {m.shape} do not match {len(keys):,} keys")
        norms = np.linalg.norm(m, axis=1, keepdims=True)
        about = ", ".join(f"{k} {v}" for k, v in meta.items() if k in ("base", "adapter", "pooling", "max_tokens", "device"))
        return cls(name, f"precomputed {path.name} ({len(keys):,} x {m.shape[1]}){': ' + about if about else ''}",
                   {k: i for i, k in enumerate(keys)}, m / np.where(norms == 0, 1, norms))

    def vectors(self, texts: Sequence[str]) -> np.ndarray | None:
        """Unit vectors for ``texts`` in order, or None if any is missing."""
        rows = [self.index.get(text_sha(t)) for t in texts]
        return None if any(r is None for r in rows) else self.matrix[rows]
