#!/usr/bin/env bash
# Session 32, call 2 (prepared while no device was lent): plain and
# sandwich steps of G (session 32's code, its defaults; set G_ENV to the best of call 1's
# settings, e.g. G_ENV="AUTOSLIM_BN_ONE_CUBE_MAX=100352") against D (session 31's call-1 build)
# and PyTorch, both models, on the same GPU.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-D.xz $DEV/autoslim-G.xz && chmod +x $DEV/autoslim-D $DEV/autoslim-G
rm -rf /tmp/c; tar xJf $DEV/kc/kc.txz -C /tmp
# Logs straight into $OUT, so that a run cut short still brings back what it wrote.
R=$OUT
export AUTOSLIM_KERNEL_CACHE=/tmp/c
# G with its settings, as one command bench_gpu.sh can name.
printf '#!/usr/bin/env bash\nexec env %s %s "$@"\n' "${G_ENV:-AUTOSLIM_BN_ONE_CUBE_MAX=32768}" "$DEV/autoslim-G" > $DEV/autoslim-G.sh && chmod +x $DEV/autoslim-G.sh
MODELS="mobilenet_v2 conv8" MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=50 VARIANTS="G=$DEV/autoslim-G.sh:gemm-all D=$DEV/autoslim-D:gemm-all" \
  scripts/bench_gpu.sh $R/bench 2>&1 | tail -12
# Cold first plain steps of MobileNetV2 (each on its own empty cubecl and driver caches): the
# default checks of a one-width run (`needed`) against `channels` (the runs of many widths'),
# which may compile fewer GEMM kernels (session 31: 29.3 s cold with `needed`).
echo "== cold first plain steps, MobileNetV2-224 batch 128"
for run in ${COLD_RUNS:-needed-1 channels-1 needed-2 channels-2}; do
  checks=${run%-*}; rm -rf /tmp/cold
  AUTOSLIM_KERNEL_CACHE=/tmp/cold AUTOSLIM_GEMM_CHECKS=$checks AUTOSLIM_WARM_UP=off timeout 150 $DEV/autoslim-G bench --model mobilenet_v2 --batch 128 --mode plain --iters 3 --warmup 1 > $R/cold-plain-$run.log 2>&1
  echo "$run: exit $? $(grep -o 'time to the first step[^:]*: [0-9.]* s' $R/cold-plain-$run.log) $(grep -o 'median [0-9.]* ms' $R/cold-plain-$run.log)"
done
