#!/usr/bin/env bash
# Session 36, call 4: call 3's benchmark against the PyTorch peer again, with its kernel cache
# filled by runs of the same 13 steps (--iters 10 --warmup 3: the same widths, drawn from the
# same seed) so that the timed steps meet no kernel compiled for the first time (call 3's
# pre-runs covered 4 steps; the mean sandwich step then counted compilations).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
[ -x $DEV/autoslim-P ] || { xz -dkf $DEV/autoslim-P.xz && chmod +x $DEV/autoslim-P; }
R=/tmp/r4-$$; mkdir -p $R
trap 'cp $R/bench/summary.md $OUT/ 2>/dev/null; cp $R/summary.txt $OUT/ 2>/dev/null; tar czf $OUT/logs.tgz -C $R .' EXIT
trap "exit 143" TERM
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $R/summary.txt
export AUTOSLIM_KERNEL_CACHE=/tmp/cache-bench-4
for model in conv8 mobilenet_v2; do
  b=128; [ $model = conv8 ] && b=1024
  for mode in sandwich plain; do
    timeout 100 $DEV/autoslim-P bench --model $model --batch $b --mode $mode --iters 10 --warmup 3 > $R/pre-$model-$mode.log 2>&1
    echo "$model $mode pre-run: exit $? $(grep -o 'time to the first step[^:]*: [0-9.]* s' $R/pre-$model-$mode.log) | $(grep -o '[a-z]* step: [0-9.]* ms, [0-9.]* img/s; median [0-9.]* ms' $R/pre-$model-$mode.log | tail -1)" | tee -a $R/summary.txt
  done
done
MODELS="conv8 mobilenet_v2" MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=90 \
  VARIANTS="P=$DEV/autoslim-P:default" scripts/bench_gpu.sh $R/bench > $R/bench.out 2>&1
echo "bench_gpu: exit $?" | tee -a $R/summary.txt
tail -n 30 $R/bench/summary.md | tee -a $R/summary.txt
