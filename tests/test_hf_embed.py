"""Full-scale retrieval path: run.py --export-texts -> models/hf_embed.py -> run.py --embeddings.

Test data: a synthetic corpus directory (models/corpus format, made here): 24 test-split
functions compiled "ten ways" (a shared random body, one setting-specific line) and 3 train
functions that must stay out; a randomly initialised two-layer Qwen2 (hidden 64) with the
real Qwen2.5 tokenizer (read from the base GGUF) and a random r=4 LoRA.

Checks: the export holds every variant of the test split once, keyed by text sha256; mean
pooling equals training's pooled() on the unpadded text; batching (padding) does not change
a vector; the adapter and the pooling change the vectors; the report has every system on
every key of every task with R@1 and MRR in [0, 1].
"""
from __future__ import annotations

import gzip
import hashlib
import json
import random
from pathlib import Path

import numpy as np
import pytest

from tiny_model import tiny_model

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.train, pytest.mark.model, pytest.mark.timeout(120)]

SETTINGS = [(c, o) for c in ("gcc", "clang") for o in ("O0", "O1", "O2", "O3", "Os")]
TEST_KEYS = 24


def write_corpus(out: Path) -> list[str]:
    """A corpus directory; returns the test split's function texts (as written, not normalised)."""
    rng = random.Random(0)
    ops = ["add\tw0, w0, w1", "sub\tw1, w1, #1", "ldr\tx2, [x0, 8]", "str\tw3, [sp, 12]", "lsl\tw0, w0, 2",
           "cmp\tw0, w1", "bl\thelper", "mul\tw2, w2, w3", "eor\tw0, w0, w2", "ldp\tx29, x30, [sp], 16"]
    functions, variants, test_texts = [], [], []
    for project, split, n in (("p", "test", TEST_KEYS), ("q", "train", 3)):
        for k in range(n):
            name = f"f{k}"
            body = [rng.choice(ops) for _ in range(rng.randint(4, 12))]
            per = []
            for s, (compiler, opt) in enumerate(SETTINGS):
                fid = f"{project}{k}-{compiler}-{opt}"
                text = f"{name}:\n\tsub\tsp, sp, #{16 * (s + 1)}\n\t" + "\n\t".join(body) + "\n\tret\n"
                functions.append({"id": fid, "split": split, "project": project, "name": name, "text": text})
                per.append({"id": fid, "compiler": compiler, "opt": opt})
                if split == "test":
                    test_texts.append(text)
            variants.append({"project": project, "split": split, "source": f"{name}.c", "name": name, "variants": per})
    out.mkdir(parents=True)
    (out / "manifest.json").write_text(json.dumps({"projects": {"p": {"split": "test"}, "q": {"split": "train"}}}))
    for file_name, records in (("functions", functions), ("variants", variants)):
        with gzip.open(out / f"{file_name}.jsonl.gz", "wt") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)
    return test_texts


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, base_gguf):
    """(work dir, tokenizer dir, base dir, adapter dir)."""
    import torch

    from models.dataset import save_tokenizer

    torch.set_num_threads(1)
    work = tmp_path_factory.mktemp("hf_embed")
    save_tokenizer(base_gguf, work / "tokenizer")
    base, adapter = tiny_model(work)
    return work, work / "tokenizer", base, adapter


def test_export_embed_and_report_at_full_scale(tiny):
    import torch

    from asm_lsp.syntax import normalize_function
    from bench.retrieval import run
    from models import hf_embed
    from models.train import pooled

    work, tokenizer, base, adapter = tiny
    raw = write_corpus(work / "corpus")
    texts_path = work / "texts.jsonl.gz"
    assert run.main(["--corpus", str(work / "corpus"), "--systems", "lexical", "--t4-pairs", "2",
                     "--export-texts", str(texts_path)]) == 0
    keys, texts = hf_embed.read_texts(texts_path)
    # T1 + T3 use all ten settings: every test variant once, normalised; no train function.
    assert sorted(texts) == sorted(normalize_function(t, t.split(":")[0]) for t in raw)
    assert keys == [hashlib.sha256(t.encode()).hexdigest() for t in texts]

    def embed(name: str, *extra: str) -> np.ndarray:
        out = work / f"{name}.npz"
        hf_embed.main(["--base", str(base), "--tokenizer", str(tokenizer), "--texts", str(texts_path),
                       "--out", str(out), "--device", "cpu", *extra])
        with np.load(out) as z:
            assert list(z["keys"]) == keys and z["vectors"].dtype == np.float16
            return z["vectors"].astype(np.float32)

    mean = embed("base-mean", "--batch-tokens", "64")  # many batches, padded rows
    one_batch = embed("base-mean-one-batch", "--batch-tokens", "100000")
    last = embed("base-last", "--pooling", "last", "--batch-tokens", "64")
    last_one_batch = embed("base-last-one-batch", "--pooling", "last", "--batch-tokens", "100000")
    ours = embed("ours-mean", "--adapter", str(adapter))
    assert np.abs(mean - one_batch).max() < 2e-3 and np.abs(last - last_one_batch).max() < 2e-3  # float16 storage
    assert np.abs(mean - last).max() > 0.1 and np.abs(mean - ours).max() > 0.1
    assert np.allclose(np.linalg.norm(mean, axis=1), 1, atol=2e-3)

    # Mean pooling = training's pooled() on one unpadded text, same tokens as the server's cut.
    from models.dataset import load_tokenizer

    ids = hf_embed.token_ids(load_tokenizer(tokenizer), texts[:3], hf_embed.DEFAULT_MAX_TOKENS)
    backbone = hf_embed.load_backbone(base, None, "cpu")
    for i, t in enumerate(ids):
        with torch.inference_mode():
            ref = pooled(backbone, torch.tensor([t]), torch.tensor([len(t)]))[0].numpy()
        assert np.abs(ref - mean[i]).max() < 2e-3

    out = work / "report"
    assert run.main(["--corpus", str(work / "corpus"), "--systems", "lexical", "--t4-pairs", "2", "--pools", "8,100",
                     "--seeds", "2", "--out", str(out)] + [f"--embeddings={n}={work / n}.npz"
                                                           for n in ("base-mean", "base-last", "ours-mean")]) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    systems = ["lexical", "base-mean", "base-last", "ours-mean"]
    assert list(report["systems"]) == systems
    assert report["corpus"]["keys"] == TEST_KEYS and not report["notes"]
    agg = report["aggregate"]
    assert {a["view"] for a in agg} == {"full"}
    pairs = {"T1": 1, "T3": 5, "T4": 2}
    assert sorted((a["system"], a["task"], a["pool"]) for a in agg) == sorted(
        (s, t, p) for s in systems for t in pairs for p in (8, 100))
    for a in agg:
        assert 0 <= a["r1"] <= a["mrr"] <= 1 and a["pairs"] == pairs[a["task"]]
        # every key a query: 3 pools of 8, or one pool of all 24
        assert a["queries_per_seed"] == TEST_KEYS * pairs[a["task"]]
        assert a["pool_used"] == [8 if a["pool"] == 8 else TEST_KEYS] * pairs[a["task"]]
    md = out.with_suffix(".md").read_text()
    assert all(f"| 8 | {s} |" in md for s in systems)
