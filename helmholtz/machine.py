"""The machine a benchmark runs on, clocks for its blocks, and its printed tables."""
import os
import platform
import resource
import subprocess
import time
from pathlib import Path

LOAD_SHARED = 2.0  # load average above which the machine counts as shared


def cpu_info():
    """Model, cores, clock, flags and the estimated peak FLOP/s of this CPU.

    Peak = cores x clock x 2 FMA units x SIMD lanes x 2 flops; AVX-512 has 16
    fp32 lanes. AVX512_BF16 dot products do twice the fp32 work per cycle.
    An estimate: the clock read here may be the base clock, not the boost.
    """
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), []).append(value.strip())
    flags = set((fields.get("flags") or [""])[0].split())
    mhz = max((float(v) for v in fields.get("cpu MHz", [])), default=0.0)
    try:  # lscpu knows the maximum clock on hosts that expose it
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5).stdout
        mhz = max([mhz] + [float(line.split(":")[1]) for line in lscpu.splitlines()
                           if line.startswith("CPU max MHz:")])
    except (OSError, ValueError, subprocess.SubprocessError):
        pass
    cores = len(os.sched_getaffinity(0))
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    fp32 = cores * mhz * 1e6 * 2 * lanes * 2 / 1e9
    bf16 = 2 * fp32 if flags & {"avx512_bf16", "amx_bf16"} else None
    return {"model": (fields.get("model name") or [platform.processor()])[0], "cores": cores,
            "clock_ghz": round(mhz / 1000, 3), "avx512": "avx512f" in flags,
            "avx512_bf16": "avx512_bf16" in flags,
            "peak_gflops_estimate": {"float32": round(fp32, 1),
                                     "bfloat16": round(bf16, 1) if bf16 else None}}


def load_average():
    return round(os.getloadavg()[0], 2)


def cpu_seconds():
    """CPU time of this process and its finished children (the pipeline's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, cpu_seconds() - self.cpu


def table(title, headers, rows):
    rows = [[f"{v:,.0f}" if isinstance(v, float) and abs(v) >= 100 else
             f"{v:.3g}" if isinstance(v, float) else str(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print(f"\n{title}")
    print("  " + "  ".join(str(h).rjust(w) for h, w in zip(headers, widths)))
    for row in rows:
        print("  " + "  ".join(v.rjust(w) for v, w in zip(row, widths)))
