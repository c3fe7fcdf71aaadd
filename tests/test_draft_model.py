"""A model drafting for another (drafting.ModelDrafts): greedy output unchanged, drafts rejected
and recovered from.

With the real 0.5B models only (the 1.5B is an optional extra): the base model drafts for
the merged one (our adapter in it), so the two disagree often enough that rejected drafts
and the draft model's rewind are exercised. The holes are FACT's (bench/samples.py) instruction
lines; none is a near tie, where llama.cpp's batch kernels may tip greedy the other way
(decoding.py). bench/draft_model.py measures the 0.5B drafting for the 1.5B.
"""
from __future__ import annotations

import pytest

from bench.samples import LINES


@pytest.mark.model
@pytest.mark.slow
def test_model_drafts_give_exactly_plain_greedy_output(base_gguf):
    import numpy as np

    from asm_lsp.model.decoding import Decoder
    from asm_lsp.model.drafting import ModelDrafts
    from asm_lsp.model.fitting import fit_prompt
    from asm_lsp.model.llama import load_llama
    from asm_lsp.model.store import resolve_model
    from asm_lsp.model.suggest import Hole

    target_path = resolve_model().model  # the merged weights (base + the shipped adapter)
    assert target_path != base_gguf
    target = load_llama(target_path, n_ctx=1024, threads=2)
    small = load_llama(base_gguf, n_ctx=1024, threads=2)
    try:
        drafts = ModelDrafts(small, np, k=4, target=target)
        plain, drafted = Decoder(target, np, {"generated_tokens": 0}), Decoder(target, np, {"generated_tokens": 0},
                                                                              drafts=drafts)
        lines = [i for i, text in enumerate(LINES) if text.startswith("\t") and not text.startswith("\t.")][2:8:2]
        for line in lines:
            document = "\n".join(LINES[:line] + ["\t"] + LINES[line + 1:])
            hole = Hole.at(document, line, 1)
            prompt = fit_prompt(hole, 3, 1024, target.tokenize)
            outputs = []
            for decoder in (plain, drafted):
                target.reset()
                target.eval(prompt)
                outputs.append(decoder.generate(prompt, hole, 3, lambda: None, lambda raw, ended: False))
            assert outputs[1] == outputs[0], f"line {line}"
            assert outputs[0][1] > 0
        assert drafted.drafted > 0 and 0 < drafted.accepted < drafted.drafted  # kept some, rejected some
        assert plain.drafted == 0
        assert drafts.proposed == drafted.drafted
    finally:
        small.close()
        target.close()
