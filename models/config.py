"""Every hyperparameter of the fine-tuning pipeline, in one place, with the reason for each.

`models/dataset.py` reads :class:`DataConfig`, `models/train.py` reads :class:`TrainConfig`.
Command-line flags override single fields (``--set lr=1e-4``); the values used are written
into every report, so an artifact always says how it was made.

Two presets: ``gpu`` (the real run on one H100/H200) and ``tiny`` (CPU, CI, a few steps of a
randomly initialised two-layer Qwen2 with the real tokenizer).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from asm_lsp.model.prompt import DEFAULT_PREFIX_BUDGET, DEFAULT_SUFFIX_BUDGET
from asm_lsp.model.repo_context import CONTEXT_BUDGET


@dataclass(frozen=True)
class DataConfig:
    """How training examples are cut from the corpus (models/dataset.py)."""

    seq_len: int = 4096  # packed row length. A FIM example is ~800 tokens (budgets 640 + 160 in approx_tokens,
    # calibrated at 1.8 chars/token since round two; round one's 3.2 made ~1,400-token examples);
    # rows of 4096 hold ~5 (block-diagonal attention keeps the cost per document)
    prefix_budget: int = DEFAULT_PREFIX_BUDGET  # the server's own budgets: train on the windows it will send
    suffix_budget: int = DEFAULT_SUFFIX_BUDGET
    short_window: float = 0.15  # share of FIM examples cut to random smaller budgets (48..prefix, 16..suffix):
    # the server answers a cold cache with a short window (prompt.SHORT_*_BUDGET), and shrinks windows
    # when the context is small; round one never saw a short window
    fim_fraction: float = 0.95  # share of examples that are FIM; the rest plain function text. A FIM example
    # has ~25 target tokens in ~1,400, a plain one ~1,200 in 1,200: at 0.95 plain still gives 3/4 of the targets (measured)
    holes_per_function: float = 1.0  # FIM holes per kept function and epoch, plus one per lines_per_extra_hole;
    # 100 MB of train assembly then gives ~100M tokens, what ~15 min on one H100 can take
    lines_per_extra_hole: int = 40  # one more hole for every this many lines of a function
    handwritten_holes: float = 1.0  # FIM holes per function of hand-written files, times the above: hand-written
    # projects hold ~4 % of the train assembly (models/corpus_handwritten_manifest.json), so round three draws more
    hole_line: float = 0.65  # one instruction line: what the server is asked for most of the time
    hole_block: float = 0.25  # 2-4 consecutive lines (a short sequence: prologue, a compare-and-branch)
    hole_rest: float = 0.10  # from the cursor to the end of the function (teaches where to stop)
    block_lines: tuple[int, int] = (2, 4)  # inclusive range of lines in a block hole
    max_middle_tokens: int = 384  # longer rest-of-function holes are cut back to a block (server: maxLines 8)
    cursor_at_indent: float = 0.5  # cursor after the line's indentation (the editor auto-indented)
    cursor_mid_line: float = 0.2  # cursor inside the line (user typed part of it); else column 0
    max_plain_tokens: int = 1536  # plain function text is cut into pieces of at most this many tokens
    pair_max_tokens: int = 384  # each side of a contrastive pair (normalised function) is cut to this
    valid_fim_examples: int = 2000  # fixed eval set sizes (valid split, never trained on)
    valid_plain_examples: int = 300
    context_fraction: float = 0.0  # share of FIM examples with the repo-level context block before the window
    # (asm_lsp.model.repo_context: callee definitions and the most similar function from the same project's
    # other files at the same compiler and level); 0 keeps the data of rounds one and two byte for byte
    context_budget: int = CONTEXT_BUDGET  # tokens of that block: the server's own budget
    long_suffix: float = 0.0  # share of the full-size FIM windows with long_suffix_budget after the cursor:
    # the prompt puts the suffix first, so a longer one costs cold prompt tokens only, which a GPU
    # evaluates in milliseconds (README, GPU); 0 keeps the data of earlier rounds byte for byte
    long_suffix_budget: int = 2 * DEFAULT_SUFFIX_BUDGET
    epochs: int = 1  # passes over the corpus, each with freshly sampled holes
    seed: int = 1234

    def __post_init__(self) -> None:
        total = self.hole_line + self.hole_block + self.hole_rest
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"hole_line + hole_block + hole_rest must be 1, got {total}")


@dataclass(frozen=True)
class TrainConfig:
    """How the LoRA adapter is trained (models/train.py)."""

    lora_r: int = 16  # 0.5B model, narrow domain: r=16 on 7 matrices/layer is 8.8M params, ~18 MB as f16 GGUF
    lora_alpha: int = 32  # scale alpha/r = 2, the usual choice for r=16
    lora_dropout: float = 0.0  # dropout costs an extra pass over activations; the data is large relative to the adapter
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj",
                                       "gate_proj", "up_proj", "down_proj")  # attention + MLP: all linear maps
    lr: float = 2e-4  # LoRA on a 0.5B model tolerates 1e-4..3e-4; higher diverged in tries elsewhere
    min_lr_ratio: float = 0.1  # cosine decays to lr * this, not zero: the last steps still learn
    warmup_steps: int = 30  # ~3% of a ~1,000-step run; LoRA B starts at zero so a short warmup suffices
    weight_decay: float = 0.0  # no decay on a small adapter (it would pull B back to the base model)
    betas: tuple[float, float] = (0.9, 0.95)  # 0.95: steadier with large token batches
    grad_clip: float = 1.0  # global norm clip
    micro_batch_rows: int = 8  # rows of seq_len per forward; 8 x 4096 = 32k tokens: 43 GB peak on an H100
    # (64k tokens per forward ran out of its 80 GB without activation checkpointing)
    grad_accum: int = 2  # micro-batches per optimizer step -> 64k tokens per step. On N processes
    # (torchrun) the step's micro_batch_rows x grad_accum rows are split over them: the same batch
    max_steps: int = 1000  # the cosine schedule's length; set from the measured tokens/s and the time budget
    eval_every: int = 100  # steps between valid-loss evaluations
    eval_rows: int = 64  # rows of each valid set per evaluation (fixed, same rows every time)
    log_every: int = 10  # steps between log lines
    ckpt_every: int = 200  # steps between checkpoints (and always at the time budget's end)
    seed: int = 1234
    dtype: str = "auto"  # "auto": bf16 on CUDA, fp32 on CPU
    # Measured on an H100 (results/train_speed.json): flex + block + compile 131k tokens/s,
    # reset positions only + compile 135k, sdpa with a dense block mask + compile 113k.
    attn_implementation: str = "flex_attention"  # "sdpa" | "flex_attention" | "eager"
    doc_masking: str = "block"  # "block": block-diagonal attention from the reset position ids
    # (documents never see each other); "positions": reset position ids only (cross-document
    # attention stays, plain causal kernel); "none": neither (naive packing)
    compile: bool = True  # torch.compile each decoder layer: fuses RMSNorm/SiLU/rotary (+65% measured)
    loss_impl: str = "chunked"  # "chunked": logits only at target positions (below); "full": every position
    ce_chunk_tokens: int = 8192  # logits are made only at loss positions, this many at a time (151,936-wide rows)
    plain_loss_weight: float = 1.0  # weight of plain-function-text targets against FIM middles (1).
    # Round two (1.0): plain text held 13.2M of the 16.8M targets, so FIM middles - what the server
    # asks for - were 21 % of the loss. Round three: 0.25 makes them about half.
    contrastive_weight: float = 0.0  # weight of the InfoNCE term on function-variant pairs; 0 = off
    contrastive_pairs: int = 16  # pairs per optimizer step (in-batch negatives: 2*pairs-2 per anchor);
    # 16 x 2 x <=384 tokens adds ~10% to a 64k-token step
    contrastive_temperature: float = 0.05  # InfoNCE temperature on cosine similarity
    # Tiny model (preset "tiny" only): same architecture, random weights, real tokenizer.
    tiny_model: dict = field(default_factory=dict)


PRESETS: dict[str, tuple[DataConfig, TrainConfig]] = {
    # The real run (round two): ~1,700 steps x 64k tokens = 111M tokens, ~19 min at ~100k tokens/s
    # (three 10-min calls, the first one also building the data).
    "gpu": (DataConfig(), TrainConfig(max_steps=1700, contrastive_weight=0.1)),
    # Round three: Qwen2.5-Coder-1.5B (3.7x the 0.5B's non-embedding weights: ~28k tokens/s
    # expected on one H200 against the 0.5B's 105k), FIM middles weighted up (plain_loss_weight),
    # 32k-token steps (more, smaller steps for the few minutes one GPU session holds), no
    # contrastive term (the embeddings stay the 0.5B's; round two's A/B, bench/results/retrieval_ab.md).
    # r=8 (alpha 16: the same scale 2): the f16 GGUF LoRA is then ~18.5 MB, inside the 20 MB
    # that one shipped adapter may take in the wheel (r=16 would be ~37 MB; its B matrices, 16
    # wide, cannot be Q8_0 blocks of 32).
    # Half the FIM examples carry the repo-level context block (callee definitions, the most
    # similar function), so the model learns to use it and still works without; hand-written
    # functions get 4x the holes.
    "gpu15": (DataConfig(context_fraction=0.5, handwritten_holes=4.0),
              TrainConfig(lora_r=8, lora_alpha=16, max_steps=300, micro_batch_rows=8, grad_accum=1,
                          warmup_steps=15, eval_every=75, ckpt_every=75, plain_loss_weight=0.25,
                          contrastive_weight=0.0)),
    # Round three for the 0.5B (the default model): a warm start from round two's adapter
    # (--init-adapter, so r 16 / alpha 32 as shipped) on round three's data - hand-written code,
    # the repo-level block, the FIM-weighted loss - and 30 % of full windows with a 320-token
    # suffix. lr half of round two's (it starts trained); the InfoNCE term stays (the hover's
    # similar functions come from this model's embeddings: bench/results/retrieval_ab.md).
    "gpu3": (DataConfig(context_fraction=0.5, handwritten_holes=4.0, long_suffix=0.3),
             TrainConfig(lr=1e-4, max_steps=2000, micro_batch_rows=8, grad_accum=1, warmup_steps=10,
                         eval_every=100, ckpt_every=100, plain_loss_weight=0.25, contrastive_weight=0.1)),
    "tiny": (
        DataConfig(seq_len=256, prefix_budget=96, suffix_budget=32, max_middle_tokens=64,
                   max_plain_tokens=200, pair_max_tokens=64, valid_fim_examples=16, valid_plain_examples=4),
        TrainConfig(micro_batch_rows=2, grad_accum=1, attn_implementation="sdpa", compile=False, max_steps=16, warmup_steps=2, lr=1e-2,
                    eval_every=8, eval_rows=4, log_every=4, ckpt_every=8, ce_chunk_tokens=128,
                    contrastive_pairs=4,
                    # initializer_range 0.2 (not 0.02): logits of a random 64-wide lm_head are then
                    # large enough for a LoRA to move the loss visibly in a dozen steps.
                    tiny_model={"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                                "num_attention_heads": 4, "num_key_value_heads": 2,
                                "initializer_range": 0.2}),
    ),
}


def _coerce(value: str, current: object) -> object:
    if isinstance(current, bool):
        return value.lower() in ("1", "true", "yes", "on")
    if isinstance(current, int):
        return int(value)
    if isinstance(current, float):
        return float(value)
    if isinstance(current, tuple):
        parts = [p for p in value.split(",") if p]
        return tuple(type(current[0])(p) if current else p for p in parts)
    return value


def override(config, assignments: list[str]):
    """Return ``config`` with ``name=value`` assignments applied (unknown names are errors)."""
    names = {f.name: f for f in fields(config)}
    changes = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or name not in names:
            continue  # belongs to the other config
        changes[name] = _coerce(value, getattr(config, name))
    return replace(config, **changes)


def check_overrides(assignments: list[str]) -> None:
    """Fail on a ``--set`` name that neither config has (a typo must not pass silently)."""
    known = {f.name for f in fields(DataConfig)} | {f.name for f in fields(TrainConfig)}
    for item in assignments:
        name, sep, _ = item.partition("=")
        if not sep or name not in known:
            raise SystemExit(f"--set {item!r}: expected NAME=VALUE with NAME one of {sorted(known)}")


def as_dict(config) -> dict:
    return asdict(config)
