#!/usr/bin/env bash
# Session 32, call 1 (prepared while no device was lent; one came at the session's end).
# G = session 32's code: session 31's E and F in one build (BatchNorm's finishing kernels by rows
# of 32 threads a channel; one-cube kernels in cubes of 1 024 threads), the one-cube path's bound
# and threads set at run time (AUTOSLIM_BN_ONE_CUBE_MAX, AUTOSLIM_BN_ONE_CUBE_THREADS), and a 1×1
# conv's weight gradient without the two copies of its input and gradient. D = session 31's
# call-1 build (the baseline). The CUDA tests of G's BatchNorm and GEMM conv; each width's pass
# (MobileNetV2-224 batch 128, 2/12 and full width) of D and of G under five settings, two
# rounds; Nsight Compute's per-kernel times of G (against session 30's C log).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-D.xz $DEV/autoslim-G.xz $DEV/slimmable-tests-G.xz && chmod +x $DEV/autoslim-D $DEV/autoslim-G $DEV/slimmable-tests-G
rm -rf /tmp/c; tar xJf $DEV/kc/kc.txz -C /tmp
# Logs straight into $OUT, so that a run cut short still brings back what it wrote.
R=$OUT
export AUTOSLIM_KERNEL_CACHE=/tmp/c
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "== CUDA tests of G"
timeout 200 $DEV/slimmable-tests-G batch_norm gemm_conv::tests::on_cuda:: on_cuda_bf16_operands > $R/cuda-tests.log 2>&1
echo "tests: exit $?"; grep -E "test result|FAILED|panicked" $R/cuda-tests.log | head -12
# widths LABEL BINARY [VAR=VALUE ...]
widths() {
  local label=$1 bin=$2; shift 2
  env "$@" AUTOSLIM_WARM_UP=off timeout 100 $bin bench --model mobilenet_v2 --batch 128 --iters 8 --warmup 3 --mode widths --ratio 2/12 1 > $R/widths-$label.log 2>&1
  echo "$label: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' $R/widths-$label.log | awk '{printf "%s %s  ", $2, $4}')"
}
round() {
  widths D-$1 $DEV/autoslim-D
  widths G-$1 $DEV/autoslim-G
  widths G256-$1 $DEV/autoslim-G AUTOSLIM_BN_ONE_CUBE_THREADS=256
  widths G28-$1 $DEV/autoslim-G AUTOSLIM_BN_ONE_CUBE_MAX=100352
  widths G0-$1 $DEV/autoslim-G AUTOSLIM_BN_ONE_CUBE_MAX=0
}
echo "== widths (ms a pass), round 1"
round 1
echo "== ncu of G"
AUTOSLIM_WARM_UP=off timeout 150 /usr/local/cuda/bin/ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv --log-file $R/ncu-widths-G.csv \
  $DEV/autoslim-G bench --model mobilenet_v2 --batch 128 --mode widths --ratio 2/12 1 --iters 1 --warmup 1 > $R/ncu-widths-G.log 2>&1
echo "ncu: exit $?"; python3 scripts/ncu_passes.py $R/ncu-widths-G.csv 2/12,1 2>&1 | head -8
gzip -f $R/ncu-widths-G.csv
echo "== widths, round 2"
round 2
