#!/usr/bin/env python3
"""Per-pass GPU time of `autoslim bench --mode widths` from Nsight Compute's per-kernel CSV.

    ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv \
        --log-file widths.csv autoslim bench --model conv8 --iters 1 --warmup 1 --mode widths
    scripts/ncu_passes.py widths.csv[.gz] [FORWARD_KERNELS]

Each width runs one warm-up and one timed pass; a pass is found by its forward average pool
(`adaptive_avg_pool2d_direct`), FORWARD_KERNELS launches after its first (84 for conv8 with
its 3-channel stem by im2col). Prints, for each timed pass, the GPU time of each kind of
kernel, then the GEMM kernels split into the conv's forward pass, its input gradient, the
weight gradient's products and the strided input gradient's products, beside what each would
take if it scaled from the full-width pass with the width squared.
"""
import collections
import csv
import gzip
import sys


def kernels(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        rows = csv.DictReader(line for line in f if line.startswith('"'))
        return [(r["Kernel Name"].split("(")[0].split("<")[0], float(r["Metric Value"].replace(",", "")) / 1e3) for r in rows]


def kind(name):
    if name.startswith("matmul_entry_lhs_bf16"):
        return "GEMM (bf16)"
    if name.startswith("matmul_entry"):
        return "matmul f32"
    if "layout_copy" in name:
        return "layout copy"
    if name.startswith(("channel_partials", "stats_finish", "channel_affine", "grad_finish")):
        return "BatchNorm"
    if name.startswith(("slice", "full", "copy_kernel")):
        return "slice/fill/copy"
    if name.startswith(("kernel_scalar", "kernel_binop", "unary")):
        return "elementwise"
    return name.split("_kernel")[0]


def main():
    seq = kernels(sys.argv[1])
    forward = int(sys.argv[2]) if len(sys.argv) > 2 else 84
    pools = [i for i, (n, _) in enumerate(seq) if n.startswith("adaptive_avg_pool2d_direct")]
    starts = [p - forward for p in pools] + [len(seq)]
    passes = [seq[starts[k]:starts[k + 1]] for k in range(1, len(pools), 2)]
    n = len(passes)
    widths = [f"{k + 12 - n + 1}/12" for k in range(n)]
    totals = [collections.Counter() for _ in passes]
    for t, p in zip(totals, passes):
        for name, us in p:
            t[kind(name)] += us
    kinds = sorted({k for t in totals for k in t}, key=lambda k: -totals[-1][k])[:10]
    print("µs per pass    total " + " ".join(f"{k[:12]:>12}" for k in kinds))
    for w, t, p in zip(widths, totals, passes):
        print(f"{w:6} {len(p):4} {sum(t.values()):9.0f} " + " ".join(f"{t[k]:12.0f}" for k in kinds))
    parts = ["conv forward", "conv input grad", "wgrad products", "strided igrad products"]
    gemm = []
    for p in passes:
        g = collections.Counter()
        for i, (name, us) in enumerate(p):
            if not name.startswith("matmul_entry_lhs_bf16"):
                continue
            after = p[i + 1][0] if i + 1 < len(p) else ""
            part = parts[0] if i < forward else parts[2] if after.startswith("batch_sum") else parts[3] if after.startswith("fold") else parts[1]
            g[part] += us
        gemm.append(g)
    print("\nGEMM µs per pass (measured / from full width by width²)")
    print("width  " + " ".join(f"{p:>24}" for p in parts))
    for k, (w, g) in enumerate(zip(widths, gemm)):
        r = (k + 12 - n + 1) / 12
        print(f"{w:6} " + " ".join(f"{g[p]:11.0f} / {gemm[-1][p] * r * r:10.0f}" for p in parts))


if __name__ == "__main__":
    main()
