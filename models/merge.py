"""Merge a LoRA adapter into the base model; compare merged weights with the runtime adapter.

Two ways in:

**From the shipped GGUF LoRA** (what a fresh checkout has; numpy and the gguf package only):

    PYTHONPATH=server:. python -m models.merge gguf --check

merges ``server/asm_lsp/data/asm-lora.gguf`` into the packaged base Q4_K_M (assembled by
``resolve_model``) with :mod:`asm_lsp.model.lora_merge`: every adapted tensor becomes
dequantized base + alpha/r · B·A, stored Q8_0; every other tensor keeps its bytes. It writes
``--out`` (default models/work/merge/merged-SIZE-q8_0.gguf) and prints its size and sha256.
``--check`` compares them with the ``merged`` record of ``asm-lora.json`` (the file the server
makes on first use must be this one) and asks llama.cpp for the greedy tokens of a FIM prompt
from the merged file and from base + runtime adapter: they must be the same. ``--record``
writes the record (after a new adapter is shipped). The server does the same merge itself on
first use (``asm_lsp.model.store.ensure_merged``).

**From a PEFT adapter of a training run** (transformers, peft, torch, sentencepiece):

    PYTHONPATH=server:. nice -n 10 python -m models.merge peft --adapter models/work/run/adapter \\
        --lora-gguf server/asm_lsp/data/asm-lora.gguf --holes 8 --out models/results/merge.json

Steps (each skipped when its output already exists under --work, default models/work/merge/):
    base-hf/            the base GGUF loaded by transformers (dequantized), saved as safetensors
    merged-hf/          base + PEFT adapter, ``merge_and_unload()``, saved with the tokenizer
    merged-f16.gguf     llama.cpp's convert_hf_to_gguf.py (from the llama-cpp-python 0.3.36 sdist,
                        fetched into --work by ``pip download``; never copied into the repo)
    merged-q4_k_m.gguf  ``llama_cpp.llama_model_quantize`` (Q4_K_M, the base GGUF's own type)
    merged-q8_0.gguf    same, Q8_0
    check               each GGUF loads in llama-cpp-python and answers a FIM prompt
    compare             base + runtime adapter (--lora-gguf) vs each merged quantized GGUF on
                        the evaluation holes (models/evaluate.py): agreement of the greedy
                        answers, prompt and decode tok/s measured interleaved in the same run,
                        file sizes -> --out (JSON)

Without --adapter, ``--test-adapter`` makes a tiny random LoRA (r=4, B drawn at random so
the merge changes the weights) and its GGUF with convert_lora_to_gguf.py: it exercises the
path before the trained adapter exists, nothing more.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_WORK = REPO / "models" / "work" / "merge"
LLAMA_CPP_PYTHON = "0.3.36"  # the llama-cpp-python the server pins: its vendored converter matches its loader
QUANTS = {"q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M", "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0"}
CHECK_PROMPT = "<|fim_suffix|>\n\tret\n<|fim_prefix|>add:\n\t<|fim_middle|>"


def log(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------- llama.cpp converter

def converter_dir(work: Path) -> Path:
    """``vendor/llama.cpp`` of the llama-cpp-python sdist, downloaded and unpacked once under ``work``."""
    root = work / f"llama_cpp_python-{LLAMA_CPP_PYTHON}" / "vendor" / "llama.cpp"
    if (root / "convert_hf_to_gguf.py").exists():
        return root
    work.mkdir(parents=True, exist_ok=True)
    sdist = work / f"llama_cpp_python-{LLAMA_CPP_PYTHON}.tar.gz"
    if not sdist.exists():
        log(f"fetching the llama-cpp-python {LLAMA_CPP_PYTHON} sdist for its converter")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                        f"llama-cpp-python=={LLAMA_CPP_PYTHON}", "-d", str(work)], check=True)
    prefix = f"llama_cpp_python-{LLAMA_CPP_PYTHON}/vendor/llama.cpp/"
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix) and (
            m.name[len(prefix):].startswith(("conversion/", "gguf-py/")) or
            m.name[len(prefix):] in ("convert_hf_to_gguf.py", "convert_lora_to_gguf.py"))]
        tar.extractall(work, members=members, filter="data")
    return root


def run_converter(script: str, args: list[str], work: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("sentencepiece") is None:
        # Qwen2's set_vocab tries sentencepiece first and only a FileNotFoundError falls back to BPE.
        raise SystemExit("llama.cpp's converter imports sentencepiece even for Qwen2's BPE vocabulary; "
                         "run `pip install sentencepiece`")
    root = converter_dir(work)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "gguf-py"), str(root)])}
    subprocess.run([sys.executable, str(root / script), *args], check=True, env=env)


# --------------------------------------------------------------------------- HF side

def fix_gguf_config(config) -> None:
    """A GGUF-loaded config names no architecture and carries quantization_config: fix both."""
    config.architectures = ["Qwen2ForCausalLM"]
    if hasattr(config, "quantization_config"):
        del config.quantization_config


def save_hf(model, tokenizer, out: Path, dtype) -> None:
    """config + safetensors (+ tokenizer) that convert_hf_to_gguf.py reads.

    ``save_pretrained`` refuses a model loaded through the GGUF path, so the state dict is
    written directly; a tied ``lm_head`` is left out (safetensors refuses shared tensors).
    """
    from safetensors.torch import save_file

    tmp = out.with_name(out.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    fix_gguf_config(model.config)
    model.config.torch_dtype = dtype
    model.config.save_pretrained(str(tmp))
    state = {k: v.detach().to(dtype).contiguous().cpu() for k, v in model.state_dict().items()}
    if getattr(model.config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)
    save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    if tokenizer is not None:
        tokenizer.save_pretrained(str(tmp))
    tmp.rename(out)


def base_hf(base_gguf: Path, out: Path):
    """The base GGUF as a transformers directory: dequantized, stored f16 (Q4_K values need
    more mantissa than bf16 has)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if out.exists():
        log(f"{out} exists")
        return out
    log(f"loading {base_gguf.name} through transformers (dequantized)")
    model = AutoModelForCausalLM.from_pretrained(str(base_gguf.parent), gguf_file=base_gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(base_gguf.parent), gguf_file=base_gguf.name)
    save_hf(model, tokenizer, out, torch.float16)
    log(f"wrote {out}")
    return out


def make_test_adapter(base_dir: Path, out: Path, r: int = 4, seed: int = 0) -> Path:
    """A tiny LoRA with random A and B (peft's ``init_lora_weights=False``): merging it moves the
    weights a little, so the merged model's answers are checkably those of base + adapter."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    if (out / "adapter_config.json").exists():
        return out
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32)
    config = LoraConfig(r=r, lora_alpha=r, target_modules=["q_proj", "v_proj", "down_proj"],
                        init_lora_weights=False, task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, config)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.mul_(0.05)  # a nudge, not noise that swamps the base model
    peft_model.save_pretrained(str(out))
    log(f"wrote test adapter {out} (r={r})")
    return out


def merge(base_dir: Path, adapter: Path, out: Path) -> Path:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if out.exists():
        log(f"{out} exists")
        return out
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()  # a new model: keep it
    save_hf(merged, AutoTokenizer.from_pretrained(str(base_dir)), out, torch.float16)
    log(f"wrote {out}")
    return out


# --------------------------------------------------------------------------- GGUF side

def to_gguf(hf_dir: Path, out: Path, work: Path) -> Path:
    if out.exists():
        log(f"{out} exists")
        return out
    tmp = out.with_name(out.name + ".tmp")
    run_converter("convert_hf_to_gguf.py", [str(hf_dir), "--outfile", str(tmp), "--outtype", "f16"], work)
    tmp.rename(out)
    log(f"wrote {out} ({out.stat().st_size / 1e6:.0f} MB)")
    return out


def lora_to_gguf(adapter: Path, base_dir: Path, out: Path, work: Path) -> Path:
    if out.exists():
        return out
    tmp = out.with_name(out.name + ".tmp")
    run_converter("convert_lora_to_gguf.py", [str(adapter), "--base", str(base_dir), "--outfile", str(tmp),
                                              "--outtype", "f16"], work)
    tmp.rename(out)
    log(f"wrote {out}")
    return out


def quantize(source: Path, out: Path, quant: str, threads: int = 2) -> Path:
    import llama_cpp

    if out.exists():
        log(f"{out} exists")
        return out
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, QUANTS[quant])
    params.nthread = threads
    tmp = out.with_name(out.name + ".tmp")
    status = llama_cpp.llama_model_quantize(str(source).encode(), str(tmp).encode(), params)
    if status != 0:
        raise SystemExit(f"llama_model_quantize {source} -> {quant} failed with status {status}")
    tmp.rename(out)
    log(f"wrote {out} ({out.stat().st_size / 1e6:.0f} MB)")
    return out


def load(model: Path, lora: Path | None = None, n_ctx: int = 256, threads: int = 2):
    """A ``llama_cpp.Llama`` of ``model`` (+ runtime ``lora``), loaded as the server loads it."""
    from asm_lsp.model.llama import load_llama

    return load_llama(model, lora, n_ctx=n_ctx, threads=threads)


def greedy_tokens(model: Path, prompt: str | list[int], n: int = 8, lora: Path | None = None,
                  threads: int = 2) -> list[int]:
    """Greedy continuation of ``prompt`` (text, or token ids) in llama.cpp: the load check."""
    llm = load(model, lora, threads=threads)
    try:
        tokens = llm.tokenize(prompt.encode(), add_bos=False, special=True) if isinstance(prompt, str) else prompt
        out = []
        for token in llm.generate(tokens, temp=0.0, top_k=1):
            out.append(int(token))
            if len(out) >= n:
                break
        return out
    finally:
        llm.close()


# --------------------------------------------------------------------------- compare

def compare(systems: list[str], args: argparse.Namespace) -> dict:
    """Greedy answers of ``systems`` (evaluate.py specs) on the evaluation holes, interleaved."""
    from models import evaluate

    opts = tuple(o for o in args.opts.split(",") if o)
    if args.source == "cases":
        files = evaluate.compile_cases(evaluate.CASES_DIR, evaluate.DEFAULT_WORK / "cases", opts)
    else:
        files = [f for f in evaluate.load_test_split(args.corpus) if f.opt in opts]
    holes = evaluate.round_robin(evaluate.sample_holes(files, {"line": args.holes, "block": args.holes // 2}, args.seed))
    by_id = {f.id: f for f in files}
    runners = [evaluate.Runner(evaluate.System.parse(s), args.threads, 2048) for s in systems]
    names = [r.system.name for r in runners]
    answers: dict[str, list[dict]] = {n: [] for n in names}
    started = time.monotonic()
    done = []
    for hole in holes:
        if args.limit_s and time.monotonic() - started > args.limit_s:
            break
        document = hole.document(by_id)
        for runner in runners:
            text, timings = runner.answer(document, hole.line, hole.col, hole.n_lines)
            answers[runner.system.name].append({"text": text, "timings": timings,
                                                "exact": evaluate.exact_match(text, hole.expected)})
        done.append(hole)
    for runner in runners:
        runner.close()
    reference = names[0]
    result = {"holes": len(done), "reference": reference, "systems": {}}
    for runner in runners:
        name = runner.system.name
        rows = answers[name]
        same = [a["text"] == b["text"] for a, b in zip(rows, answers[reference])]
        result["systems"][name] = {
            **runner.identity,
            "bytes_total": runner.identity["model_bytes"] + (runner.files.adapter.stat().st_size if runner.files.adapter else 0),
            "agreement_with_reference": round(100.0 * sum(same) / len(same), 1) if same else None,
            "exact": round(100.0 * sum(r["exact"] for r in rows) / len(rows), 1) if rows else None,
            **evaluate.speed(rows),
        }
    result["disagreements"] = [
        {"hole": h.id, "expected": h.expected, **{n: answers[n][i]["text"] for n in names}}
        for i, h in enumerate(done) if len({answers[n][i]["text"] for n in names}) > 1][:40]
    return result


# --------------------------------------------------------------------------- from the GGUF LoRA

def merged_record(base_sha: str, lora_sha: str, result, target: str) -> dict:
    """The ``merged`` entry of asm-lora.json: what the server's first-use merge must give."""
    from asm_lsp.model import lora_merge

    return {"recipe": lora_merge.recipe(target), "target": target, "base_sha256": base_sha,
            "sha256": result.sha256, "size": result.size, "command": "python -m models.merge gguf --record"}


def gguf_main(args: argparse.Namespace) -> int:
    """Merge the GGUF LoRA into the base GGUF; check it against the record, or record it."""
    from asm_lsp.model import lora_merge
    from asm_lsp.model.store import packaged_adapter, resolve_model, sha256_file

    shipped_lora, record_path = packaged_adapter(args.size)
    base = args.base or resolve_model(adapter="none", size=args.size).model
    lora = args.lora or shipped_lora
    base_sha, lora_sha = sha256_file(base), sha256_file(lora)
    metadata = {"asm_lsp.merge.base_sha256": base_sha, "asm_lsp.merge.adapter_sha256": lora_sha}
    out = args.out or DEFAULT_WORK / f"merged-{args.size}-{args.target}.gguf"
    log(f"merging {lora} (sha256 {lora_sha[:12]}…) into {base} (sha256 {base_sha[:12]}…), merged tensors {args.target}")
    progress_seen = [-1]

    def progress(message: str, fraction: float | None) -> None:
        tenth = int((fraction or 0) * 10)
        if tenth != progress_seen[0]:
            progress_seen[0] = tenth
            log(f"  {message} ({tenth * 10} %)")

    result = lora_merge.merge_lora(base, lora, out, args.target, progress=progress, extra_metadata=metadata)
    log(f"wrote {result.path}: {result.size:,} bytes, sha256 {result.sha256}, {result.merged_tensors} tensors merged, "
        f"{result.copied_tensors} copied, {result.seconds} s")
    shipped = lora.resolve() == shipped_lora.resolve()
    record = json.loads(record_path.read_text()) if shipped else {}
    status = 0
    if args.record:
        if not shipped:
            raise SystemExit("--record writes asm-lora.json: merge the shipped adapter (no --lora)")
        record["merged"] = merged_record(base_sha, lora_sha, result, args.target)
        record_path.write_text(json.dumps(record, indent=1) + "\n")
        log(f"recorded in {record_path}")
    if args.check:
        expected = record.get("merged", {})
        if not expected:
            log("check: no merged record to compare with (only the shipped adapter has one)")
        elif (expected.get("sha256"), expected.get("size"), expected.get("base_sha256")) != \
                (result.sha256, result.size, base_sha):
            log(f"check FAILED: {record_path.name} records sha256 {expected.get('sha256')} "
                f"({expected.get('size')} bytes, base {str(expected.get('base_sha256'))[:12]}…)")
            status = 1
        else:
            log(f"check: sha256 and size are the ones {record_path.name} records")
        reference = greedy_tokens(base, CHECK_PROMPT, n=16, lora=lora, threads=args.threads)
        merged_tokens = greedy_tokens(result.path, CHECK_PROMPT, n=16, threads=args.threads)
        same = merged_tokens == reference
        log(f"check: greedy tokens, merged {merged_tokens} vs base + runtime adapter {reference}: "
            f"{'the same' if same else 'DIFFERENT'}")
        status = status or (0 if same else 1)
    return status


# --------------------------------------------------------------------------- main

def parse_gguf_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base", type=Path, default=None, help="base GGUF (default: the packaged one, resolve_model)")
    p.add_argument("--lora", type=Path, default=None, help="GGUF LoRA (default: server/asm_lsp/data/asm-lora.gguf)")
    p.add_argument("--size", default="0.5b", choices=("0.5b", "1.5b"),
                   help="model.size whose packaged base and shipped adapter (asm-lora[-1.5b].gguf) to merge")
    p.add_argument("--target", default="q8_0", help="type of the merged tensors: q8_0 (default), same, f16")
    p.add_argument("--out", type=Path, default=None, help="merged GGUF (default: models/work/merge/merged-SIZE-TARGET.gguf)")
    p.add_argument("--check", action="store_true",
                   help="compare with asm-lora.json's record and with the runtime adapter's greedy tokens")
    p.add_argument("--record", action="store_true", help="write the merged file's sha256 and size into asm-lora.json")
    p.add_argument("--threads", type=int, default=2, help="llama.cpp threads for --check")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    top = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="source", required=True)
    parse_gguf_args(sub.add_parser("gguf", help="merge the shipped GGUF LoRA (numpy; what a checkout has)"))
    p = sub.add_parser("peft", help="merge a training run's PEFT adapter (transformers) and compare quantizations")
    p.add_argument("--base", type=Path, default=None, help="base GGUF (default: the packaged one, resolve_model)")
    p.add_argument("--adapter", type=Path, default=None, help="PEFT adapter directory from models/train.py")
    p.add_argument("--tag", default="", help="artifact name part (default: the adapter's run folder, or 'test')")
    p.add_argument("--test-adapter", action="store_true", help="no trained adapter: make a tiny random one")
    p.add_argument("--lora-gguf", type=Path, default=None,
                   help="the runtime adapter GGUF to compare with (default: made from --adapter by convert_lora_to_gguf.py)")
    p.add_argument("--work", type=Path, default=DEFAULT_WORK, help="where the heavy artifacts go")
    p.add_argument("--out", type=Path, default=REPO / "models" / "results" / "merge.json", help="JSON report")
    p.add_argument("--source", choices=("cases", "test"), default="cases", help="holes for the comparison (evaluate.py)")
    p.add_argument("--corpus", type=Path, default=REPO / "models" / "work" / "corpus", help="corpus (--source test)")
    p.add_argument("--opts", default="O0,O2", help="opt levels of the comparison holes")
    p.add_argument("--holes", type=int, default=6, help="line holes per compiler x opt (and half as many blocks)")
    p.add_argument("--seed", type=int, default=1, help="hole seed (not the evaluation's, so these are other holes)")
    p.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    p.add_argument("--limit-s", type=float, default=0, help="stop the comparison after this many seconds (0: none)")
    p.add_argument("--skip-compare", action="store_true", help="stop after the load check")
    return top.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    if args.source == "gguf":
        return gguf_main(args)
    return peft_main(args, argv)


def peft_main(args: argparse.Namespace, argv: list[str] | None) -> int:
    """The PEFT route: transformers merge, llama.cpp conversion and quantization, comparison."""
    from asm_lsp.model.store import resolve_model, sha256_file

    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    base_gguf = args.base or resolve_model(adapter="none").model
    if args.adapter is None and not args.test_adapter:
        raise SystemExit("no --adapter given; pass the PEFT adapter directory of a training run "
                         "(models/work/run/adapter) or --test-adapter to exercise the path")
    started = time.monotonic()
    base_dir = base_hf(base_gguf, work / "base-hf")
    adapter = args.adapter or make_test_adapter(base_dir, work / "test-adapter")
    tag = args.tag or ("test" if args.adapter is None else args.adapter.parent.name)
    merged_dir = merge(base_dir, adapter, work / f"merged-{tag}-hf")
    f16 = to_gguf(merged_dir, work / f"merged-{tag}-f16.gguf", work)
    quantized = {q: quantize(f16, work / f"merged-{tag}-{q}.gguf", q, args.threads) for q in QUANTS}
    lora = args.lora_gguf or lora_to_gguf(adapter, base_dir, work / f"lora-{tag}.gguf", work)

    checks = {"base_alone_tokens": greedy_tokens(base_gguf, CHECK_PROMPT, threads=args.threads)}
    reference = greedy_tokens(base_gguf, CHECK_PROMPT, lora=lora, threads=args.threads)
    log(f"check base alone: {checks['base_alone_tokens']}")
    for name, path in {"f16": f16, **quantized}.items():
        tokens = greedy_tokens(path, CHECK_PROMPT, threads=args.threads)
        checks[name] = {"tokens": tokens, "same_as_runtime_adapter": tokens == reference}
        log(f"check {path.name}: {tokens} ({'same as' if tokens == reference else 'differs from'} "
            f"base + runtime adapter {reference})")
    report = {
        "command": "python -m models.merge " + " ".join(sys.argv[1:] if argv is None else argv),
        "adapter": {"tag": tag, "path": str(adapter), "lora_gguf": str(lora), "lora_gguf_sha256": sha256_file(lora)},
        "base": {"path": str(base_gguf), "bytes": base_gguf.stat().st_size},
        "files": {p.name: p.stat().st_size for p in [f16, *quantized.values(), lora]},
        "check": {"prompt": CHECK_PROMPT, "runtime_adapter_tokens": reference, **checks},
    }
    if not args.skip_compare:
        systems = [f"runtime-adapter=adapter:{lora}"] + [f"merged-{q}=model:{p}" for q, p in quantized.items()]
        if args.base:
            raise SystemExit("--base with the comparison: evaluate.py runs the packaged base; drop --base")
        report["compare"] = compare(systems, args)
        report["compare"]["note"] = ("runtime-adapter = packaged base Q4_K_M + LoRA GGUF at load; merged-* = "
                                     "base dequantized + merged in f32, re-quantized; systems interleaved per hole")
    report["seconds"] = round(time.monotonic() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    log(json.dumps({k: v for k, v in report.get("compare", {}).items() if k != "disagreements"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
