"""The GPU evaluation round trip on CPU: models.evaluate export-prompts -> models.hf_generate
-> models.evaluate import-answers.

Test data: bench/exec_completion/cases/add_two_arrays.c compiled here at -O2 by
aarch64-linux-gnu-gcc and clang (2 line + 1 block holes per compiler: 6 holes); the real
tokenizer (models/work/tokenizer, else read from the base GGUF). The model is the randomly
initialised two-layer Qwen2 of preset "tiny" saved as a transformers directory, with a fresh
PEFT adapter, so that the same load and generate code as on the GPU runs in seconds. Beside its
answers, hand-made raw answers check the cutting and scoring: the expected text followed by
more lines must score 100% exact; the expected text without a line end scores only when
generation ended on end-of-text (the engine drops half a line cut by the token limit).
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tiny_model import tiny_model

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.train, pytest.mark.model, pytest.mark.compilers, pytest.mark.timeout(300)]

SAMPLING = ["--source", "cases", "--case", "add_two_arrays", "--opts", "O2", "--holes", "2",
            "--block-holes", "1", "--no-examples"]


def _tokenizer(tmp: Path, base_gguf: Path) -> Path:
    local = ROOT / "models" / "work" / "tokenizer"
    if (local / "tokenizer.json").exists():
        return local
    from models.dataset import save_tokenizer

    save_tokenizer(base_gguf, tmp / "tokenizer")
    return tmp / "tokenizer"


def test_export_generate_import_round_trip(tmp_path, base_gguf):
    import torch

    from asm_lsp.model.prompt import build_fim_prompt, cut_window, split_at
    from models import evaluate, hf_generate

    torch.set_num_threads(1)
    work = tmp_path / "work"
    prompts_path = tmp_path / "prompts.jsonl.gz"
    assert evaluate.main(["export-prompts", *SAMPLING, "--work", str(work),
                          "--tokenizer", str(_tokenizer(tmp_path, base_gguf)), "--out", str(prompts_path)]) == 0
    with gzip.open(prompts_path, "rt") as handle:
        prompts = [json.loads(line) for line in handle]

    # The same holes as the normal path, each with the server's prompt for its document.
    files = evaluate.compile_cases(evaluate.CASES_DIR, work / "cases", ("O2",), {"add_two_arrays"})
    holes = evaluate.sample_holes(files, {"line": 2, "block": 1}, 0)
    by_id = {f.id: f for f in files}
    assert [p["id"] for p in prompts] == [h.id for h in holes] and len(prompts) == 6
    assert sorted((p["compiler"], p["kind"]) for p in prompts) == \
        [("clang", "block"), ("clang", "line"), ("clang", "line"), ("gcc", "block"), ("gcc", "line"), ("gcc", "line")]
    for prompt, hole in zip(prompts, holes):
        window = cut_window(*split_at(hole.document(by_id), hole.line, hole.col))  # small file: full budgets
        assert prompt["prompt"] == build_fim_prompt(window.prefix, window.suffix)
        assert prompt["expected"] == hole.expected and prompt["max_lines"] == hole.n_lines
        assert prompt["max_new_tokens"] == 20 * hole.n_lines and prompt["multiline"] is True
        assert 100 < prompt["prompt_tokens"] < 1000

    base, adapter = tiny_model(tmp_path)
    answers = {}
    for name, extra in (("base", []), ("ours", ["--adapter", str(adapter)])):
        answers[name] = tmp_path / f"{name}.jsonl"
        assert hf_generate.main(["--base", str(base), "--prompts", str(prompts_path), "--out", str(answers[name]),
                                 "--tokenizer", str(_tokenizer(tmp_path, base_gguf)), "--device", "cpu", "--batch", "4",
                                 *extra]) == 0
    rows = {n: [json.loads(line) for line in p.read_text().splitlines()] for n, p in answers.items()}
    for name, made in rows.items():
        assert [r["id"] for r in made] == [p["id"] for p in prompts]
        for row, prompt in zip(made, prompts):
            assert row["generated_tokens"] <= prompt["max_new_tokens"]
            assert row["finished"] or row["generated_tokens"] == prompt["max_new_tokens"]
    assert [r["text"] for r in rows["base"]] != [r["text"] for r in rows["ours"]]  # the adapter was applied

    def write(name: str, text: str, finished: bool) -> str:
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps({"id": p["id"], "text": text.format(**p), "finished": finished}) + "\n"
                                for p in prompts))
        return f"{name}={path}"

    out = tmp_path / "report.json"
    assert evaluate.main(["import-answers", *SAMPLING, "--work", str(work), "--out", str(out),
                          "--answers", f"base={answers['base']}", "--answers", f"ours={answers['ours']}",
                          "--answers", write("oracle", "{expected}\n\tnop\n\tnop\n\tnop\n", False),
                          "--answers", write("eos", "{expected}", True),
                          "--answers", write("cut", "{expected}", False)]) == 0
    report = json.loads(out.read_text())
    assert report["systems"] == ["base", "ours", "oracle", "eos", "cut"]
    assert report["counts"]["holes"] == 6 and report["counts"]["by_kind"] == {"line": 4, "block": 2}
    assert "transformers" in report["config"]["decoding"] and report["config"]["answers_from"] == "models.hf_generate"
    metrics = report["metrics"]
    for kind, n in (("line", 4), ("block", 2)):
        assert set(metrics["base"][kind]) == {"all", "clang -O2", "gcc -O2"} and metrics["base"][kind]["all"]["n"] == n
        assert metrics["oracle"][kind]["all"] == {"n": n, "exact": 100.0, "edit_sim": 100.0, "shown": 100.0,
                                                  "assembles": metrics["oracle"][kind]["all"]["assembles"]}
        assert metrics["oracle"][kind]["all"]["assembles"] in (100.0, None)  # None: no assembler here
        assert metrics["eos"][kind]["all"]["exact"] == 100.0
        assert metrics["cut"][kind]["all"]["shown"] == (100.0 if kind == "block" else 0.0)  # 2 whole lines shown
    for hole in report["holes"]:
        assert hole["answers"]["oracle"]["text"] == hole["expected"]
        assert hole["answers"]["cut"]["text"] == "\n".join(hole["expected"].split("\n")[:-1])
        for name in ("base", "ours"):
            assert hole["answers"][name]["text"].count("\n") < (1 if "/line@" in hole["id"] else 3)

    # Answers from another sampling are refused, not silently dropped.
    stray = tmp_path / "stray.jsonl"
    stray.write_text(json.dumps({"id": "cases/x.c/gcc-O2/line@1", "text": "", "finished": True}) + "\n")
    with pytest.raises(SystemExit, match="does not make"):
        evaluate.main(["import-answers", *SAMPLING, "--work", str(work), "--out", str(out), "--answers", f"x={stray}"])
