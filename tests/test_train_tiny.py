"""The training pipeline end to end on CPU: corpus slice -> rows -> a few LoRA steps -> adapter.

Test data: tests/fixtures/docs_c/*.c compiled here with aarch64-linux-gnu-gcc (-O1, -O2) and
clang (-O2), split with asm_lsp.syntax.split_functions into the corpus format of
models/corpus (files/functions/variants.jsonl.gz); the real tokenizer, read from the base
GGUF that the chunk packages provide. The model is a randomly initialised two-layer Qwen2
(preset "tiny") so that the run takes seconds: the same code path as the GPU run
(models/train.py), only smaller.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.train,
    pytest.mark.model,
    pytest.mark.compilers,
    pytest.mark.timeout(300),
]

SOURCES = sorted((ROOT / "tests" / "fixtures" / "docs_c").glob("*.c"))
VARIANTS = (("gcc", "-O1"), ("gcc", "-O2"), ("clang", "-O2"))
VALID_SOURCES = {"strings", "vectors"}  # held out: the valid split


def make_slice(out: Path) -> Path:
    """Compile the fixtures into a corpus directory of the models/corpus format."""
    from bench import samples
    from asm_lsp.syntax import split_functions

    corpus = out / "corpus"
    corpus.mkdir(parents=True)
    files, functions, variants = [], [], {}
    for source in SOURCES:
        split = "valid" if source.stem in VALID_SOURCES else "train"
        for compiler, opt in VARIANTS:
            compiled = samples.compile_c(source, out / "asm", compiler, opt, unwind_tables=False)
            text = compiled.asm.read_text()
            file_id = hashlib.sha256(compiled.id.encode()).hexdigest()[:16]
            files.append({"id": file_id, "project": "fixtures", "split": split,
                          "path": source.name, "compiler": compiler, "opt": opt[1:], "text": text})
            for fn in split_functions(text):
                fid = hashlib.sha256(f"{compiled.id}:{fn.name}".encode()).hexdigest()[:16]
                functions.append({"id": fid, "file_id": file_id, "project": "fixtures",
                                  "split": split, "source": source.name, "compiler": compiler,
                                  "opt": opt[1:], "name": fn.name, "start_line": fn.start_line,
                                  "end_line": fn.end_line, "text": fn.text})
                variants.setdefault((split, source.name, fn.name), []).append(
                    {"compiler": compiler, "opt": opt[1:], "id": fid, "duplicate": False})
    for name, records in (("files", files), ("functions", functions),
                          ("variants", [{"project": "fixtures", "split": s, "source": src,
                                         "name": n, "variants": v}
                                        for (s, src, n), v in sorted(variants.items())])):
        with gzip.open(corpus / f"{name}.jsonl.gz", "wt") as handle:
            for record in records:
                handle.write(json.dumps(record) + "\n")
    return corpus


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, base_gguf):
    """Corpus slice, tokenizer and packed rows, shared by the tests below."""
    from models import dataset
    from models.config import PRESETS

    import torch

    torch.set_num_threads(1)  # a tiny model: extra threads only wait on each other (7x slower at load 12)
    work = tmp_path_factory.mktemp("train_tiny")
    corpus = make_slice(work)
    tokenizer_dir = work / "tokenizer"
    dataset.save_tokenizer(base_gguf, tokenizer_dir)
    data = work / "data"
    report = dataset.build(corpus, tokenizer_dir, data, PRESETS["tiny"][0], jobs=1)
    return work, tokenizer_dir, data, report


def test_rows_hold_fim_examples_in_the_server_format(pipeline):
    """Each FIM document decodes to build_fim_example(...) text; loss covers exactly the middle."""
    import numpy as np
    from transformers import AutoTokenizer

    from asm_lsp.model.prompt import END_OF_TEXT, FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX
    from models.dataset import decode_rows

    _, tokenizer_dir, data, report = pipeline
    train = report["splits"]["train"]
    assert train["fim"]["examples"] > 50 and train["plain"]["examples"] > 5
    assert set(train["fim"]["by_kind"]) == {"line", "block", "rest"}
    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    ids, starts, loss = decode_rows(np.load(data / "train.u32.npy"))
    assert starts[:, 0].all()
    checked = 0
    for r in range(ids.shape[0]):
        bounds = list(np.flatnonzero(starts[r])) + [ids.shape[1]]
        for a, b in zip(bounds, bounds[1:]):
            text = tok.decode(ids[r, a:b].tolist())
            if not text.startswith(FIM_SUFFIX):
                continue
            prompt, middle = text.split(FIM_MIDDLE)
            assert FIM_PREFIX in prompt and middle.endswith(END_OF_TEXT)
            target = tok.decode(ids[r, a:b][loss[r, a:b]].tolist())
            assert target == middle
            checked += 1
    assert checked == train["fim"]["examples"]


def test_tiny_training_lowers_loss_and_adapter_round_trips(pipeline):
    """A few steps on CPU: the loss falls, and the saved adapter reloads to the same outputs."""
    import torch

    from models import train

    work, tokenizer_dir, data, _ = pipeline
    out = work / "run"
    report = train.main(["run", "--data", str(data), "--out", str(out), "--preset", "tiny",
                         "--set", "max_steps=12", "--set", "contrastive_weight=0.5"])
    assert report["status"] == "done"
    first, last = report["train_loss_first"], report["train_loss_last"]
    assert last < first - 0.5, (first, last)
    evals = [e for e in report["evals"]]
    assert evals[-1]["valid_fim"] < evals[0]["valid_fim"]
    adapter = out / "adapter"
    assert (adapter / "adapter_model.safetensors").is_file()
    assert not list(out.rglob("*.bin")) and not list(out.rglob("*.pt"))  # no pickle anywhere
    from safetensors.torch import load_file

    probe = load_file(str(out / "probe.safetensors"))
    model = train.load_trained(out)
    with torch.no_grad():
        again = model(input_ids=probe["probe_ids"][None]).logits
    assert torch.allclose(again, probe["logits"], atol=1e-4)
    with torch.no_grad(), model.disable_adapter():
        base = model(input_ids=probe["probe_ids"][None]).logits
    assert not torch.allclose(base, probe["logits"], atol=1e-3)  # the adapter does something

    # Resume: a run stopped by its time budget continues from the checkpoint to the same end.
    resumed = work / "run_resumed"
    partial = train.main(["run", "--data", str(data), "--out", str(resumed), "--preset", "tiny",
                          "--set", "max_steps=12", "--set", "contrastive_weight=0.5",
                          "--stop-after-steps", "7"])
    assert partial["status"] == "paused" and partial["step"] == 7
    final = train.main(["run", "--data", str(data), "--out", str(resumed), "--preset", "tiny",
                        "--set", "max_steps=12", "--set", "contrastive_weight=0.5", "--resume"])
    assert final["status"] == "done" and final["step"] == 12
    assert abs(final["train_loss_last"] - last) < 1e-3


def test_two_processes_share_each_step_and_train_as_one(pipeline):
    """The tiny run under ``torch.distributed.run`` with 2 CPU processes (gloo): each rank
    trains its own half of every step's rows, and the result is one process's."""
    import subprocess
    import sys

    import torch
    from safetensors.torch import load_file

    from models import train

    work, _, data, _ = pipeline
    argv = ["run", "--data", str(data), "--preset", "tiny", "--set", "max_steps=6", "--set", "contrastive_weight=0.5"]
    one = train.main([*argv, "--out", str(work / "run_one")])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "server")]), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "models.train", *argv, "--out", str(work / "run_two")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr[-3000:]
    two = json.loads((work / "run_two" / "train_report.json").read_text())
    assert two["status"] == "done" and two["step"] == 6
    rank0, rank1 = two["processes"]["ranks"]
    assert two["processes"]["world_size"] == 2 and rank0["rows"] == rank1["rows"] == 6  # 2 rows a step, 1 each
    assert not set(rank0["rows_trained"]) & set(rank1["rows_trained"])  # each its own shard of every step
    (alone,) = one["processes"]["ranks"]
    assert sorted(rank0["rows_trained"] + rank1["rows_trained"]) == sorted(alone["rows_trained"])
    # the same optimizer steps: losses and the adapter agree up to the order of float sums
    for key in ("train_loss_first", "train_loss_last"):
        assert two[key] == pytest.approx(one[key], rel=1e-4), key
    assert two["evals"][-1]["valid_fim"] == pytest.approx(one["evals"][-1]["valid_fim"], rel=1e-4)
    a = load_file(str(work / "run_one" / "adapter" / "adapter_model.safetensors"))
    b = load_file(str(work / "run_two" / "adapter" / "adapter_model.safetensors"))
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], rtol=1e-3, atol=1e-5) for k in a)
    assert any(not torch.allclose(v, torch.zeros_like(v)) for k, v in b.items() if "lora_B" in k)  # it trained


def test_fim_weighted_loss_counts_middles_fully_and_plain_text_by_its_weight(pipeline):
    """``plain_loss_weight``: FIM middles are exactly the targets after a <|fim_middle|>, and the
    weighted sum equals the per-part sums combined by hand, in both loss implementations."""
    from dataclasses import replace

    import numpy as np
    import torch

    from models import train
    from models.config import PRESETS
    from models.dataset import FIM_MIDDLE_ID, decode_rows

    _, _, data, _ = pipeline
    every = np.load(data / "train.u32.npy")
    every_ids, every_starts, every_loss = decode_rows(every)
    has_plain = [r for r in range(every.shape[0])  # a document with targets and no <|fim_middle|>
                 if any(FIM_MIDDLE_ID not in every_ids[r, a:b].tolist() and every_loss[r, a:b].any()
                        for a, b in zip(np.flatnonzero(every_starts[r]),
                                        [*np.flatnonzero(every_starts[r])[1:], every.shape[1]]))]
    rows = every[sorted(set(has_plain[:2]) | {0, 1})]
    ids, starts, loss = decode_rows(rows)
    x = torch.from_numpy(rows.astype(np.int64))
    fim = train.fim_targets(x).numpy()
    _, _, _, tmask = train.decode(x, "block")
    tmask = tmask.numpy()
    for r in range(rows.shape[0]):  # the reference: walk each document
        bounds = list(np.flatnonzero(starts[r])) + [ids.shape[1]]
        for a, b in zip(bounds, bounds[1:]):
            is_fim = FIM_MIDDLE_ID in ids[r, a:b].tolist()
            targets = [i - 1 for i in range(a + 1, b) if tmask[r, i - 1]]
            if not targets:
                continue  # the row's padding
            assert all(bool(fim[r, t]) == is_fim for t in targets)
    n_fim, n_all = int((tmask & fim).sum()), int(tmask.sum())
    assert 0 < n_fim < n_all
    assert train.target_weight_sum(rows, 0.25) == n_fim + 0.25 * (n_all - n_fim)
    assert train.target_weight_sum(rows, 1.0) == n_all

    tcfg = PRESETS["tiny"][1]
    model = train.add_lora(train.tiny_base(tcfg, rows.shape[1], "sdpa"), tcfg)
    backbone, lm_head = train.parts(model)
    with torch.no_grad():
        sums = {}
        for impl in ("chunked", "full"):
            for weight in (1.0, 0.25, 0.0):
                total, n = train.lm_loss_sum(backbone, lm_head, x, replace(tcfg, loss_impl=impl, plain_loss_weight=weight))
                assert n == n_all
                sums[impl, weight] = float(total)
    for impl in ("chunked", "full"):
        plain = sums[impl, 1.0] - sums[impl, 0.0]  # weight 0: the middles alone
        assert plain > 0
        assert abs(sums[impl, 0.25] - (sums[impl, 0.0] + 0.25 * plain)) < 1e-3 * sums[impl, 1.0]
    assert abs(sums["chunked", 0.25] - sums["full", 0.25]) < 1e-3 * sums["full", 0.25]


def test_fit_budget_cuts_the_schedule_to_the_time_budget_and_ends_done(pipeline):
    """--fit-budget: a schedule far too long for the budget is cut at step 8 from the measured
    step time, and the run ends "done" (adapter written) inside the budget."""
    import json
    import time

    from dataclasses import replace

    from models import train
    from models.config import PRESETS

    work, _, data, _ = pipeline
    out = work / "run_fitted"
    started = time.monotonic()
    report = train.main(["run", "--data", str(data), "--out", str(out), "--preset", "tiny",
                         "--set", "max_steps=100000", "--time-budget-s", "60", "--fit-budget"])
    assert report["status"] == "done" and (out / "adapter" / "adapter_model.safetensors").is_file()
    assert time.monotonic() - started < 60
    fitted = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if '"fitted"' in line]
    assert len(fitted) == 1 and fitted[0]["step"] == train.FIT_AT_STEP
    assert train.FIT_AT_STEP < report["step"] == report["max_steps"] == fitted[0]["max_steps"] < 100000
    tcfg = PRESETS["tiny"][1]
    assert train.fitted_schedule(tcfg, 8, [1.0, 1.0, 1.0], 1000.0).max_steps == tcfg.max_steps  # never longer
    assert train.fitted_schedule(tcfg, 8, [10.0], 100.0).max_steps == 12  # (100 - 40 - 8) / (10 + 8 / 8) more
    # a long planned schedule reserves evaluations only for the steps that fit (round three's second
    # lease lost ~150 s of its 0.5B budget to 20 planned evaluations of a 2,000-step plan)
    long_plan = replace(PRESETS["gpu3"][1], max_steps=2000, eval_every=75)
    assert train.fitted_schedule(long_plan, 8, [0.5], 300.0).max_steps == 8 + int(252 / (0.5 + 8 / 75))
    assert train.fitted_schedule(tcfg, 8, [10.0], 50.0).max_steps == 9  # at least one more step


def test_init_adapter_starts_from_a_trained_adapter_and_refuses_a_mismatch(pipeline):
    """--init-adapter: the run's LoRA begins as the given adapter (its step-0 eval is the trained
    one's, not the base's), the report records it, and another rank is refused before training."""
    from models import train

    work, _, data, _ = pipeline
    first = train.main(["run", "--data", str(data), "--out", str(work / "warm_a"), "--preset", "tiny",
                        "--set", "max_steps=8"])
    assert first["status"] == "done"
    warm = train.main(["run", "--data", str(data), "--out", str(work / "warm_b"), "--preset", "tiny",
                       "--set", "max_steps=2", "--init-adapter", str(work / "warm_a" / "adapter")])
    assert warm["init_adapter"]["sha256"] == first["adapter_sha256"]
    start_b, end_a = warm["evals"][0]["valid_fim"], first["evals"][-1]["valid_fim"]
    assert abs(start_b - end_a) < 1e-4, (start_b, end_a)
    assert abs(start_b - first["evals"][0]["valid_fim"]) > 0.1  # not where a fresh LoRA starts
    with pytest.raises(SystemExit, match="rank 4"):
        train.main(["run", "--data", str(data), "--out", str(work / "warm_c"), "--preset", "tiny",
                    "--set", "max_steps=2", "--set", "lora_r=4",
                    "--init-adapter", str(work / "warm_a" / "adapter")])


def test_fp16_adapter_halves_the_weights_and_warm_starts_the_same(pipeline):
    """fp16-adapter (what comes back from the GPU machine): every matrix as fp16 within fp16's
    rounding, the config, report and log beside it, and it still warm-starts a run."""
    import torch
    from safetensors.torch import load_file

    from models import train

    work, _, data, _ = pipeline
    run = work / "half_src"
    train.main(["run", "--data", str(data), "--out", str(run), "--preset", "tiny", "--set", "max_steps=3"])
    assert train.main(["fp16-adapter", "--run", str(run), "--out", str(work / "half")])["status"] == "saved"
    full, half = load_file(str(run / "adapter" / "adapter_model.safetensors")), \
        load_file(str(work / "half" / "adapter_model.safetensors"))
    assert full.keys() == half.keys() and full
    for k, v in full.items():
        assert v.dtype == torch.float32 and half[k].dtype == torch.float16
        assert torch.allclose(half[k].float(), v, rtol=1e-3, atol=1e-6), k
    for name in ("adapter_config.json", "train_report.json", "log.jsonl"):
        assert (work / "half" / name).is_file(), name
    warm = train.main(["run", "--data", str(data), "--out", str(work / "half_warm"), "--preset", "tiny",
                       "--set", "max_steps=1", "--init-adapter", str(work / "half")])
    assert warm["status"] == "done"


def test_long_suffix_windows_take_their_share():
    """DataConfig.long_suffix: that share of full-size windows keeps long_suffix_budget tokens
    (~1.8 characters each) after the cursor instead of suffix_budget."""
    from dataclasses import replace

    from models import dataset
    from models.config import DataConfig

    text = "\n".join(["f:"] + [f"\tadd\tx{i % 28}, x{(i + 1) % 28}, #{i}" for i in range(400)] + ["\tret"])
    record = {"id": "r", "text": text, "compiler": "gcc"}
    functions = [{"id": "f", "start_line": 0, "end_line": 401}]
    plain = DataConfig(holes_per_function=30.0, short_window=0.0, hole_line=1.0, hole_block=0.0, hole_rest=0.0)

    def suffix_chars(cfg):
        examples = dataset.fim_texts_for_file(record, functions, cfg, 0, None)
        return [len(t.split("<|fim_suffix|>")[1].split("<|fim_prefix|>")[0]) for t, _ in examples]

    short = suffix_chars(plain)
    longer = suffix_chars(replace(plain, long_suffix=1.0))
    half = suffix_chars(replace(plain, long_suffix=0.5))
    assert len(short) > 20 and max(short) <= 2 * 160 and max(longer) <= 2 * 320
    long_cut = [n for n in longer if n > 2 * 160]
    assert len(long_cut) >= len(longer) - 3  # all but holes near the end of the function
    assert 0.2 < sum(n > 2 * 160 for n in half) / len(half) < 0.8
