"""Train the LoRA adapter on packed FIM + next-token rows (models/dataset.py output).

    PYTHONPATH=server python -m models.train --data models/work/data --base /tmp/base.gguf \\
        --out models/work/run --preset gpu --set max_steps=1200 --time-budget-s 540

makes under --out:
    adapter/            the PEFT adapter (adapter_model.safetensors + adapter_config.json)
    log.jsonl           one line per log step (loss, lr, grad norm, tokens/s) and per eval
    train_report.json   config, data report hash, steps, tokens, tokens/s, losses, device
    probe.safetensors   logits of a fixed probe prompt (the adapter round-trip check)
    ckpt/               adapter + AdamW state (safetensors) + state.json, for --resume

The base model is the Q4_K_M GGUF loaded through transformers (dequantized; needs `gguf`),
or a directory saved by ``--save-base`` (same weights, loads in a second). bf16 weights with
fp32 LoRA parameters under autocast on CUDA, fp32 on CPU. Loss: token-mean cross entropy
over the rows' target tokens; logits are computed only at those positions, a chunk at a
time, inside one autograd function that also makes the gradient (no [tokens, 151936]
tensor is ever kept). Optional InfoNCE term (--set contrastive_weight=0.1) over mean-pooled
last hidden states of function-variant pairs, the other 2n-2 functions of the batch as
negatives. A run stopped by --time-budget-s checkpoints and exits with status "paused";
--resume continues it on the same schedule and data order.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models.config import PRESETS, TrainConfig, check_overrides, override
from asm_lsp.model.store import sha256_file
from models.dataset import EOT_ID, ID_MASK

PROBE_IDS = [151661, 198, 151659, 2122, 151660]  # <|fim_suffix|>\n<|fim_prefix|>ret<|fim_middle|>


# --------------------------------------------------------------------------- model

def fix_gguf_config(config) -> None:
    """A GGUF-loaded config names no architecture and carries quantization_config: fix both."""
    config.architectures = ["Qwen2ForCausalLM"]
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.use_cache = False


def load_base(base: Path, dtype: torch.dtype, attn: str):
    """The base model from the GGUF (dequantized) or from a --save-base directory."""
    from transformers import AutoModelForCausalLM

    base = Path(base)
    if base.suffix == ".gguf":
        model = AutoModelForCausalLM.from_pretrained(str(base.parent), gguf_file=base.name,
                                                     dtype=dtype, attn_implementation=attn)
    else:
        model = AutoModelForCausalLM.from_pretrained(str(base), dtype=dtype, attn_implementation=attn)
    fix_gguf_config(model.config)
    return model


def save_hf_base(gguf: Path, out: Path, dtype: torch.dtype = torch.bfloat16, weights: bool = True) -> Path:
    """Save the GGUF's model as a transformers directory (config fixed; safetensors)."""
    from safetensors.torch import save_file

    model = load_base(gguf, dtype, "sdpa")
    out.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(str(out))
    if weights:
        # save_pretrained refuses a model that came through the GGUF quantizer; the weights
        # are plain dequantized tensors, so write them directly.
        state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    return out


def tiny_base(tcfg: TrainConfig, seq_len: int, attn: str):
    """A randomly initialised Qwen2 of the base's architecture and vocabulary, tiny sizes."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(tcfg.seed)
    config = Qwen2Config(vocab_size=151936, max_position_embeddings=max(4096, seq_len),
                         tie_word_embeddings=False, rope_theta=1_000_000.0,
                         attn_implementation=attn, use_cache=False, **tcfg.tiny_model)
    config.architectures = ["Qwen2ForCausalLM"]
    return Qwen2ForCausalLM(config)


def add_lora(model, tcfg: TrainConfig):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(tcfg.seed + 1)
    lora = LoraConfig(r=tcfg.lora_r, lora_alpha=tcfg.lora_alpha, lora_dropout=tcfg.lora_dropout,
                      target_modules=list(tcfg.target_modules), bias="none", task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, lora)  # adapters in fp32 even on a bf16 base
    for module in peft_model.modules():
        if hasattr(module, "cast_input_dtype_enabled"):
            module.cast_input_dtype_enabled = False  # autocast picks dtypes; no fp32 copy of x
    return peft_model


def parts(peft_model):
    """(decoder stack, lm_head) of a PEFT-wrapped Qwen2ForCausalLM."""
    causal = peft_model.base_model.model
    return causal.model, causal.lm_head


# --------------------------------------------------------------------------- loss

class LinearCrossEntropy(torch.autograd.Function):
    """sum_i CE(h_i @ W.T, t_i) for a frozen W, `chunk` rows at a time; the gradient for h
    is made in the forward pass, so no logits outlive their chunk."""

    @staticmethod
    def forward(ctx, h, weight, targets, chunk):  # noqa: D401
        need_grad = ctx.needs_input_grad[0]
        total = torch.zeros((), dtype=torch.float32, device=h.device)
        grad_h = torch.empty_like(h) if need_grad else None
        for s in range(0, h.shape[0], chunk):
            hc = h[s:s + chunk].to(weight.dtype)
            logits = (hc @ weight.T).float()
            lse = torch.logsumexp(logits, dim=-1)
            tgt = targets[s:s + chunk]
            total += (lse - logits.gather(1, tgt[:, None]).squeeze(1)).sum()
            if need_grad:
                probs = logits.sub_(lse[:, None]).exp_()
                probs[torch.arange(tgt.shape[0], device=h.device), tgt] -= 1.0
                grad_h[s:s + chunk] = (probs.to(weight.dtype) @ weight).to(h.dtype)
            del logits
        ctx.save_for_backward(grad_h if need_grad else torch.empty(0))
        return total

    @staticmethod
    def backward(ctx, grad_out):
        (grad_h,) = ctx.saved_tensors
        return grad_h * grad_out.to(grad_h.dtype), None, None, None


def decode(x: torch.Tensor, doc_masking: str) -> tuple[torch.Tensor, ...]:
    """(ids, position ids, target ids, target mask) of packed uint32 rows held as int64."""
    ids = x & ID_MASK
    start = ((x >> 30) & 1).bool()
    loss = ((x >> 31) & 1).bool()
    ar = torch.arange(x.shape[1], device=x.device).expand_as(x)
    if doc_masking == "none":
        pos = ar
    else:
        pos = ar - torch.where(start, ar, torch.zeros_like(ar)).cummax(dim=1).values
    tmask = loss[:, 1:] & ~start[:, 1:]
    return ids, pos, ids[:, 1:], tmask


def hidden_states(backbone, ids, pos, doc_masking: str):
    # "block": no attention_mask -> transformers derives a block-diagonal mask from the reset
    # position ids. Otherwise an all-ones mask keeps the plain causal (fast) kernel.
    mask = None if doc_masking == "block" else torch.ones_like(ids)
    return backbone(input_ids=ids, position_ids=pos, attention_mask=mask,
                    use_cache=False).last_hidden_state


def lm_loss_sum(backbone, lm_head, x, tcfg: TrainConfig) -> tuple[torch.Tensor, int]:
    ids, pos, targets, tmask = decode(x, tcfg.doc_masking)
    if tcfg.loss_impl == "full":  # the textbook way, for comparison: logits at every position
        logits = lm_head(hidden_states(backbone, ids, pos, tcfg.doc_masking)[:, :-1]).float()
        labels = torch.where(tmask, targets, torch.full_like(targets, -100))
        total = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                ignore_index=-100, reduction="sum")
        return total, int(tmask.sum())
    h = hidden_states(backbone, ids, pos, tcfg.doc_masking)[:, :-1][tmask]
    total = LinearCrossEntropy.apply(h, lm_head.weight, targets[tmask], tcfg.ce_chunk_tokens)
    return total, int(tmask.sum())


def pooled(backbone, ids: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
    """Mean of the last hidden states over each sequence's real tokens, L2-normalised."""
    mask = torch.arange(ids.shape[1], device=ids.device)[None, :] < lens[:, None]
    h = backbone(input_ids=ids, attention_mask=mask.long(), use_cache=False).last_hidden_state
    m = mask.unsqueeze(-1).to(h.dtype)
    return F.normalize(((h * m).sum(1) / m.sum(1)).float(), dim=-1)


def info_nce(backbone, ids: torch.Tensor, lens: torch.Tensor, temperature: float) -> tuple[torch.Tensor, float]:
    """NT-Xent over n pairs: each of the 2n functions' positive is its variant, the rest negatives."""
    n = ids.shape[0]
    emb = pooled(backbone, ids.reshape(2 * n, -1), lens.reshape(2 * n))
    sim = emb @ emb.T / temperature
    sim.fill_diagonal_(float("-inf"))
    partner = torch.arange(2 * n, device=ids.device) ^ 1  # rows are (a0, b0, a1, b1, ...)
    loss = F.cross_entropy(sim, partner)
    acc = (sim.argmax(1) == partner).float().mean().item()
    return loss, acc


# --------------------------------------------------------------------------- data

class Rows:
    """Packed rows on disk; step k's micro-batch m takes the next rows of a per-epoch permutation."""

    def __init__(self, path: Path, seed: int):
        self.rows = np.load(path, mmap_mode="r")
        self.seed = seed
        self._perms: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return self.rows.shape[0]

    def indices(self, first: int, count: int) -> np.ndarray:
        n = len(self)
        out = np.empty(count, dtype=np.int64)
        for k in range(count):
            epoch, i = divmod(first + k, n)
            if epoch not in self._perms:
                self._perms[epoch] = np.random.default_rng(self.seed + epoch).permutation(n)
            out[k] = self._perms[epoch][i]
        return out

    def batch(self, first: int, count: int, device: torch.device) -> torch.Tensor:
        idx = np.sort(self.indices(first, count))
        x = torch.from_numpy(self.rows[idx].astype(np.int64))
        if device.type == "cuda":
            x = x.pin_memory()
        return x.to(device, non_blocking=True)

    def loss_tokens(self, first: int, count: int) -> int:
        rows = self.rows[np.sort(self.indices(first, count))]
        loss = (rows >> 31) & 1
        start = (rows >> 30) & 1
        return int((loss[:, 1:] & (1 - start[:, 1:])).sum())


class Pairs:
    """Function-variant pairs for the contrastive term: step k draws its own random pairs."""

    def __init__(self, path: Path, seed: int):
        with np.load(path) as data:
            self.ids = data["ids"].astype(np.int64)
            self.lens = data["lens"].astype(np.int64)
        self.seed = seed

    def batch(self, step: int, n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        pick = np.random.default_rng([self.seed, step]).choice(len(self.ids), size=min(n, len(self.ids)),
                                                              replace=False)
        width = min(self.ids.shape[2], -(-int(self.lens[pick].max()) // 64) * 64)  # few shapes: compile
        return (torch.from_numpy(self.ids[pick, :, :width].copy()).to(device),
                torch.from_numpy(self.lens[pick].copy()).to(device))


# --------------------------------------------------------------------------- checkpoints

def lora_state(peft_model) -> dict[str, torch.Tensor]:
    from peft import get_peft_model_state_dict

    return {k: v.detach().contiguous().cpu() for k, v in get_peft_model_state_dict(peft_model).items()}


def save_checkpoint(out: Path, peft_model, optimizer, params: dict[str, torch.nn.Parameter],
                    state: dict) -> None:
    from safetensors.torch import save_file

    ckpt = out / "ckpt"
    tmp = out / "ckpt.tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    save_file(lora_state(peft_model), str(tmp / "adapter_model.safetensors"))
    opt: dict[str, torch.Tensor] = {}
    for name, p in params.items():
        st = optimizer.state.get(p, {})
        for key in ("exp_avg", "exp_avg_sq", "step"):
            if key in st:
                opt[f"{name}::{key}"] = st[key].detach().reshape(st[key].shape).contiguous().cpu()
    save_file(opt, str(tmp / "optimizer.safetensors"))
    (tmp / "state.json").write_text(json.dumps(state) + "\n")
    if ckpt.exists():
        for f in ckpt.iterdir():
            f.unlink()
        ckpt.rmdir()
    tmp.rename(ckpt)


def load_checkpoint(out: Path, peft_model, optimizer, params: dict[str, torch.nn.Parameter]) -> dict:
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    ckpt = out / "ckpt"
    set_peft_model_state_dict(peft_model, load_file(str(ckpt / "adapter_model.safetensors")))
    opt = load_file(str(ckpt / "optimizer.safetensors"))
    sd = optimizer.state_dict()
    index = {id(p): i for i, p in enumerate(p for g in optimizer.param_groups for p in g["params"])}
    for name, p in params.items():
        entry = {key: opt[f"{name}::{key}"] for key in ("exp_avg", "exp_avg_sq", "step")
                 if f"{name}::{key}" in opt}
        if entry:
            sd["state"][index[id(p)]] = entry
    optimizer.load_state_dict(sd)
    return json.loads((ckpt / "state.json").read_text())


# --------------------------------------------------------------------------- main

def lr_at(step: int, tcfg: TrainConfig) -> float:
    """Linear warmup, then cosine from lr to lr * min_lr_ratio at max_steps."""
    if step < tcfg.warmup_steps:
        return tcfg.lr * (step + 1) / tcfg.warmup_steps
    progress = min(1.0, (step - tcfg.warmup_steps) / max(1, tcfg.max_steps - tcfg.warmup_steps))
    return tcfg.lr * (tcfg.min_lr_ratio + (1 - tcfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


@torch.no_grad()
def evaluate(backbone, lm_head, sets: dict[str, np.ndarray], pairs: Pairs | None,
             tcfg: TrainConfig, device: torch.device, autocast) -> dict:
    out = {}
    for name, rows in sets.items():
        total, count = 0.0, 0
        for s in range(0, rows.shape[0], tcfg.micro_batch_rows):
            x = torch.from_numpy(rows[s:s + tcfg.micro_batch_rows].astype(np.int64)).to(device)
            with autocast():
                loss, n = lm_loss_sum(backbone, lm_head, x, tcfg)
            total += float(loss)
            count += n
        out[name] = total / max(count, 1)
    if pairs is not None:
        ids, lens = pairs.batch(0, 4 * tcfg.contrastive_pairs, device)  # the same pairs every time
        with autocast():
            loss, acc = info_nce(backbone, ids, lens, tcfg.contrastive_temperature)
        out["valid_pairs_nce"], out["valid_pairs_top1"] = float(loss), acc
    return out


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=False, help="models/dataset.py output directory")
    parser.add_argument("--base", type=Path, default=None,
                        help="base .gguf or --save-base directory (not needed for --preset tiny)")
    parser.add_argument("--out", type=Path, required=True, help="run directory (or --save-base target)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="gpu", help="config preset")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override one TrainConfig field (repeatable)")
    parser.add_argument("--resume", action="store_true", help="continue from --out/ckpt")
    parser.add_argument("--time-budget-s", type=float, default=0.0,
                        help="checkpoint and stop (status paused) before this many seconds pass")
    parser.add_argument("--stop-after-steps", type=int, default=0, help="pause at this step (tests)")
    parser.add_argument("--bench-steps", type=int, default=0,
                        help="speed run: time this many steps after --bench-warmup, save nothing")
    parser.add_argument("--bench-warmup", type=int, default=3, help="untimed steps before a speed run")
    parser.add_argument("--bench-out", type=Path, default=None, help="append the speed result (JSONL)")
    parser.add_argument("--save-base", action="store_true",
                        help="only save --base (a .gguf) as a transformers directory at --out")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Train (or resume, or time) one run; return the report that is also written to disk."""
    args = parse_args(argv)
    check_overrides(args.set)
    tcfg = override(PRESETS[args.preset][1], args.set)
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if (tcfg.dtype == "auto" and cuda) or tcfg.dtype == "bf16" else torch.float32
    if args.save_base:
        save_hf_base(args.base, args.out, dtype)
        print(f"base saved to {args.out}")
        return {"status": "saved"}
    data_report = json.loads((args.data / "report.json").read_text())
    seq_len = data_report["config"]["seq_len"]
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    torch.backends.cuda.matmul.allow_tf32 = True
    started = time.time()

    model = tiny_base(tcfg, seq_len, tcfg.attn_implementation) if tcfg.tiny_model else \
        load_base(args.base, dtype, tcfg.attn_implementation)
    model = model.to(device=device, dtype=dtype)
    peft_model = add_lora(model, tcfg)
    backbone, lm_head = parts(peft_model)
    if tcfg.compile:
        for layer in backbone.layers:
            layer.compile()
    params = {n: p for n, p in peft_model.named_parameters() if p.requires_grad}
    n_params = sum(p.numel() for p in params.values())
    optimizer = torch.optim.AdamW(list(params.values()), lr=tcfg.lr, betas=tcfg.betas,
                                  weight_decay=tcfg.weight_decay, **({"fused": True} if cuda else {}))

    def autocast():
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda and dtype == torch.bfloat16)

    train_rows = Rows(args.data / "train.u32.npy", tcfg.seed)
    valid_sets = {name: np.load(args.data / f"{name}.u32.npy")[:tcfg.eval_rows]
                  for name in ("valid_fim", "valid_plain") if (args.data / f"{name}.u32.npy").exists()}
    use_pairs = tcfg.contrastive_weight > 0 and (args.data / "pairs_train.npz").exists()
    pairs = Pairs(args.data / "pairs_train.npz", tcfg.seed) if use_pairs else None
    valid_pairs = Pairs(args.data / "pairs_valid.npz", tcfg.seed) \
        if use_pairs and (args.data / "pairs_valid.npz").exists() else None
    rows_per_step = tcfg.micro_batch_rows * tcfg.grad_accum

    state = {"step": 0, "tokens": 0, "loss_tokens": 0, "train_seconds": 0.0, "losses": [], "evals": []}
    if args.resume and (out / "ckpt" / "state.json").exists():
        state = load_checkpoint(out, peft_model, optimizer, params)
        print(f"resumed at step {state['step']}", flush=True)
    log = (out / "log.jsonl").open("a") if not args.bench_steps else None

    def record(entry: dict) -> None:
        print(json.dumps(entry), flush=True)
        if log:
            log.write(json.dumps(entry) + "\n")
            log.flush()

    print(f"model ready in {time.time() - started:.0f} s: {n_params:,} trainable params, "
          f"{len(train_rows):,} train rows x {seq_len}, {rows_per_step * seq_len:,} tokens/step, "
          f"device {torch.cuda.get_device_name() if cuda else 'cpu'}", flush=True)
    if not state["evals"] and not args.bench_steps:
        peft_model.eval()
        ev = evaluate(backbone, lm_head, valid_sets, valid_pairs, tcfg, device, autocast)
        state["evals"].append({"step": 0, **ev})
        record({"eval": True, "step": 0, **ev})
    peft_model.train()

    bench_end = args.bench_warmup + args.bench_steps
    last_step_s = 0.0
    status = "done"
    timed_from = None
    window_t, window_tokens = time.time(), 0
    while state["step"] < (bench_end if args.bench_steps else tcfg.max_steps):
        step = state["step"]
        if args.stop_after_steps and step >= args.stop_after_steps:
            status = "paused"
            break
        if args.time_budget_s and time.time() - started + 1.5 * last_step_s + 30 > args.time_budget_s:
            status = "paused"
            break
        if args.bench_steps and step == args.bench_warmup:
            if cuda:
                torch.cuda.synchronize()
            timed_from = time.time()
        t0 = time.time()
        first_row = step * rows_per_step
        n_target = train_rows.loss_tokens(first_row, rows_per_step)
        lr = lr_at(step, tcfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        total_loss = 0.0
        for m in range(tcfg.grad_accum):
            x = train_rows.batch(first_row + m * tcfg.micro_batch_rows, tcfg.micro_batch_rows, device)
            with autocast():
                loss_sum, _ = lm_loss_sum(backbone, lm_head, x, tcfg)
                loss = loss_sum / max(n_target, 1)
            loss.backward()
            total_loss += float(loss.detach()) if not args.bench_steps else 0.0
        nce = acc = None
        if pairs is not None:
            ids, lens = pairs.batch(step, tcfg.contrastive_pairs, device)
            with autocast():
                nce_loss, acc = info_nce(backbone, ids, lens, tcfg.contrastive_temperature)
            (tcfg.contrastive_weight * nce_loss).backward()
            nce = float(nce_loss.detach())
        grad_norm = torch.nn.utils.clip_grad_norm_(list(params.values()), tcfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        state["step"] = step + 1
        state["tokens"] += rows_per_step * seq_len
        state["loss_tokens"] += n_target
        window_tokens += rows_per_step * seq_len
        if cuda and (state["step"] % tcfg.log_every == 0 or args.bench_steps):
            torch.cuda.synchronize()
        last_step_s = time.time() - t0
        state["train_seconds"] += last_step_s
        if not args.bench_steps:
            state["losses"].append([state["step"], total_loss])
        if state["step"] % tcfg.log_every == 0 and not args.bench_steps:
            now = time.time()
            record({"step": state["step"], "loss": round(total_loss, 4), "lr": lr,
                    "grad_norm": round(float(grad_norm), 4), "tokens": state["tokens"],
                    "tokens_per_s": round(window_tokens / (now - window_t)),
                    **({"nce": round(nce, 4), "nce_top1": acc} if nce is not None else {})})
            window_t, window_tokens = now, 0
        if not args.bench_steps and (state["step"] % tcfg.eval_every == 0 or state["step"] == tcfg.max_steps):
            peft_model.eval()
            ev = evaluate(backbone, lm_head, valid_sets, valid_pairs, tcfg, device, autocast)
            peft_model.train()
            state["evals"].append({"step": state["step"], **ev})
            record({"eval": True, "step": state["step"], **ev})
        if not args.bench_steps and state["step"] % tcfg.ckpt_every == 0:
            save_checkpoint(out, peft_model, optimizer, params, state)

    if args.bench_steps:
        if cuda:
            torch.cuda.synchronize()
        seconds = time.time() - timed_from
        result = {"config": {k: v for k, v in asdict(tcfg).items() if k != "tiny_model"},
                  "seq_len": seq_len, "steps": args.bench_steps, "seconds": round(seconds, 3),
                  "tokens_per_s": round(args.bench_steps * rows_per_step * seq_len / seconds),
                  "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
                  "device": torch.cuda.get_device_name() if cuda else "cpu",
                  "setup_s": round(timed_from - started, 1)}
        print(json.dumps(result), flush=True)
        if args.bench_out:
            with args.bench_out.open("a") as handle:
                handle.write(json.dumps(result) + "\n")
        return result

    save_checkpoint(out, peft_model, optimizer, params, state)
    report = {
        "status": status, "step": state["step"], "max_steps": tcfg.max_steps,
        "config": {k: v for k, v in asdict(tcfg).items()},
        "data": {"dir": str(args.data), "report_sha256": sha256_file(args.data / "report.json"),
                 "data_manifest_sha256": data_report.get("data_manifest_sha256"),
                 "seq_len": seq_len, "train_rows": len(train_rows)},
        "data_config": data_report["config"],
        "base": str(args.base) if args.base else "tiny random Qwen2",
        "trainable_params": n_params, "tokens": state["tokens"], "loss_tokens": state["loss_tokens"],
        "train_seconds": round(state["train_seconds"], 1),
        "tokens_per_s": round(state["tokens"] / max(state["train_seconds"], 1e-9)),
        # median of the logged windows: leaves out compile warm-up and evaluations
        "tokens_per_s_steady": _steady_rate(out / "log.jsonl"),
        "train_loss_first": state["losses"][0][1] if state["losses"] else None,
        "train_loss_last": state["losses"][-1][1] if state["losses"] else None,
        "evals": state["evals"],
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "torch": torch.__version__,
    }
    if status == "done":
        peft_model.peft_config["default"].base_model_name_or_path = "Qwen2.5-Coder-0.5B-Instruct-Q4_K_M"
        peft_model.save_pretrained(str(out / "adapter"), safe_serialization=True)
        peft_model.eval()
        with torch.no_grad(), autocast():
            logits = peft_model(input_ids=torch.tensor([PROBE_IDS], device=device)).logits.float().cpu()
        from safetensors.torch import save_file

        save_file({"probe_ids": torch.tensor(PROBE_IDS), "logits": logits.contiguous()},
                  str(out / "probe.safetensors"))
        report["adapter_sha256"] = sha256_file(out / "adapter" / "adapter_model.safetensors")
    (out / "train_report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"{status} at step {state['step']}: {state['tokens']:,} tokens, "
          f"{report['tokens_per_s']:,} tokens/s, loss {report['train_loss_first']} -> "
          f"{report['train_loss_last']}", flush=True)
    if log:
        log.close()
    return report


def _steady_rate(log: Path) -> int | None:
    rates = [e["tokens_per_s"] for e in map(json.loads, log.read_text().splitlines())
             if "tokens_per_s" in e] if log.exists() else []
    return int(np.median(rates)) if rates else None


def load_trained(out: Path, base: Path | None = None, device: str = "cpu"):
    """The base model with the run's saved adapter, in eval mode (fp32 on CPU)."""
    from peft import PeftModel

    report = json.loads((Path(out) / "train_report.json").read_text())
    tcfg = TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in report["config"].items()})
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    model = tiny_base(tcfg, report["data"]["seq_len"], "sdpa") if tcfg.tiny_model else \
        load_base(base or Path(report["base"]), dtype, "sdpa")
    model = PeftModel.from_pretrained(model.to(device=device, dtype=dtype), str(Path(out) / "adapter"))
    return model.eval()


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    result = main()
    sys.exit(0 if result.get("status") in ("done", "paused", "saved", None) else 1)
