"""Convert a trained PEFT adapter to a GGUF LoRA, check it in llama.cpp, and ship it.

    PYTHONPATH=server python -m models.export_adapter --run models/work/run \\
        --base /tmp/base/base.gguf --data models/work/data --ship

makes:
    models/adapters/asm-lora.gguf            (with --ship; also the default --out)
    server/asm_lsp/data/asm-lora.gguf        (with --ship) the adapter the server loads
    server/asm_lsp/data/asm-lora.json        (with --ship) sha256, size, base_sha256, command,
                                             data manifest hash, hyperparameters, train report,
                                             the llama.cpp check below

How: llama.cpp's own converter, ``convert_lora_to_gguf.py --outtype f16``, from the
llama-cpp-python 0.3.36 sdist (downloaded once by pip into models/work/llama-sdist; its
vendored gguf-py goes first on PYTHONPATH so converter and writer match). The converter
needs the base model's config.json, not its weights ("only config is needed"): that config
is the one transformers builds from the GGUF, with ``architectures`` set and
``quantization_config`` dropped (models.train.fix_gguf_config); ``--base-weights`` also
writes the dequantized weights as safetensors beside it.

Check: ``llama_cpp.Llama(model_path=base, lora_path=adapter)`` must load it, and on FIM
examples of the valid split (never trained on) the adapter must lower the mean negative
log-likelihood of the true middles compared with the base model alone, in llama.cpp
itself (Q4_K_M base + f16 LoRA): the number that matters for the server.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

from asm_lsp.model.store import sha256_file

ROOT = Path(__file__).resolve().parent.parent
SDIST = "llama-cpp-python==0.3.36"
SDIST_FILE = "llama_cpp_python-0.3.36.tar.gz"
VENDOR = "llama_cpp_python-0.3.36/vendor/llama.cpp/"
NEEDED = ("convert_lora_to_gguf.py", "convert_hf_to_gguf.py", "conversion/", "gguf-py/")
MAX_SHIPPED_BYTES = 20_000_000


def llama_cpp_tools(work: Path) -> Path:
    """The converter scripts from the llama-cpp-python sdist (pip download once, then cached)."""
    tools = work / "llama.cpp"
    if (tools / "convert_lora_to_gguf.py").exists():
        return tools
    work.mkdir(parents=True, exist_ok=True)
    archive = work / SDIST_FILE
    if not archive.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                        SDIST, "-d", str(work)], check=True)
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers()
                   if any(m.name == VENDOR + n or m.name.startswith(VENDOR + n) for n in NEEDED)]
        for m in members:
            m.name = m.name[len(VENDOR):]
        tar.extractall(tools, members=members, filter="data")
    return tools


def base_config_dir(gguf: Path, out: Path, weights: bool) -> Path:
    """config.json (+ tokenizer, + weights if asked) of the GGUF base, as transformers sees it."""
    if (out / "config.json").exists() and (not weights or (out / "model.safetensors").exists()):
        return out
    import torch

    from models.dataset import save_tokenizer
    from models.train import save_hf_base

    save_hf_base(gguf, out, torch.bfloat16, weights=weights)
    save_tokenizer(gguf, out)
    return out


def convert(adapter: Path, base_dir: Path, tools: Path, out: Path) -> list[str]:
    """Run convert_lora_to_gguf.py; return the command (for the record)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(tools / "convert_lora_to_gguf.py"), "--base", str(base_dir),
               "--outtype", "f16", "--outfile", str(out), str(adapter)]
    env = dict(**__import__("os").environ)
    env["PYTHONPATH"] = str(tools / "gguf-py") + ":" + env.get("PYTHONPATH", "")
    subprocess.run(command, check=True, env=env)
    return command


def valid_fim_docs(data: Path, count: int, max_tokens: int) -> list[tuple[list[int], int]]:
    """(token ids, index of the first target) of the shortest-first FIM documents in valid_fim."""
    from models.dataset import decode_rows

    ids, starts, loss = decode_rows(np.load(data / "valid_fim.u32.npy"))
    docs = []
    for r in range(ids.shape[0]):
        bounds = list(np.flatnonzero(starts[r])) + [ids.shape[1]]
        for a, b in zip(bounds, bounds[1:]):
            if loss[r, a:b].any() and b - a <= max_tokens:
                first = int(np.flatnonzero(loss[r, a:b])[0])
                docs.append((ids[r, a:b].tolist(), first))
    docs.sort(key=lambda d: hashlib.sha256(str(d[0][:32]).encode()).hexdigest())  # fixed sample
    return docs[:count]


def load_llama(model_path: Path, lora: Path | None, threads: int, n_ctx: int):
    """llama_cpp.Llama as the server loads it (asm_lsp.model.llama.load_llama); exits if the
    adapter is refused."""
    from asm_lsp.model import llama
    from asm_lsp.model.store import ModelError

    try:
        return llama.load_llama(model_path, lora, n_ctx=n_ctx, threads=threads)
    except ModelError as e:
        raise SystemExit(str(e)) from e


def llama_nll(model_path: Path, lora: Path | None, docs: list[tuple[list[int], int]],
              threads: int) -> tuple[float, int]:
    """Mean NLL (nats/token) of the targets of `docs` under llama.cpp, and the token count."""
    from llama_cpp import Llama

    # The prompt in one eval, then one target token at a time, reading the last position's
    # logits from llama.cpp (Llama.scores is only filled with logits_all=True).
    import llama_cpp

    llm = load_llama(model_path, lora, threads, 2048)
    total, count = 0.0, 0
    for tokens, first in docs:
        llm.reset()
        llm.eval(tokens[:first])
        for t in range(first, len(tokens)):
            last = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)  # the last decoded position
            row = np.ctypeslib.as_array(last, shape=(llm.n_vocab(),)).astype(np.float64)
            m = row.max()
            total += (m + np.log(np.exp(row - m).sum())) - row[tokens[t]]
            count += 1
            if t + 1 < len(tokens):
                llm.eval([tokens[t]])
    del llm
    return total / max(count, 1), count


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="models/train.py run dir (adapter/, train_report.json)")
    parser.add_argument("--base", type=Path, required=True, help="the base Q4_K_M .gguf")
    parser.add_argument("--data", type=Path, default=None,
                        help="models/dataset.py output with valid_fim.u32.npy (for the llama.cpp check)")
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "adapters" / "asm-lora.gguf",
                        help="GGUF LoRA to write")
    parser.add_argument("--work", type=Path, default=ROOT / "models" / "work", help="cache folder")
    parser.add_argument("--base-weights", action="store_true",
                        help="also save the dequantized base weights (the converter does not need them)")
    parser.add_argument("--check-docs", type=int, default=8, help="valid FIM documents in the check")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads (shared machine: 2)")
    parser.add_argument("--ship", action="store_true",
                        help="copy into server/asm_lsp/data with its JSON record")
    parser.add_argument("--force", action="store_true", help="convert even if --out exists")
    args = parser.parse_args(argv)

    started = time.time()
    from asm_lsp.model.store import MODEL_SIZES, installed_version, model_spec, packaged_adapter

    base_sha = sha256_file(args.base)
    sizes = {model_spec(size).sha256: size for size in MODEL_SIZES}  # the packaged bases: what we train on
    if base_sha not in sizes:
        raise SystemExit(f"{args.base}: sha256 {base_sha[:12]}… is not a base this pipeline trains on; "
                         f"pass the Qwen2.5-Coder-0.5B or -1.5B Q4_K_M GGUF")
    model_size = sizes[base_sha]
    spec = model_spec(model_size)
    # the chunk packages' installed version where there is one (the sha256 beside it identifies the base)
    version = installed_version(spec.distributions[0])
    base_label = f"{spec.name} (packages {spec.packages_label}{f' {version}' if version else ''})"
    ship_gguf, ship_json = packaged_adapter(model_size)
    report = json.loads((args.run / "train_report.json").read_text())
    if report.get("status") != "done":
        raise SystemExit(f"{args.run}: training status is {report.get('status')!r}; resume it first")
    command: list[str] = []
    if args.force or not args.out.exists():
        tools = llama_cpp_tools(args.work / "llama-sdist")
        base_dir = base_config_dir(args.base, args.work / f"base-hf-{base_sha[:12]}", args.base_weights)
        command = convert(args.run / "adapter", base_dir, tools, args.out)
    size = args.out.stat().st_size
    sha = sha256_file(args.out)
    print(f"{args.out}: {size:,} bytes, sha256 {sha}", flush=True)

    check: dict = {"loaded": False}
    load_llama(args.base, args.out, args.threads, 256).close()
    check["loaded"] = True
    if args.data is not None and (args.data / "valid_fim.u32.npy").exists():
        docs = valid_fim_docs(args.data, args.check_docs, 2000)
        base_nll, n = llama_nll(args.base, None, docs, args.threads)
        lora_nll, _ = llama_nll(args.base, args.out, docs, args.threads)
        check.update({"valid_fim_docs": len(docs), "target_tokens": n,
                      "nll_base": round(base_nll, 4), "nll_with_adapter": round(lora_nll, 4)})
        print(f"llama.cpp on {len(docs)} valid FIM documents ({n} target tokens): "
              f"NLL {base_nll:.3f} base -> {lora_nll:.3f} with the adapter", flush=True)
        if not lora_nll < base_nll:
            raise SystemExit("the adapter does not lower the valid FIM loss in llama.cpp; not shipping it")

    record = {
        "sha256": sha, "size": size, "base_sha256": base_sha,
        "base": base_label, "model_size": model_size,
        "format": "GGUF LoRA, f16, llama.cpp convert_lora_to_gguf.py from " + SDIST + " sdist",
        "command": " ".join(["python", "-m", "models.export_adapter"] + (argv if argv is not None else sys.argv[1:])),
        "convert_command": " ".join(str(c) for c in command) if command else "(existing file)",
        "data_manifest_sha256": report["data"].get("data_manifest_sha256"),
        "data_report_sha256": report["data"].get("report_sha256"),
        "hyperparameters": report["config"],
        "data_config": report.get("data_config"),
        "train_report": {k: report.get(k) for k in (
            "step", "max_steps", "tokens", "loss_tokens", "train_seconds", "tokens_per_s",
            "tokens_per_s_steady", "train_loss_first", "train_loss_last", "evals", "device", "torch",
            "trainable_params", "adapter_sha256")},
        "llama_cpp_check": check,
        "seconds": round(time.time() - started, 1),
    }
    if args.ship:
        if size > MAX_SHIPPED_BYTES:
            raise SystemExit(f"{args.out} is {size:,} bytes, over the {MAX_SHIPPED_BYTES:,} shipped limit")
        ship_gguf.parent.mkdir(parents=True, exist_ok=True)
        if args.out.resolve() != ship_gguf.resolve():
            shutil.copyfile(args.out, ship_gguf)
        link = ROOT / "models" / "adapters" / ship_gguf.name  # a link to the shipped file, not a second copy
        if not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.unlink(missing_ok=True)
            link.symlink_to(Path("..") / ".." / ship_gguf.relative_to(ROOT))
        ship_json.write_text(json.dumps(record, indent=1) + "\n")
        print(f"shipped {ship_gguf} and {ship_json}", flush=True)
    return record


if __name__ == "__main__":
    main()
