#!/usr/bin/env bash
# Session 13, call 1 (measurement only, session 12's final build G): is a slimmed pass held up
# by the host? conv8 bf16 per-width pass times at batch 1024 and 128 (a pass whose time does
# not fall with the batch is bound by launches, not arithmetic), the host's CPU profile of each
# width and of the sandwich step, and cubecl's kernel profile of every width (one table per
# width in the log: summed kernel time against the wall time).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-G.xz && chmod +x $DEV/autoslim-G
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache AUTOSLIM_GEMM_PRECISION=bf16
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
mkdir -p /tmp/r /tmp/hp
B=$DEV/autoslim-G
timeout 120 $B bench --model conv8 --batch 1024 --iters 10 --warmup 2 --mode widths sandwich --seed 0 > /tmp/r/warm.log 2>&1; echo "warm: $?"
AUTOSLIM_HOST_PROFILE=/tmp/hp/b1024 timeout 150 $B bench --model conv8 --batch 1024 --iters 10 --warmup 2 --mode widths sandwich --seed 0 > /tmp/r/b1024.log 2>&1; echo "b1024: $?"
grep -E "width |step:" /tmp/r/b1024.log
timeout 120 $B bench --model conv8 --batch 128 --iters 10 --warmup 2 --mode widths --seed 0 > /tmp/r/b128.log 2>&1; echo "b128: $?"
grep -E "width " /tmp/r/b128.log
for f in /tmp/hp/*.txt; do echo "== $f"; head -4 $f | tail -3; done
d=$(mktemp -d); printf '[profiling.logger]\nlevel = "basic"\nfile = "%s/cubecl.log"\nappend = false\n' "$d" > $d/cubecl.toml
(cd $d && timeout 150 $B bench --model conv8 --batch 1024 --iters 3 --warmup 1 --mode widths --seed 0) > /tmp/r/prof-widths.log 2>&1; echo "prof: $?"
gzip -c $d/cubecl.log > /tmp/r/cubecl-widths.log.gz
cp /tmp/hp/* /tmp/r/
tar czf $OUT/call1.tgz -C /tmp/r .
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude cache/cuda-driver cache
