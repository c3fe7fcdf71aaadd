"""Greedy FIM continuations for exported prompts with transformers (the GPU side of a large evaluation).

    python -m models.hf_generate --base base-hf --prompts prompts-test.jsonl.gz --out base.jsonl
    python -m models.hf_generate --base base-hf --adapter /tmp/run/adapter \\
        --prompts prompts-test.jsonl.gz --out ours.jsonl

``--prompts``: the .jsonl[.gz] of ``python -m models.evaluate export-prompts ...`` (the exact
prompt strings the server's engine sends, and each hole's token limit). ``--base``: the bf16
directory of ``models.train save-base`` (or the base GGUF, dequantized on load);
``--adapter``: a PEFT directory (``models.train`` writes RUN/adapter/ with save_pretrained),
applied unmerged (a bf16 merge would round the LoRA delta away).

Makes ``--out``: one JSON line per prompt, {id, text, finished, generated_tokens}: ``text`` the
raw greedy continuation up to (without) the first special token (``<|endoftext|>`` etc., the
engine's stop set), ``finished`` whether it ended on one rather than on the hole's token limit
(``min(max_new_tokens of the prompt, --max-new-tokens)``). ``models.evaluate import-answers``
cuts and scores them. Batches are prompts sorted by length, left-padded.
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIM_IDS = {"<|fim_suffix|>": 151661, "<|fim_prefix|>": 151659, "<|fim_middle|>": 151660}


def read_prompts(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def default_tokenizer() -> Path:
    """.device/data on the GPU machine (tokenizer.json.gz), else the local tokenizer dir."""
    for candidate in (REPO / ".device" / "data", REPO / "models" / "work" / "tokenizer"):
        if (candidate / "tokenizer.json").exists() or (candidate / "tokenizer.json.gz").exists():
            return candidate
    raise SystemExit("no tokenizer found: pass --tokenizer DIR (tokenizer.json[.gz] + tokenizer_config.json)")


def generate(model, prompts: list[list[int]], limits: list[int], stop_ids: set[int], pad_id: int,
             batch: int, device) -> list[tuple[list[int], bool]]:
    """Greedy continuation of each prompt: (tokens before the first stop token, ended on a stop token)."""
    import torch

    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    results: list[tuple[list[int], bool]] = [([], False)] * len(prompts)
    stop_list = sorted(stop_ids)
    for first in range(0, len(order), batch):
        rows = order[first:first + batch]
        width = max(len(prompts[i]) for i in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, i in enumerate(rows):  # left padding: every row's last prompt token is at the end
            ids[r, width - len(prompts[i]):] = torch.tensor(prompts[i])
            mask[r, width - len(prompts[i]):] = 1
        with torch.inference_mode():
            out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                                 max_new_tokens=max(limits[i] for i in rows), do_sample=False,
                                 temperature=None, top_p=None, top_k=None, num_beams=1, use_cache=True,
                                 eos_token_id=stop_list, pad_token_id=pad_id)
        for r, i in enumerate(rows):
            new = out[r, width:].tolist()[: limits[i]]  # the engine stops at the hole's own limit
            end = next((k for k, t in enumerate(new) if t in stop_ids), None)
            results[i] = (new, False) if end is None else (new[:end], True)
    return results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", type=Path, required=True, help="models.train save-base directory (or base GGUF)")
    p.add_argument("--adapter", type=Path, default=None, help="PEFT adapter directory (RUN/adapter)")
    p.add_argument("--prompts", type=Path, required=True, help="models.evaluate export-prompts output (.jsonl[.gz])")
    p.add_argument("--out", type=Path, required=True, help="answers .jsonl for models.evaluate import-answers --answers NAME=FILE")
    p.add_argument("--tokenizer", type=Path, default=None, help="tokenizer dir (default: .device/data or models/work/tokenizer)")
    p.add_argument("--batch", type=int, default=64, help="prompts per generate call")
    p.add_argument("--max-new-tokens", type=int, default=64, help="cap on each prompt's own limit (engine: 48 or 20/line)")
    p.add_argument("--device", default="auto", help="auto | cuda | cpu")
    p.add_argument("--limit", type=int, default=0, help="only the first N prompts (0: all)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from models.dataset import load_tokenizer
    from models.train import load_base

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    tokenizer = load_tokenizer(args.tokenizer or default_tokenizer())
    rows = read_prompts(args.prompts)
    if args.limit:
        rows = rows[: args.limit]
    if not rows:
        raise SystemExit(f"{args.prompts}: no prompts")
    prompts = [tokenizer(r["prompt"], add_special_tokens=False)["input_ids"] for r in rows]
    # The FIM markers must be their special tokens, not their spelling in pieces.
    for marker, token in FIM_IDS.items():
        assert prompts[0].count(token) == rows[0]["prompt"].count(marker) == 1, (marker, prompts[0][:20])
    mismatched = sum(len(p) != r.get("prompt_tokens", len(p)) for p, r in zip(prompts, rows))
    if mismatched:
        print(f"warning: {mismatched} prompts tokenize to another length than at export", file=sys.stderr)
    limits = [min(r.get("max_new_tokens", args.max_new_tokens), args.max_new_tokens) for r in rows]
    stop_ids = set(tokenizer.added_tokens_decoder)  # 151643..: end-of-text, FIM markers, file_sep...
    pad_id = tokenizer.convert_tokens_to_ids("<|endoftext|>")

    t0 = time.monotonic()
    model = load_base(args.base, dtype, "sdpa")
    if args.adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(args.adapter))
    model = model.to(device).eval()
    print(f"{len(rows):,} prompts, {sum(map(len, prompts)):,} prompt tokens; model loaded on {device} "
          f"in {time.monotonic() - t0:.1f} s{' with adapter ' + str(args.adapter) if args.adapter else ''}", flush=True)

    t0 = time.monotonic()
    results = generate(model, prompts, limits, stop_ids, pad_id, args.batch, device)
    seconds = time.monotonic() - t0
    generated = sum(len(tokens) for tokens, _ in results)
    print(f"generated {generated:,} tokens for {len(rows):,} prompts in {seconds:.1f} s: "
          f"{len(rows) / seconds:.1f} prompts/s, {generated / seconds:,.0f} new tok/s, "
          f"{sum(map(len, prompts)) / seconds:,.0f} prompt tok/s", flush=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        for row, (tokens, finished) in zip(rows, results):
            text = tokenizer.decode(tokens, skip_special_tokens=False)
            out.write(json.dumps({"id": row["id"], "text": text, "finished": finished,
                                  "generated_tokens": len(tokens)}) + "\n")
    print(f"{len(rows):,} answers -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
