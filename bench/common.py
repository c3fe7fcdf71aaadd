"""What every benchmark shares: percentiles, /proc samples, the machine's load, the report
writer and the cross compiler's command line.

Run benchmarks from the repository root as modules (``python -m bench.stress``); server/
comes from the installed package or ``PYTHONPATH=server``.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

# -- percentiles ----------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """The q-quantile (0 <= q <= 1) by linear interpolation between closest ranks (numpy's
    default, ``statistics.quantiles(method="inclusive")``); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


# -- /proc samples (Linux) ----------------------------------------------------------------


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS and VmHWM of a process in kB from /proc/PID/status; {} once it is gone."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().split("\n"):
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size in MiB."""
    return proc_status(pid).get("VmRSS", 0) / 1024


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident set size (VmHWM) in MiB."""
    return proc_status(pid).get("VmHWM", 0) / 1024


def cpu_ticks(pid: int | str = "self") -> int:
    """User + system CPU clock ticks of a process, its threads included; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError):
        return 0


def cpu_seconds(pid: int | str = "self") -> float:
    return cpu_ticks(pid) / os.sysconf("SC_CLK_TCK")


# -- the machine and the report -------------------------------------------------------------


def machine() -> dict[str, Any]:
    """When and where a benchmark ran: UTC time, CPU, cores and the load (``uptime``'s
    three averages), to be written into every result."""
    return {"date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "machine": platform.machine(),
            "processor": platform.processor(), "cpus": os.cpu_count(),
            "load": [round(x, 2) for x in os.getloadavg()]}


def command_line(argv: list[str] | None = None) -> str:
    """How this benchmark was started, as one would type it from the repository root:
    ``python -m bench.stress --runs 3``."""
    main = Path(sys.argv[0]).resolve()
    name = (".".join(main.relative_to(ROOT).with_suffix("").parts) if main.is_relative_to(ROOT)
            else str(sys.argv[0]))
    return " ".join(["python -m", name, *(sys.argv[1:] if argv is None else argv)])


def write_report(out: Path | str, report: dict[str, Any], markdown: str | None = None) -> None:
    """OUT.json (the figures) and, given Markdown, OUT.md beside it (a .json or .md ending of
    ``out`` is dropped first). The JSON also says where and under what load it was written
    (``written_on``: ``machine()``), unless the report already does."""
    report.setdefault("written_on", machine())
    out = Path(out)
    if out.suffix in (".json", ".md"):
        out = out.with_suffix("")
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{out}.json").write_text(json.dumps(report, indent=1) + "\n")
    if markdown is not None:
        Path(f"{out}.md").write_text(markdown)


# -- the cross compilers ------------------------------------------------------------------

GCC = "aarch64-linux-gnu-gcc"
CLANG = "clang"
# How each compiler is invoked; clang needs the Debian cross sysroot for headers, and
# -fno-addrsig keeps its .addrsig section (which GNU as rejects) out of the output.
COMPILERS: dict[str, list[str]] = {
    "gcc": [GCC],
    "clang": [CLANG, "--target=aarch64-linux-gnu", "--sysroot=/usr/aarch64-linux-gnu", "-fno-addrsig"],
}


def compile_argv(compiler: str, opt: str, source: Path, out: Path, *flags: str) -> list[str]:
    """The command line that compiles C ``source`` to AArch64 assembly ``out``. ``compiler``:
    "gcc" or "clang"; ``opt``: "O2" or "-O2"; ``flags``: more options (-march, -g...)."""
    return [*COMPILERS[compiler], "-" + opt.lstrip("-"), *flags, "-S", str(source), "-o", str(out)]


def compile_case(compiler: str, opt: str, source: Path, out: Path, *flags: str,
                 timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Compile ``source`` to ``out`` (see ``compile_argv``); raises CalledProcessError with the
    compiler's message when it fails."""
    return subprocess.run(compile_argv(compiler, opt, source, out, *flags), check=True,
                          capture_output=True, text=True, timeout=timeout)


def compiler_version(compiler: str) -> str:
    """The first line of ``--version``."""
    argv = COMPILERS[compiler][:1] + ["--version"]
    return subprocess.run(argv, capture_output=True, text=True).stdout.split("\n")[0]
