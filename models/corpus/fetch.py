"""Fetch Debian source packages and unpack them without running anything from them.

`apt-get source --download-only` fetches the `.dsc` and its tarballs; we unpack the
upstream tarball(s) and the Debian tarball ourselves with `safe_extract`, which
refuses absolute paths, `..` components, links and device files. Debian patches
are not applied (that would need `patch`/quilt on untrusted input; upstream code is
what we want anyway).
"""
from __future__ import annotations

import gzip
import re
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the destination or is not a plain file/dir."""


@dataclass
class SourcePackage:
    name: str
    version: str
    licence: str
    root: Path  # the unpacked upstream tree


def _check_member(member: tarfile.TarInfo) -> None:
    path = PurePosixPath(member.name)
    if member.name.startswith("/") or path.is_absolute():
        raise UnsafeArchiveError(f"absolute path in archive: {member.name!r}")
    if ".." in path.parts:
        raise UnsafeArchiveError(f"'..' in archive path: {member.name!r}")
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise UnsafeArchiveError(f"special file in archive: {member.name!r}")


def safe_extract(archive: Path, dest: Path) -> list[str]:
    """Unpack `archive` (tar, .gz, .bz2, .xz) into `dest`; return the member names written.

    Raises UnsafeArchiveError before writing anything if any member is absolute,
    contains `..`, or is a device/fifo. Symlinks and hard links are skipped (source
    trees don't need them, and they are the other way out of `dest`).
    """
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        for member in members:
            _check_member(member)
        plain = [m for m in members if m.isfile() or m.isdir()]
        # The 'data' filter re-checks paths and strips modes such as setuid.
        tar.extractall(dest, members=plain, filter="data")
    return [m.name for m in plain]


def _parse_dsc(dsc: Path) -> tuple[str, list[str]]:
    text = dsc.read_text(errors="replace")
    version = re.search(r"^Version:\s*(\S+)", text, re.M)
    files: list[str] = []
    block = re.search(r"^Files:\n((?: .*\n?)+)", text, re.M)
    if block:
        files = [line.split()[-1] for line in block.group(1).splitlines() if line.strip()]
    return (version.group(1) if version else "unknown"), files


# For old free-form debian/copyright files: phrases that name a licence family.
LICENCE_PHRASES = (
    ("Permission is hereby granted, free of charge", "MIT"),
    ("GNU Lesser General Public License", "LGPL"),
    ("GNU Library General Public License", "LGPL"),
    ("GNU General Public License", "GPL"),
    ("Redistribution and use in source and binary forms", "BSD"),
    ("public domain", "public-domain"),
)


def licence_from_copyright(text: str) -> str:
    """First `License:` value of a debian/copyright file; for free-form files a
    'guessed: X' from the first licence phrase in the text; else 'unknown'."""
    match = re.search(r"^License:[ \t]*(\S[^\n]*)", text, re.M)
    if match:
        return match.group(1).strip()
    flat = " ".join(text.split())
    hits = sorted((flat.find(phrase), name) for phrase, name in LICENCE_PHRASES if phrase in flat)
    # "public domain" is often a side note about one file: only when nothing else is named.
    named = [name for _, name in hits if name != "public-domain"] or [name for _, name in hits]
    return f"guessed: {named[0]}" if named else "unknown"


def _copyright_from_diff(diff_gz: Path) -> str:
    """debian/copyright as added by a 1.0-format .diff.gz (lines after its +++ header)."""
    lines: list[str] = []
    inside = False
    with gzip.open(diff_gz, "rt", errors="replace") as handle:
        for line in handle:
            if line.startswith("+++ "):
                inside = line.rstrip().endswith("/debian/copyright")
            elif inside and line.startswith("+"):
                lines.append(line[1:])
    return "".join(lines)


def _single_top(dir_: Path) -> Path:
    entries = [p for p in dir_.iterdir()]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dir_


def fetch_package(name: str, download_dir: Path, src_dir: Path) -> SourcePackage:
    """Download (once) and unpack (once) Debian source package `name`.

    `download_dir` keeps the .dsc and tarballs; `src_dir` receives `upstream/` and
    `debian/`. Raises RuntimeError with apt's message if the download fails.
    """
    download_dir.mkdir(parents=True, exist_ok=True)
    dscs = sorted(download_dir.glob("*.dsc"))
    # A failed download can leave the .dsc without its tarballs: fetch again then.
    if not dscs or not all((download_dir / f).exists() for f in _parse_dsc(dscs[-1])[1]):
        proc = subprocess.run(
            ["apt-get", "source", "--download-only", "-qq", "-t", "bookworm", name],
            cwd=download_dir, capture_output=True, text=True, timeout=600,
        )
        dscs = sorted(download_dir.glob("*.dsc"))
        if proc.returncode != 0 or not dscs:
            raise RuntimeError(f"apt-get source {name} failed: {proc.stderr.strip()[-500:]}")
    version, files = _parse_dsc(dscs[-1])
    upstream = src_dir / "upstream"
    debian = src_dir / "debian"
    done = src_dir / ".unpacked"
    if not done.exists():
        # Only the tarballs themselves, not their detached signatures (.tar.xz.asc).
        tarballs = [download_dir / f for f in files
                    if re.search(r"\.tar(\.(gz|bz2|xz|lzma))?$", f)]
        debian_tars = [t for t in tarballs if ".debian.tar" in t.name]
        upstream_tars = [t for t in tarballs if t not in debian_tars]
        # Component tarballs (orig-foo.tar.*) unpack beside the main one, as dpkg-source does.
        main = [t for t in upstream_tars if ".orig-" not in t.name]
        for tar in main:
            safe_extract(tar, upstream)
        for tar in debian_tars:
            safe_extract(tar, debian)
        top = _single_top(upstream)
        for tar in upstream_tars:
            if ".orig-" in tar.name:
                component = tar.name.split(".orig-", 1)[1].split(".tar", 1)[0]
                safe_extract(tar, top / component)
        done.write_text(version)
    candidates = [debian / "debian" / "copyright", _single_top(upstream) / "debian" / "copyright"]
    copyright_file = next((c for c in candidates if c.is_file()), None)
    if copyright_file is not None:
        licence = licence_from_copyright(copyright_file.read_text(errors="replace"))
    else:
        diffs = [download_dir / f for f in files if f.endswith(".diff.gz")]
        licence = licence_from_copyright(_copyright_from_diff(diffs[0])) if diffs else "unknown"
    return SourcePackage(name=name, version=version, licence=licence, root=_single_top(upstream).resolve())
