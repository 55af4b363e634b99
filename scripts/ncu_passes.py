#!/usr/bin/env python3
"""Per-pass GPU time of `autoslim bench --mode widths` from Nsight Compute's per-kernel CSV.

    ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv \
        --log-file widths.csv autoslim bench --model conv8 --iters 1 --warmup 1 --mode widths
    scripts/ncu_passes.py widths.csv[.gz] [RATIOS] [FORWARD_KERNELS]
    BY_KERNEL=1 scripts/ncu_passes.py …   (also each kernel's launches, µs and µs a launch)

Each width runs one warm-up and one timed pass (any model, any `--ratio` list); a pass is found
by its forward average pool (`adaptive_avg_pool2d_direct`), FORWARD_KERNELS launches after its
first. Without FORWARD_KERNELS, each width's count is worked out from the pools' positions: a
width's two passes have the same length, each pass starts where the one before it ends, and the
last ends the log (the first kernel of every pass is printed, to check). RATIOS: the bench's
`--ratio` list, comma-separated (default 2/12,3/12,…,12/12), the last being full width.
Prints, for each timed pass, the GPU time of each kind of kernel, then the GEMM kernels split into the conv's forward pass, its input gradient, the
weight gradient's products and the strided input gradient's products, beside what each would
take if it scaled from the full-width pass with the width squared.
"""
import collections
import csv
import gzip
import os
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


def eval_ratio(text):
    top, _, bottom = text.partition("/")
    return float(top) / float(bottom or 1)


def forward_counts(pools, total):
    """Each width's launches before its pool, from the pools' positions (see the module doc)."""
    n = len(pools) // 2
    lengths = [pools[2 * w + 1] - pools[2 * w] for w in range(n)]
    counts = [0] * n
    counts[-1] = pools[-1] + lengths[-1] - total
    for w in range(n - 2, -1, -1):
        counts[w] = counts[w + 1] + pools[2 * w + 1] + lengths[w] - pools[2 * w + 2]
    return counts


def main():
    seq = kernels(sys.argv[1])
    pools = [i for i, (n, _) in enumerate(seq) if n.startswith("adaptive_avg_pool2d_direct")]
    ratios = [eval_ratio(r) for r in sys.argv[2].split(",")] if len(sys.argv) > 2 else [k / 12 for k in range(2, 13)]
    counts = [int(sys.argv[3])] * (len(pools) // 2) if len(sys.argv) > 3 else forward_counts(pools, len(seq))
    starts = [p - counts[k // 2] for k, p in enumerate(pools)] + [len(seq)]
    passes = [seq[starts[k]:starts[k + 1]] for k in range(1, len(pools), 2)]
    n = len(passes)
    if n != len(ratios):
        sys.exit(f"{n} timed passes in the log, {len(ratios)} ratios given")
    widths = [f"{r:.3f}" for r in ratios]
    for w, k in zip(widths, range(1, len(pools), 2)):
        print(f"{w}: {counts[k // 2]} launches before the pool; starts with {seq[starts[k]][0]}, follows {seq[starts[k] - 1][0]}")
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
    for p, forward in zip(passes, counts):
        g = collections.Counter()
        for i, (name, us) in enumerate(p):
            if not name.startswith("matmul_entry_lhs_bf16"):
                continue
            after = p[i + 1][0] if i + 1 < len(p) else ""
            part = parts[0] if i < forward else parts[2] if after.startswith("batch_sum") else parts[3] if after.startswith("fold") else parts[1]
            g[part] += us
        gemm.append(g)
    if os.environ.get("BY_KERNEL"):
        for w, p in zip(widths, passes):
            us, count = collections.Counter(), collections.Counter()
            for name, t in p:
                us[name] += t
                count[name] += 1
            print(f"\nwidth {w}, by kernel: launches, µs, µs a launch")
            for name, t in us.most_common():
                print(f"  {name[:64]:64} {count[name]:4} {t:9.0f} {t / count[name]:8.1f}")
    print("\nGEMM µs per pass (measured / from full width by width²)")
    print("width  " + " ".join(f"{p:>24}" for p in parts))
    for r, w, g in zip(ratios, widths, gemm):
        print(f"{w:6} " + " ".join(f"{g[p]:11.0f} / {gemm[-1][p] * r * r:10.0f}" for p in parts))


if __name__ == "__main__":
    main()
