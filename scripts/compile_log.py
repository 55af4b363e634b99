#!/usr/bin/env python3
"""Tabulates which kernels a run compiled, from cubecl's compilation log.

Record a log with `CUBECL_DEBUG_LOG=FILE` (cubecl then logs every kernel it compiles, with its
source, and every kernel's run time); strip the sources to keep it small:

    awk '/^source:/{skip=1} /END_KERNEL_COMPILATION/{skip=0; print "----"; next} !skip' FILE > ids.log
    scripts/compile_log.py ids.log[.gz] [--first-step]

For each kind of kernel (cubek's matrix products split by operation, operand type and tile) it
prints how many were compiled, the sum of their first runs (compilation included: NVRTC, then
the CUDA driver) and how many distinct kernels remain when the bounds checks are ignored (what
AUTOSLIM_GEMM_CHECKS=always compiles). `--first-step` counts only the kernels compiled before the
optimizer's first step.
"""
import gzip
import re
import sys
from collections import defaultdict

UNITS = {"s": 1e3, "ms": 1.0, "µs": 1e-3, "ns": 1e-6}


def first_run_ms(text):
    """The first profiled run after a compilation, in milliseconds (0 when none)."""
    for line in text.split("\n"):
        m = re.match(r"\|\s*([\d.]+)(ms|µs|ns|s)\b", line)
        if m:
            return float(m.group(1)) * UNITS[m.group(2)]
    return 0.0


def kind(block):
    """A kernel's kind: its type's last path segment; matrix products by operation and types."""
    name = re.search(r"name: ([\w:]+)", block).group(1).split("::")[-1]
    if name != "MatmulEntry":
        return name
    op = re.search(r"operation: (\w+)", block)
    dtype = re.search(r"lhs_global: Scalar\(Float\((\w+)", block).group(1)
    tile = re.search(r"tile_matmul: (\w+)", block).group(1)
    return f"matmul {op.group(1) if op else 'product'} {dtype} {tile}"


def without_checks(block):
    block = re.sub(r"check_\w+_bounds: \w+", "check", block)
    return re.sub(r"checks: EnumSet\(.*?\)", "checks", block)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        sys.exit(__doc__)
    opener = gzip.open if args[0].endswith(".gz") else open
    with opener(args[0], "rt", encoding="utf-8") as f:
        text = f.read()
    end = len(text)
    if "--first-step" in sys.argv:
        sgd = re.search(r"\| [\d.]+\S+\s*\| SgdStepKernel", text)
        end = sgd.start() if sgd else end
    count, ms, distinct = defaultdict(int), defaultdict(float), defaultdict(set)
    for m in re.finditer(r"\[START_KERNEL_COMPILATION\]", text):
        if m.start() >= end:
            break
        stop = text.find("\n----", m.start())
        block = text[m.start():stop]
        k = kind(block)
        count[k] += 1
        ms[k] += first_run_ms(text[stop:stop + 600])
        distinct[k].add(without_checks(block.split("id: ", 1)[-1]))
    print(f"{'kernels':>8} {'first runs':>11} {'each':>8} {'no checks':>9}  kind")
    for k in sorted(count, key=lambda k: -ms[k]):
        print(f"{count[k]:8d} {ms[k] / 1e3:10.2f}s {ms[k] / count[k]:6.0f}ms {len(distinct[k]):9d}  {k}")
    print(f"{sum(count.values()):8d} {sum(ms.values()) / 1e3:10.2f}s {'':8} {sum(len(d) for d in distinct.values()):9d}  all")


if __name__ == "__main__":
    main()
