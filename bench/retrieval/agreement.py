"""Do embeddings made on the GPU with transformers stand for the shipped GGUF's?

The full-scale retrieval tables (bench/results/retrieval.md, `gpu-*` systems) use vectors
from `models/hf_embed.py`: bf16 transformers on weights dequantized from the Q4_K_M base,
plus the PEFT adapter. The server computes them with llama.cpp on the Q4_K_M GGUF plus the
f16 GGUF LoRA. This script compares the two on the texts that `run.py` embedded with
llama.cpp (its sqlite cache), per text (cosine) and as retrieval (nearest neighbour among
those texts, by each system).

    PYTHONPATH=server python -m bench.retrieval.agreement \\
        --cache bench/work/retrieval/cache/ours.sqlite --npz bench/work/retrieval/emb/ours-mean.npz \\
        --out bench/results/retrieval_agreement.json
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

import numpy as np

from bench.common import write_report


def cached_vectors(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """{model identity: {text sha: unit vector}} from an EmbeddingStore file (read only)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    out: dict[str, dict[str, np.ndarray]] = {}
    for sha, model, dim, blob in db.execute("SELECT sha, model, dim, vec FROM vectors"):
        if len(blob) == 2 * dim:
            v = np.frombuffer(blob, dtype="<f2").astype(np.float32)
            out.setdefault(model, {})[sha] = v / (np.linalg.norm(v) + 1e-12)
    db.close()
    return out


def npz_vectors(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        keys = [str(k) for k in data["keys"]]
        m = data["vectors"].astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True) + 1e-12
    return dict(zip(keys, m))


def compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict:
    """Cosine per common key, and nearest-neighbour agreement among the common keys."""
    keys = sorted(set(a) & set(b))
    if len(keys) < 2:
        return {"common": len(keys)}
    ma = np.stack([a[k] for k in keys])
    mb = np.stack([b[k] for k in keys])
    cos = (ma * mb).sum(axis=1)
    sa, sb = ma @ ma.T, mb @ mb.T
    np.fill_diagonal(sa, -np.inf)
    np.fill_diagonal(sb, -np.inf)
    same_nn = float((sa.argmax(axis=1) == sb.argmax(axis=1)).mean())
    iu = np.triu_indices(len(keys), 1)
    corr = float(np.corrcoef(sa[iu], sb[iu])[0, 1])
    return {"common": len(keys), "cosine_mean": round(float(cos.mean()), 4),
            "cosine_p5": round(float(np.percentile(cos, 5)), 4), "cosine_min": round(float(cos.min()), 4),
            "same_nearest_neighbour": round(same_nn, 4), "pairwise_similarity_correlation": round(corr, 4)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cache", type=Path, required=True, help="run.py's sqlite cache of one llama.cpp system")
    p.add_argument("--npz", type=Path, required=True, help="models/hf_embed.py output for the same system")
    p.add_argument("--out", type=Path, default=None, help="JSON to write")
    args = p.parse_args(argv)
    gpu = npz_vectors(args.npz)
    report = {"cache": str(args.cache), "npz": str(args.npz), "by_model_identity": {}}
    for identity, vectors in cached_vectors(args.cache).items():
        report["by_model_identity"][identity] = compare(vectors, gpu)
    print(json.dumps(report, indent=1))
    if args.out:
        write_report(args.out, report)
    return 0 if report["by_model_identity"] else 1


if __name__ == "__main__":
    sys.exit(main())
