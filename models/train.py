"""Train the LoRA adapter on packed FIM + next-token rows (models/dataset.py output).

    PYTHONPATH=server:. python -m models.train run --data models/work/data --base /tmp/base.gguf \
        --out models/work/run --preset gpu --set max_steps=1200 --time-budget-s 540
    torchrun --nproc_per_node 8 -m models.train run ...        # the same run on 8 GPUs
    python -m models.train speed --data ... --base ... --steps 10 --bench-out speed.jsonl
    python -m models.train save-base --base /tmp/base.gguf --out /tmp/base-hf
    python -m models.train adapter-dir --gguf server/asm_lsp/data/asm-lora.gguf --out /tmp/round2

``run`` makes under --out:
    adapter/            the PEFT adapter (adapter_model.safetensors + adapter_config.json)
    log.jsonl           one line per log step (loss, lr, grad norm, tokens/s) and per eval
    train_report.json   config, data report hash, steps, tokens, tokens/s, losses, device
    probe.safetensors   logits of a fixed probe prompt (the adapter round-trip check)
    ckpt/               adapter + AdamW state (safetensors) + state.json, for --resume

The base model is the Q4_K_M GGUF loaded through transformers (dequantized; needs `gguf`),
or a directory written by ``save-base`` (same weights, loads in a second). bf16 weights with
fp32 LoRA parameters under autocast on CUDA, fp32 on CPU. Loss: token-mean cross entropy
over the rows' target tokens; logits are computed only at those positions, a chunk at a
time, inside one autograd function that also makes the gradient (no [tokens, 151936]
tensor is ever kept). Optional InfoNCE term (--set contrastive_weight=0.1) over mean-pooled
last hidden states of function-variant pairs, the other 2n-2 functions of the batch as
negatives. A run stopped by --time-budget-s checkpoints and exits with status "paused"
(with --fit-budget the schedule is first cut to what the budget can take, so it ends "done");
--resume continues it on the same schedule and data order. --init-adapter starts from a trained
adapter (a PEFT directory, or the shipped GGUF LoRA itself) instead of PEFT's fresh one.

Several processes (``torchrun`` or ``accelerate launch``; NCCL on GPUs, gloo on CPUs) share
each optimizer step: the step's rows (``micro_batch_rows x grad_accum``, the config's batch
whatever the process count) are split evenly, the gradients summed, and every process takes
the same step (see ``Ranks``); rank 0 evaluates and writes everything. So a run, its resume
and its result are the same on 1 or N processes, only faster; the report lists the rows each
rank trained. ``speed`` times steps (tokens/s in all and per process); ``save-base`` writes
the dequantized base once as a transformers directory (loads in a second).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models.config import PRESETS, TrainConfig, check_overrides, override
from asm_lsp.model.store import sha256_file
from models.dataset import EOT_ID, FIM_MIDDLE_ID, ID_MASK

PROBE_IDS = [151661, 198, 151659, 2122, 151660]  # <|fim_suffix|>\n<|fim_prefix|>ret<|fim_middle|>


# --------------------------------------------------------------------------- model

def fix_gguf_config(config) -> None:
    """A GGUF-loaded config names no architecture and carries quantization_config: fix both."""
    config.architectures = ["Qwen2ForCausalLM"]
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.use_cache = False


def load_base(base: Path, dtype: torch.dtype, attn: str):
    """The base model from the GGUF (dequantized) or from a ``save-base`` directory."""
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


def fim_targets(x: torch.Tensor) -> torch.Tensor:
    """Which of decode()'s target positions are FIM middles: a <|fim_middle|> came earlier in the
    same document (the rest are plain function text). Same shape as decode()'s target mask."""
    ids = x & ID_MASK
    start = ((x >> 30) & 1).bool()
    ar = torch.arange(x.shape[1], device=x.device).expand_as(x)
    last_start = torch.where(start, ar, torch.zeros_like(ar)).cummax(dim=1).values
    last_mid = torch.where(ids == FIM_MIDDLE_ID, ar, torch.full_like(ar, -1)).cummax(dim=1).values
    return (last_mid >= last_start)[:, :-1]  # target i+1 is predicted at position i


def target_weight_sum(rows: np.ndarray, plain_weight: float) -> float:
    """decode()'s target count with plain-text targets weighted by ``plain_weight`` (numpy, the
    step's normaliser, computed before the forward passes): FIM middles count 1."""
    x = torch.from_numpy(rows.astype(np.int64))
    *_, tmask = decode(x, "none")  # "none": no position ids needed, only the target mask
    n_all = int(tmask.sum())
    if plain_weight == 1.0:
        return float(n_all)
    n_fim = int((tmask & fim_targets(x)).sum())
    return n_fim + plain_weight * (n_all - n_fim)


def hidden_states(backbone, ids, pos, doc_masking: str):
    # "block": no attention_mask -> transformers derives a block-diagonal mask from the reset
    # position ids. Otherwise an all-ones mask keeps the plain causal (fast) kernel.
    mask = None if doc_masking == "block" else torch.ones_like(ids)
    return backbone(input_ids=ids, position_ids=pos, attention_mask=mask,
                    use_cache=False).last_hidden_state


def lm_loss_sum(backbone, lm_head, x, tcfg: TrainConfig) -> tuple[torch.Tensor, int]:
    """Summed target-token cross entropy of rows ``x`` and the target count. With
    ``plain_loss_weight`` < 1 plain-text targets count that much and FIM middles 1 (the sum is
    then weighted; divide by ``target_weight_sum``)."""
    ids, pos, targets, tmask = decode(x, tcfg.doc_masking)
    if tcfg.loss_impl == "full":  # the textbook way, for comparison: logits at every position
        logits = lm_head(hidden_states(backbone, ids, pos, tcfg.doc_masking)[:, :-1]).float()
        labels = torch.where(tmask, targets, torch.full_like(targets, -100))
        per_token = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                    ignore_index=-100, reduction="none").reshape(labels.shape)
        if tcfg.plain_loss_weight != 1.0:
            per_token = per_token * torch.where(fim_targets(x), 1.0, tcfg.plain_loss_weight)
        return per_token.sum(), int(tmask.sum())
    h = hidden_states(backbone, ids, pos, tcfg.doc_masking)[:, :-1]
    if tcfg.plain_loss_weight == 1.0:
        total = LinearCrossEntropy.apply(h[tmask], lm_head.weight, targets[tmask], tcfg.ce_chunk_tokens)
        return total, int(tmask.sum())
    fim = fim_targets(x)
    total = h.new_zeros((), dtype=torch.float32)
    for mask, weight in ((tmask & fim, 1.0), (tmask & ~fim, tcfg.plain_loss_weight)):
        if weight and bool(mask.any()):
            total = total + weight * LinearCrossEntropy.apply(h[mask], lm_head.weight, targets[mask],
                                                              tcfg.ce_chunk_tokens)
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

    def __init__(self, path: Path, seed: int, plain_weight: float = 1.0):
        self.rows = np.load(path, mmap_mode="r")
        self.seed = seed
        self.plain_weight = plain_weight
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
        """The step's target-token count, plain text weighted by ``plain_weight`` (FIM middles 1)."""
        return target_weight_sum(self.rows[np.sort(self.indices(first, count))], self.plain_weight)


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


# GGUF LoRA tensor names (llama.cpp's for Qwen2) -> the PEFT module path under layers.N
GGUF_LORA_MODULES = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
                     "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
                     "ffn_down": "mlp.down_proj"}


def adapter_file(path: Path) -> Path:
    """The file holding an adapter's weights: a PEFT directory's adapter_model.safetensors, else
    ``path`` itself (a .safetensors or GGUF LoRA file)."""
    return path / "adapter_model.safetensors" if path.is_dir() else path


def adapter_state(path: Path) -> tuple[dict[str, torch.Tensor], float | None]:
    """A trained adapter's LoRA matrices under PEFT's state-dict names, and its alpha where the
    file says: a PEFT directory (or its adapter_model.safetensors), or a GGUF LoRA as shipped
    (``asm-lora.gguf``: llama.cpp's names, A as (r, n_in), B as (n_out, r), as PEFT has them)."""
    path = Path(path)
    if path.suffix != ".gguf":
        from safetensors.torch import load_file

        file = adapter_file(path)
        config = file.parent / "adapter_config.json"
        alpha = json.loads(config.read_text()).get("lora_alpha") if config.exists() else None
        return {k: v.float() for k, v in load_file(str(file)).items()}, alpha
    import gguf
    from asm_lsp.model.lora_merge import _tensor_array, read_header

    header = read_header(path)
    state: dict[str, torch.Tensor] = {}
    for tensor in header.tensors:
        stem, _, ab = tensor.name.rpartition(".")  # blk.N.attn_q.weight . lora_a
        parts_ = stem.split(".")
        if len(parts_) != 4 or parts_[0] != "blk" or parts_[2] not in GGUF_LORA_MODULES or ab not in ("lora_a", "lora_b"):
            raise ValueError(f"{path}: unexpected tensor {tensor.name} in a LoRA GGUF")
        values = np.array(_tensor_array(path, header, tensor, gguf), dtype=np.float32)
        key = f"base_model.model.model.layers.{parts_[1]}.{GGUF_LORA_MODULES[parts_[2]]}.lora_{ab[-1].upper()}.weight"
        state[key] = torch.from_numpy(values)
    return state, header.metadata.get("adapter.lora.alpha")


def init_adapter(peft_model, path: Path, tcfg: TrainConfig) -> None:
    """Start the LoRA from a trained adapter (a warm start: round two's, a 1.5B round's), after
    checking that it has every matrix, the config's rank and alpha, and the model's shapes."""
    from peft import get_peft_model_state_dict, set_peft_model_state_dict

    state, alpha = adapter_state(path)
    own = get_peft_model_state_dict(peft_model)
    if set(state) != set(own):
        odd = sorted(set(state) ^ set(own))[:3]
        raise SystemExit(f"--init-adapter {path}: its matrices differ from the model's LoRA ({odd} ...)")
    for key, value in state.items():
        if tuple(value.shape) != tuple(own[key].shape):
            raise SystemExit(f"--init-adapter {path}: {key} is {tuple(value.shape)}, the model's "
                             f"{tuple(own[key].shape)} (rank {tcfg.lora_r}; another base size?)")
    if alpha is not None and float(alpha) != float(tcfg.lora_alpha):
        raise SystemExit(f"--init-adapter {path}: alpha {alpha}, the config's {tcfg.lora_alpha}")
    set_peft_model_state_dict(peft_model, state)


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


# --------------------------------------------------------------------------- ranks

@dataclass
class Ranks:
    """This process's place among the data-parallel processes that ``torchrun`` or
    ``accelerate launch`` started (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``); one process
    alone is rank 0 of 1 and no collective is ever called.

    Every rank holds the same model and optimizer state. A step's rows are split between the
    ranks; each makes the gradient of its rows (loss summed over them, divided by the step's
    target tokens on all ranks), the gradients are summed across ranks, and every rank takes
    the same optimizer step: the same training as one process, only faster.
    """

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0 evaluates and writes logs, checkpoints, the adapter and the report."""
        return self.rank == 0

    @classmethod
    def from_env(cls, cuda: bool) -> Ranks:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world == 1:
            return cls()
        import torch.distributed as dist

        rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        if cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl" if cuda else "gloo")  # gloo: CPU processes (CI)
        return cls(rank, world, local_rank)

    def device(self, cuda: bool) -> torch.device:
        return torch.device("cuda", self.local_rank) if cuda else torch.device("cpu")

    def sum_(self, tensors: list[torch.Tensor]) -> None:
        """Sum ``tensors`` (same shapes on every rank) across ranks, in place, in one call."""
        if self.world == 1:
            return
        import torch.distributed as dist

        flat = torch.cat([t.reshape(-1).float() for t in tensors])
        dist.all_reduce(flat)
        offset = 0
        for t in tensors:
            t.copy_(flat[offset:offset + t.numel()].view_as(t))
            offset += t.numel()

    def any(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is True on any: ranks stop together (a rank that
        stopped alone would leave the others waiting in a collective)."""
        if self.world == 1:
            return flag
        import torch.distributed as dist

        t = torch.tensor([float(flag)], device=self.device(dist.get_backend() == "nccl"))
        dist.all_reduce(t)
        return bool(t.item() > 0)

    def broadcast_(self, tensors: list[torch.Tensor]) -> None:
        """Rank 0's values into ``tensors`` on every rank."""
        if self.world == 1:
            return
        import torch.distributed as dist

        for t in tensors:
            dist.broadcast(t.data, 0)

    def gather(self, obj: object) -> list:
        """Every rank's ``obj``, in rank order (on every rank)."""
        if self.world == 1:
            return [obj]
        import torch.distributed as dist

        out: list = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def close(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()
            dist.destroy_process_group()


# --------------------------------------------------------------------------- the trainer

@dataclass
class Trainer:
    """One run's model, optimizer and data on this rank; ``step`` is one optimizer step."""

    tcfg: TrainConfig
    ranks: Ranks
    device: torch.device
    dtype: torch.dtype
    seq_len: int
    peft_model: object
    params: dict[str, torch.nn.Parameter]
    optimizer: torch.optim.Optimizer
    train_rows: Rows
    valid_sets: dict[str, np.ndarray]
    pairs: Pairs | None
    valid_pairs: Pairs | None
    rows_trained: list[int] = field(default_factory=list)  # this rank's row indices, in order

    @classmethod
    def build(cls, data: Path, base: Path | None, tcfg: TrainConfig, ranks: Ranks,
              init: Path | None = None) -> Trainer:
        cuda = torch.cuda.is_available()
        device = ranks.device(cuda)
        dtype = torch.bfloat16 if (tcfg.dtype == "auto" and cuda) or tcfg.dtype == "bf16" else torch.float32
        seq_len = json.loads((data / "report.json").read_text())["config"]["seq_len"]
        torch.backends.cuda.matmul.allow_tf32 = True
        model = tiny_base(tcfg, seq_len, tcfg.attn_implementation) if tcfg.tiny_model else \
            load_base(base, dtype, tcfg.attn_implementation)
        peft_model = add_lora(model.to(device=device, dtype=dtype), tcfg)
        if init is not None:
            init_adapter(peft_model, init, tcfg)
        if tcfg.compile:
            for layer in parts(peft_model)[0].layers:
                layer.compile()
        params = {n: p for n, p in peft_model.named_parameters() if p.requires_grad}
        ranks.broadcast_(list(params.values()))  # seeded alike already; rank 0's is the truth
        optimizer = torch.optim.AdamW(list(params.values()), lr=tcfg.lr, betas=tcfg.betas,
                                      weight_decay=tcfg.weight_decay, **({"fused": True} if cuda else {}))
        use_pairs = tcfg.contrastive_weight > 0 and (data / "pairs_train.npz").exists()
        return cls(
            tcfg=tcfg, ranks=ranks, device=device, dtype=dtype, seq_len=seq_len, peft_model=peft_model,
            params=params, optimizer=optimizer, train_rows=Rows(data / "train.u32.npy", tcfg.seed, tcfg.plain_loss_weight),
            valid_sets={name: np.load(data / f"{name}.u32.npy")[:tcfg.eval_rows]
                        for name in ("valid_fim", "valid_plain") if (data / f"{name}.u32.npy").exists()},
            pairs=Pairs(data / "pairs_train.npz", tcfg.seed) if use_pairs else None,
            valid_pairs=Pairs(data / "pairs_valid.npz", tcfg.seed)
            if use_pairs and (data / "pairs_valid.npz").exists() else None)

    @property
    def rows_per_step(self) -> int:
        """Rows per optimizer step, on all ranks together (the config's batch, whatever N)."""
        return self.tcfg.micro_batch_rows * self.tcfg.grad_accum

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.cuda and self.dtype == torch.bfloat16)

    def shard(self, step: int) -> range:
        """This rank's positions in the global row order at ``step``: its equal share of the
        step's rows (one process: all of them)."""
        per_rank = self.rows_per_step // self.ranks.world
        first = step * self.rows_per_step + self.ranks.rank * per_rank
        return range(first, first + per_rank)

    def step(self, step: int) -> dict:
        """One optimizer step on this rank's shard, gradients summed across ranks. Returns the
        step's loss over all its rows and the grad norm (tensors: no wait for the device),
        the learning rate and the target tokens."""
        tcfg = self.tcfg
        backbone, lm_head = parts(self.peft_model)
        n_target = self.train_rows.loss_tokens(step * self.rows_per_step, self.rows_per_step)
        lr = lr_at(step, tcfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        loss_total = torch.zeros((), dtype=torch.float32, device=self.device)
        shard = self.shard(step)
        for first in range(shard.start, shard.stop, tcfg.micro_batch_rows):
            count = min(tcfg.micro_batch_rows, shard.stop - first)
            self.rows_trained += self.train_rows.indices(first, count).tolist()
            x = self.train_rows.batch(first, count, self.device)
            with self.autocast():
                part, _ = lm_loss_sum(backbone, lm_head, x, tcfg)
                loss = part / max(n_target, 1)
            loss.backward()
            loss_total += loss.detach().float()
        result = {"lr": lr, "n_target": n_target}
        if self.pairs is not None and self.ranks.main:  # on one rank: all pairs are each other's negatives
            ids, lens = self.pairs.batch(step, tcfg.contrastive_pairs, self.device)
            with self.autocast():
                nce_loss, acc = info_nce(backbone, ids, lens, tcfg.contrastive_temperature)
            (tcfg.contrastive_weight * nce_loss).backward()
            result.update(nce=nce_loss.detach(), nce_top1=acc)
        for p in self.params.values():
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        self.ranks.sum_([p.grad for p in self.params.values()] + [loss_total.reshape(1)])
        grad_norm = torch.nn.utils.clip_grad_norm_(list(self.params.values()), tcfg.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return {**result, "loss": loss_total, "grad_norm": grad_norm}

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Mean target-token loss of each valid set (the same rows every time)."""
        backbone, lm_head = parts(self.peft_model)
        self.peft_model.eval()
        plain = replace(self.tcfg, plain_loss_weight=1.0)  # valid losses stay per-token means
        out = {}
        for name, rows in self.valid_sets.items():
            total, count = 0.0, 0
            for s in range(0, rows.shape[0], self.tcfg.micro_batch_rows):
                x = torch.from_numpy(rows[s:s + self.tcfg.micro_batch_rows].astype(np.int64)).to(self.device)
                with self.autocast():
                    loss, n = lm_loss_sum(backbone, lm_head, x, plain)
                total += float(loss)
                count += n
            out[name] = total / max(count, 1)
        if self.valid_pairs is not None:
            ids, lens = self.valid_pairs.batch(0, 4 * self.tcfg.contrastive_pairs, self.device)  # the same pairs every time
            with self.autocast():
                loss, acc = info_nce(backbone, ids, lens, self.tcfg.contrastive_temperature)
            out["valid_pairs_nce"], out["valid_pairs_top1"] = float(loss), acc
        self.peft_model.train()
        return out

    def device_name(self) -> str:
        return torch.cuda.get_device_name(self.device) if self.cuda else "cpu"


def config_from(args: argparse.Namespace) -> TrainConfig:
    check_overrides(args.set)
    return override(PRESETS[args.preset][1], args.set)


def start(args: argparse.Namespace) -> tuple[Trainer, float]:
    """Ranks, config and trainer for ``run`` and ``speed``; also the wall time it started."""
    started = time.time()
    tcfg = config_from(args)
    ranks = Ranks.from_env(torch.cuda.is_available())
    if (tcfg.micro_batch_rows * tcfg.grad_accum) % ranks.world:
        raise SystemExit(f"{tcfg.micro_batch_rows * tcfg.grad_accum} rows per step (micro_batch_rows x grad_accum) "
                         f"do not split evenly over {ranks.world} processes")
    trainer = Trainer.build(args.data, args.base, tcfg, ranks, getattr(args, "init_adapter", None))
    if ranks.main:
        print(f"model ready in {time.time() - started:.0f} s: {sum(p.numel() for p in trainer.params.values()):,} "
              f"trainable params, {len(trainer.train_rows):,} train rows x {trainer.seq_len}, "
              f"{trainer.rows_per_step * trainer.seq_len:,} tokens/step over {ranks.world} process(es), "
              f"device {trainer.device_name()}", flush=True)
    return trainer, started


# --------------------------------------------------------------------------- subcommands

def run_main(args: argparse.Namespace) -> dict:
    """Train (or resume) one run; return the report that rank 0 also writes."""
    trainer, started = start(args)
    tcfg, ranks, out = trainer.tcfg, trainer.ranks, args.out
    out.mkdir(parents=True, exist_ok=True)
    state = {"step": 0, "tokens": 0, "loss_tokens": 0, "train_seconds": 0.0, "losses": [], "evals": []}
    if args.resume and (out / "ckpt" / "state.json").exists():
        state = load_checkpoint(out, trainer.peft_model, trainer.optimizer, trainer.params)
        if state.get("fitted_max_steps"):  # the schedule --fit-budget chose stays the run's
            trainer.tcfg = tcfg = replace(tcfg, max_steps=state["fitted_max_steps"])
        if ranks.main:
            print(f"resumed at step {state['step']}", flush=True)
    log = (out / "log.jsonl").open("a") if ranks.main else None

    def record(entry: dict) -> None:
        if log:
            print(json.dumps(entry), flush=True)
            log.write(json.dumps(entry) + "\n")
            log.flush()

    if not state["evals"] and ranks.main:
        ev = trainer.evaluate()
        state["evals"].append({"step": 0, **ev})
        record({"eval": True, "step": 0, **ev})
    trainer.peft_model.train()
    status, last_step_s = "done", 0.0
    step_times: list[float] = []
    # --fit-budget: the cosine schedule is cut to what the time budget can take, measured on the
    # first steps (before the warm-up ends, so the schedule is one curve); one process only
    fit = bool(args.fit_budget and args.time_budget_s and state["step"] == 0 and ranks.world == 1)
    window_t, window_tokens = time.time(), 0
    while state["step"] < tcfg.max_steps:
        if args.stop_after_steps and state["step"] >= args.stop_after_steps:
            status = "paused"
            break
        t0 = time.time()
        late = bool(args.time_budget_s) and t0 - started + 1.5 * last_step_s + 30 > args.time_budget_s
        if ranks.any(late):
            status = "paused"
            break
        result = trainer.step(state["step"])
        loss = float(result["loss"])
        state["step"] += 1
        state["tokens"] += trainer.rows_per_step * trainer.seq_len
        state["loss_tokens"] += result["n_target"]
        window_tokens += trainer.rows_per_step * trainer.seq_len
        if trainer.cuda and state["step"] % tcfg.log_every == 0:
            torch.cuda.synchronize()
        last_step_s = time.time() - t0
        state["train_seconds"] += last_step_s
        step_times.append(last_step_s)
        if fit and state["step"] == FIT_AT_STEP:
            trainer.tcfg = tcfg = fitted_schedule(tcfg, state["step"], step_times[-3:], args.time_budget_s
                                                  - (time.time() - started))
            state["fitted_max_steps"] = tcfg.max_steps
            record({"fitted": True, "step": state["step"], "max_steps": tcfg.max_steps,
                    "step_s": round(sum(step_times[-3:]) / 3, 3)})
        state["losses"].append([state["step"], loss])
        if state["step"] % tcfg.log_every == 0:
            now = time.time()
            record({"step": state["step"], "loss": round(loss, 4), "lr": result["lr"],
                    "grad_norm": round(float(result["grad_norm"]), 4), "tokens": state["tokens"],
                    "tokens_per_s": round(window_tokens / (now - window_t)),
                    **({"nce": round(float(result["nce"]), 4), "nce_top1": result["nce_top1"]} if "nce" in result else {})})
            window_t, window_tokens = now, 0
        if ranks.main and (state["step"] % tcfg.eval_every == 0 or state["step"] == tcfg.max_steps):
            ev = trainer.evaluate()
            state["evals"].append({"step": state["step"], **ev})
            record({"eval": True, "step": state["step"], **ev})
        if ranks.main and state["step"] % tcfg.ckpt_every == 0:
            save_checkpoint(out, trainer.peft_model, trainer.optimizer, trainer.params, state)
    shards = ranks.gather(trainer.rows_trained)
    report = {"status": status, "step": state["step"]}
    if ranks.main:
        save_checkpoint(out, trainer.peft_model, trainer.optimizer, trainer.params, state)
        report = write_run_report(args, trainer, state, status, shards)
        log.close()
    ranks.close()
    return report


FIT_AT_STEP = 8  # steps before the schedule is fitted: torch.compile's warm-up is over by then


def fitted_schedule(tcfg: TrainConfig, step: int, recent_s: list[float], seconds_left: float) -> TrainConfig:
    """``tcfg`` with ``max_steps`` cut to the steps that fit in ``seconds_left`` at the recent
    step time, less the evaluations on the way and a margin for the last checkpoint."""
    step_s = sum(recent_s) / len(recent_s)
    # each step also carries its share of an evaluation (~8 s every eval_every steps) of the
    # steps that fit, not of the planned ones: a long planned schedule must not eat the budget
    fits = int((seconds_left - 40.0 - 8.0) / (step_s + 8.0 / tcfg.eval_every))
    return replace(tcfg, max_steps=max(step + 1, min(tcfg.max_steps, step + fits)))


def write_run_report(args: argparse.Namespace, trainer: Trainer, state: dict, status: str,
                     shards: list[list[int]]) -> dict:
    """train_report.json, and for a finished run the adapter and the probe logits."""
    out, tcfg = args.out, trainer.tcfg
    data_report = json.loads((args.data / "report.json").read_text())
    report = {
        "status": status, "step": state["step"], "max_steps": tcfg.max_steps,
        "config": {k: v for k, v in asdict(tcfg).items()},
        "data": {"dir": str(args.data), "report_sha256": sha256_file(args.data / "report.json"),
                 "data_manifest_sha256": data_report.get("data_manifest_sha256"),
                 "seq_len": trainer.seq_len, "train_rows": len(trainer.train_rows)},
        "data_config": data_report["config"],
        "base": str(args.base) if args.base else "tiny random Qwen2",
        # a warm start: the adapter the run began from (None: PEFT's fresh LoRA)
        "init_adapter": ({"path": str(args.init_adapter), "sha256": sha256_file(adapter_file(args.init_adapter))}
                         if getattr(args, "init_adapter", None) else None),
        "trainable_params": sum(p.numel() for p in trainer.params.values()),
        "tokens": state["tokens"], "loss_tokens": state["loss_tokens"],
        "train_seconds": round(state["train_seconds"], 1),
        "tokens_per_s": round(state["tokens"] / max(state["train_seconds"], 1e-9)),
        # median of the logged windows: leaves out compile warm-up and evaluations
        "tokens_per_s_steady": _steady_rate(out / "log.jsonl"),
        "train_loss_first": state["losses"][0][1] if state["losses"] else None,
        "train_loss_last": state["losses"][-1][1] if state["losses"] else None,
        "evals": state["evals"],
        "device": trainer.device_name(),
        # the rows each rank trained on in this process (since --resume, if resumed)
        "processes": {"world_size": trainer.ranks.world,
                      "ranks": [{"rank": r, "rows": len(rows), "rows_trained": rows if len(rows) <= 4096 else None}
                                for r, rows in enumerate(shards)]},
        "torch": torch.__version__,
    }
    if status == "done":
        model = trainer.peft_model
        size = {896: "0.5B", 1536: "1.5B"}.get(model.base_model.model.config.hidden_size, "tiny")
        model.peft_config["default"].base_model_name_or_path = f"Qwen2.5-Coder-{size}-Instruct-Q4_K_M"
        model.save_pretrained(str(out / "adapter"), safe_serialization=True)
        model.eval()
        with torch.no_grad(), trainer.autocast():
            logits = model(input_ids=torch.tensor([PROBE_IDS], device=trainer.device)).logits.float().cpu()
        from safetensors.torch import save_file

        save_file({"probe_ids": torch.tensor(PROBE_IDS), "logits": logits.contiguous()},
                  str(out / "probe.safetensors"))
        report["adapter_sha256"] = sha256_file(out / "adapter" / "adapter_model.safetensors")
    (out / "train_report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"{status} at step {state['step']}: {state['tokens']:,} tokens, "
          f"{report['tokens_per_s']:,} tokens/s, loss {report['train_loss_first']} -> "
          f"{report['train_loss_last']}", flush=True)
    return report


def speed_main(args: argparse.Namespace) -> dict:
    """Time ``--steps`` optimizer steps after ``--warmup`` untimed ones; save nothing."""
    trainer, started = start(args)
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            if trainer.cuda:
                torch.cuda.synchronize()
            timed_from = time.time()
        trainer.step(step)
    if trainer.cuda:
        torch.cuda.synchronize()
    seconds = time.time() - timed_from
    tokens_per_s = args.steps * trainer.rows_per_step * trainer.seq_len / seconds
    result = {"config": {k: v for k, v in asdict(trainer.tcfg).items() if k != "tiny_model"},
              "seq_len": trainer.seq_len, "steps": args.steps, "seconds": round(seconds, 3),
              "tokens_per_s": round(tokens_per_s), "processes": trainer.ranks.world,
              "tokens_per_s_per_process": round(tokens_per_s / trainer.ranks.world),
              "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if trainer.cuda else None,
              "device": trainer.device_name(), "setup_s": round(timed_from - started, 1)}
    if trainer.ranks.main:
        print(json.dumps(result), flush=True)
        if args.bench_out:
            with args.bench_out.open("a") as handle:
                handle.write(json.dumps(result) + "\n")
    trainer.ranks.close()
    return result


def save_base_main(args: argparse.Namespace) -> dict:
    """Save the base GGUF as a transformers directory (bf16 on CUDA machines), once."""
    if (args.out / "model.safetensors").exists():
        print(f"{args.out} already holds the base; nothing to do")
        return {"status": "saved"}
    save_hf_base(args.base, args.out, torch.bfloat16 if torch.cuda.is_available() else torch.float32)
    print(f"base saved to {args.out}")
    return {"status": "saved"}


def adapter_dir_main(args: argparse.Namespace) -> dict:
    """A GGUF LoRA (the shipped form) as a PEFT directory: what ``models.hf_generate --adapter``
    and ``PeftModel.from_pretrained`` load, with the GGUF's own f16 values."""
    from peft import LoraConfig
    from safetensors.torch import save_file

    state, alpha = adapter_state(args.gguf)
    r = next(v.shape[0] for k, v in state.items() if k.endswith("lora_A.weight"))
    config = LoraConfig(r=r, lora_alpha=int(alpha) if alpha else 2 * r, lora_dropout=0.0, bias="none",
                        target_modules=list(TrainConfig.target_modules), task_type="CAUSAL_LM")
    args.out.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(str(args.out))
    save_file({k: v.to(torch.float16).contiguous() for k, v in state.items()},
              str(args.out / "adapter_model.safetensors"))
    print(f"{len(state)} matrices, r {r}, alpha {config.lora_alpha} -> {args.out}")
    return {"status": "saved"}


def fp16_adapter_main(args: argparse.Namespace) -> dict:
    """A finished run's adapter with its weights cast to fp16 (half the bytes to bring back from
    the GPU machine; the shipped GGUF LoRA is f16 anyway), its other files, and the run's report
    and log beside it."""
    from safetensors.torch import load_file, save_file

    src, out = args.run / "adapter", args.out
    out.mkdir(parents=True, exist_ok=True)
    state = load_file(str(adapter_file(src)))
    save_file({k: v.to(torch.float16).contiguous() for k, v in state.items()}, str(adapter_file(out)))
    for f in sorted(src.iterdir()):
        if f.suffix != ".safetensors":
            shutil.copy(f, out / f.name)
    for name in ("train_report.json", "log.jsonl"):
        if (args.run / name).exists():
            shutil.copy(args.run / name, out / name)
    print(f"{len(state)} matrices cast to fp16 -> {out}")
    return {"status": "saved"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def training(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--data", type=Path, required=True, help="models/dataset.py output directory")
        p.add_argument("--base", type=Path, default=None,
                       help="base .gguf or save-base directory (not needed for --preset tiny)")
        p.add_argument("--preset", choices=sorted(PRESETS), default="gpu", help="config preset")
        p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                       help="override one TrainConfig field (repeatable)")
        return p

    run = training("run", "train (or resume) a run: adapter, log, report, checkpoints under --out")
    run.add_argument("--out", type=Path, required=True, help="run directory")
    run.add_argument("--resume", action="store_true", help="continue from --out/ckpt")
    run.add_argument("--init-adapter", type=Path, default=None,
                     help="start the LoRA from this trained adapter (PEFT directory or GGUF LoRA); "
                          "a --resume from a checkpoint overrides it")
    run.add_argument("--time-budget-s", type=float, default=0.0,
                     help="checkpoint and stop (status paused) before this many seconds pass")
    run.add_argument("--stop-after-steps", type=int, default=0, help="pause at this step (tests)")
    run.add_argument("--fit-budget", action="store_true",
                     help="cut max_steps at step 8 to what --time-budget-s can take (the run ends 'done')")
    speed = training("speed", "time optimizer steps; save nothing")
    speed.add_argument("--steps", type=int, default=10, help="timed steps")
    speed.add_argument("--warmup", type=int, default=3, help="untimed steps first (compilation)")
    speed.add_argument("--bench-out", type=Path, default=None, help="append the result here (JSONL)")
    save_base = sub.add_parser("save-base", help="save the base GGUF as a transformers directory")
    save_base.add_argument("--base", type=Path, required=True, help="the base .gguf")
    save_base.add_argument("--out", type=Path, required=True, help="directory to write")
    adapter_dir = sub.add_parser("adapter-dir", help="write a GGUF LoRA as a PEFT adapter directory")
    adapter_dir.add_argument("--gguf", type=Path, required=True, help="the GGUF LoRA (asm-lora.gguf)")
    adapter_dir.add_argument("--out", type=Path, required=True, help="directory to write")
    fp16 = sub.add_parser("fp16-adapter", help="copy a run's adapter with fp16 weights (and its report, log)")
    fp16.add_argument("--run", type=Path, required=True, help="run directory (its adapter/)")
    fp16.add_argument("--out", type=Path, required=True, help="directory to write")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Run one subcommand (``run``, ``speed``, ``save-base``); return its report."""
    args = parse_args(argv)
    return {"run": run_main, "speed": speed_main, "save-base": save_base_main,
            "adapter-dir": adapter_dir_main, "fp16-adapter": fp16_adapter_main}[args.command](args)


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
