"""Function embeddings with transformers on a GPU: the retrieval benchmark at full scale.

    python -m models.hf_embed --base /tmp/base-hf --tokenizer .device/data \\
        --texts texts.jsonl.gz --out base-mean.npz [--adapter RUN/adapter] [--pooling mean|last]

``--texts`` comes from ``bench/retrieval/run.py --export-texts`` ({"key", "text"} per line,
text already normalised by ``asm_lsp.syntax.normalize_function``); ``--out`` goes back to
``run.py --embeddings NAME=FILE.npz``. The npz holds ``keys``, ``vectors`` (float16, unit
rows) and ``meta`` (JSON: base, adapter, pooling, tokens, tokens/s).

What is embedded matches the server's embedder (server/asm_lsp/embed/embedder.py): the text's
tokens without BOS or other special tokens, cut to their first --max-tokens (the head is
kept; an empty text becomes "\\n"), through the backbone (Qwen2Model, final norm applied:
llama.cpp's embedding output), pooled over every one of those tokens (there are no special
ones): "mean" = models/train.py ``pooled()``, the InfoNCE term's pooling; "last" = the last
token. Differences from llama.cpp: bf16 weights dequantized from the Q4_K_M GGUF and bf16
compute on CUDA (llama.cpp: quantized matmuls); the adapter is merged into the weights.
"""
from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

DEFAULT_MAX_TOKENS = 384  # server/asm_lsp/embed/embedder.py DEFAULT_MAX_TOKENS = pair_max_tokens


def read_texts(path: Path) -> tuple[list[str], list[str]]:
    keys, texts = [], []
    with gzip.open(path, "rt") as f:
        for line in f:
            rec = json.loads(line)
            keys.append(rec["key"])
            texts.append(rec["text"])
    return keys, texts


def token_ids(tokenizer, texts: list[str], max_tokens: int) -> list[list[int]]:
    """The tokens the server evaluates: no special tokens added, head kept, never empty."""
    newline = tokenizer("\n", add_special_tokens=False)["input_ids"]
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return [(t[:max_tokens] or newline) for t in ids]


def batches(lengths: list[int], batch_tokens: int) -> list[list[int]]:
    """Indices longest first, cut so that rows x longest row <= batch_tokens (padding included)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    out: list[list[int]] = []
    for i in order:
        if out and (len(out[-1]) + 1) * lengths[out[-1][0]] <= batch_tokens:
            out[-1].append(i)
        else:
            out.append([i])
    return out


@torch.inference_mode()
def embed(backbone, ids: list[list[int]], pooling: str, batch_tokens: int, device: str,
          log_every_s: float = 30.0) -> tuple[np.ndarray, dict]:
    """Unit vectors (float32, rows in ``ids`` order) and speed figures."""
    dim = backbone.config.hidden_size
    out = np.zeros((len(ids), dim), dtype=np.float32)
    tokens = sum(len(t) for t in ids)
    done_tokens, t0, last_log = 0, time.perf_counter(), time.perf_counter()
    for rows in batches([len(t) for t in ids], batch_tokens):
        width = len(ids[rows[0]])
        batch = torch.zeros((len(rows), width), dtype=torch.long)
        lens = torch.tensor([len(ids[i]) for i in rows])
        for r, i in enumerate(rows):
            batch[r, :len(ids[i])] = torch.tensor(ids[i])
        batch, lens = batch.to(device), lens.to(device)
        # Right padding: with causal attention no real token sees a pad, positions start at 0.
        mask = torch.arange(width, device=device)[None, :] < lens[:, None]
        h = backbone(input_ids=batch, attention_mask=mask.long(), use_cache=False).last_hidden_state
        if pooling == "last":
            v = h[torch.arange(len(rows), device=device), lens - 1]
        else:
            m = mask.unsqueeze(-1).to(h.dtype)
            v = (h * m).sum(1) / m.sum(1)
        out[rows] = F.normalize(v.float(), dim=-1).cpu().numpy()
        done_tokens += int(lens.sum())
        if time.perf_counter() - last_log > log_every_s:
            last_log = time.perf_counter()
            print(f"  {done_tokens:,}/{tokens:,} tokens, {done_tokens / (last_log - t0):,.0f} tok/s", flush=True)
    seconds = time.perf_counter() - t0
    return out, {"texts": len(ids), "tokens": tokens, "seconds": round(seconds, 2),
                 "tokens_per_s": round(tokens / max(seconds, 1e-9))}


def load_backbone(base: Path, adapter: Path | None, device: str):
    """The Qwen2Model (no lm_head: logits of 64k tokens would be 20 GB) of base [+ merged adapter]."""
    from models.train import load_base

    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    model = load_base(base, dtype, "sdpa").to(device)
    if adapter is not None:
        from peft import PeftModel

        if not (adapter / "adapter_config.json").is_file():
            raise SystemExit(f"{adapter}: no adapter_config.json; pass the run's adapter/ folder (models.train run --out RUN)")
        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    return model.model.eval()


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", type=Path, required=True, help="models.train save-base directory (or the base .gguf)")
    p.add_argument("--tokenizer", type=Path, default=None,
                   help="tokenizer directory (models.dataset export or save_tokenizer) or the base .gguf "
                        "(default: as models.hf_generate, .device/data or models/work/tokenizer)")
    p.add_argument("--texts", type=Path, required=True, help="bench/retrieval/run.py --export-texts output")
    p.add_argument("--out", type=Path, required=True, help="npz to write (keys, vectors float16, meta)")
    p.add_argument("--adapter", type=Path, default=None, help="PEFT adapter folder (models.train run --out RUN: RUN/adapter)")
    p.add_argument("--pooling", choices=("mean", "last"), default="mean", help="mean: as trained; last: last token")
    p.add_argument("--batch-tokens", type=int, default=65536, help="tokens per forward pass, padding included")
    p.add_argument("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS, help="head of each text kept (server default)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="torch device")
    p.add_argument("--force", action="store_true", help="overwrite --out")
    args = p.parse_args(argv)
    if args.out.exists() and not args.force:
        print(f"{args.out} exists; --force to redo")
        return {"status": "exists"}

    from models.dataset import load_tokenizer
    from models.hf_generate import default_tokenizer

    keys, texts = read_texts(args.texts)
    tokenizer = load_tokenizer(args.tokenizer or default_tokenizer())
    ids = token_ids(tokenizer, texts, args.max_tokens)
    print(f"{len(texts):,} texts, {sum(map(len, ids)):,} tokens (≤{args.max_tokens} each)", flush=True)
    t0 = time.perf_counter()
    backbone = load_backbone(args.base, args.adapter, args.device)
    print(f"model loaded in {time.perf_counter() - t0:.1f} s on {args.device}", flush=True)
    vectors, speed = embed(backbone, ids, args.pooling, args.batch_tokens, args.device)
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device
    meta = {"base": str(args.base), "adapter": str(args.adapter) if args.adapter else "none",
            "pooling": args.pooling, "max_tokens": args.max_tokens, "device": device, **speed}
    print(f"{speed['tokens']:,} tokens in {speed['seconds']:.1f} s: {speed['tokens_per_s']:,} tok/s", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp.npz")
    np.savez(tmp, keys=np.array(keys), vectors=vectors.astype(np.float16), meta=np.array(json.dumps(meta)))
    tmp.replace(args.out)
    print(f"wrote {args.out} ({len(keys):,} x {vectors.shape[1]})")
    return {"status": "done", **meta}


if __name__ == "__main__":
    main()
