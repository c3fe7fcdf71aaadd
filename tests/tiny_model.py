"""A tiny random Qwen2 (the ``tiny`` preset of models/config.py: the base's architecture and
vocabulary, tiny sizes) and a LoRA on it whose B matrices are random, so that applying it
changes every output. For tests of code that loads a base directory and a PEFT adapter."""
from __future__ import annotations

from pathlib import Path


def tiny_model(out: Path) -> tuple[Path, Path]:
    """Save the model to ``out/base`` and the adapter to ``out/adapter``; return both paths."""
    import torch

    from models.config import PRESETS
    from models.train import add_lora, tiny_base

    tcfg = PRESETS["tiny"][1]
    model = tiny_base(tcfg, 256, "sdpa")
    model.save_pretrained(str(out / "base"))
    peft_model = add_lora(model, tcfg)
    with torch.no_grad():  # a non-zero B: the adapter must change the answers, not be a no-op
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    peft_model.save_pretrained(str(out / "adapter"))
    return out / "base", out / "adapter"
