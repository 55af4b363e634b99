#!/usr/bin/env bash
# Session 36, call 3: (1) the Fashion-MNIST CNN training on empty caches with the warm-up's
# groups at 2 (the new default) and 1 (session 35's), alternating, twice; (2) the one-invocation
# benchmark against the PyTorch peer (plain and sandwich steps of both models), its kernel cache
# filled first by a warmed-up run of each (outside the timed runs).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
[ -x $DEV/autoslim-P ] || { xz -dkf $DEV/autoslim-P.xz && chmod +x $DEV/autoslim-P; }
R=/tmp/r3-$$; mkdir -p $R
trap 'cp $R/bench/summary.md $OUT/ 2>/dev/null; cp $R/summary.txt $OUT/ 2>/dev/null; tar czf $OUT/logs.tgz --exclude="*.mpk" --exclude=train --exclude=valid -C $R .' EXIT
trap "exit 143" TERM
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $R/summary.txt
train() {
  local g=$1 rep=$2 start; start=$(date +%s%N)
  AUTOSLIM_WARM_UP_GROUPS=$g AUTOSLIM_KERNEL_CACHE=$R/cache-train-$g-$rep timeout 140 $DEV/autoslim-P train --config configs/autoslim_cnn_fashion_mnist.toml --work-dir $R/train-$g-$rep > $R/train-$g-$rep.log 2>&1
  echo "train groups $g ($rep): exit $? in $(( ($(date +%s%N) - start) / 1000000 )) ms; $(grep -o 'warm-up: [0-9]* of [0-9]* processes finished in [0-9.]* s' $R/train-$g-$rep.log); $(grep -o 'training took.*' $R/train-$g-$rep.log)" | tee -a $R/summary.txt
}
train 2 a; train 1 a
export AUTOSLIM_KERNEL_CACHE=$R/cache-bench
for model in conv8 mobilenet_v2; do
  b=128; [ $model = conv8 ] && b=1024
  for mode in sandwich plain; do
    timeout 90 $DEV/autoslim-P bench --model $model --batch $b --mode $mode --iters 3 --warmup 1 > $R/pre-$model-$mode.log 2>&1
    echo "$model $mode pre-run: exit $? $(grep -o 'time to the first step[^:]*: [0-9.]* s' $R/pre-$model-$mode.log)" | tee -a $R/summary.txt
  done
done
MODELS="conv8 mobilenet_v2" MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=90 \
  VARIANTS="P=$DEV/autoslim-P:default" scripts/bench_gpu.sh $R/bench > $R/bench.out 2>&1
echo "bench_gpu: exit $?" | tee -a $R/summary.txt
tail -n 30 $R/bench/summary.md | tee -a $R/summary.txt
unset AUTOSLIM_KERNEL_CACHE
train 1 b; train 2 b
for f in accuracy.csv; do for run in 1-a 2-b 1-b; do cmp -s $R/train-2-a/$f $R/train-$run/$f && echo "$run $f: identical to 2-a" || echo "$run $f: DIFFERENT"; done; done | tee -a $R/summary.txt
