#!/usr/bin/env bash
# Session 36, call 5: the MobileNetV2 Fashion-MNIST config's training on empty caches with the
# warm-up's groups at 2 (the new default) and 1 (session 35's), alternating, twice while time
# lasts: does the CNN's gain (calls 1 and 3) cost a model whose kernels are mostly the crate's?
set -uo pipefail
DEV=$(pwd)/artifacts/dev
[ -x $DEV/autoslim-P ] || { xz -dkf $DEV/autoslim-P.xz && chmod +x $DEV/autoslim-P; }
R=/tmp/r5-$$; mkdir -p $R
trap 'cp $R/summary.txt $OUT/ 2>/dev/null; tar czf $OUT/logs.tgz --exclude="*.mpk" --exclude=train --exclude=valid -C $R .' EXIT
trap "exit 143" TERM
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $R/summary.txt
train() {
  local g=$1 rep=$2 start; start=$(date +%s%N)
  AUTOSLIM_WARM_UP_GROUPS=$g AUTOSLIM_KERNEL_CACHE=/tmp/cache5-$g-$rep timeout 150 $DEV/autoslim-P train --config configs/autoslim_mbv2_fashion_mnist.toml --work-dir $R/train-$g-$rep > $R/train-$g-$rep.log 2>&1
  echo "mbv2 train groups $g ($rep): exit $? in $(( ($(date +%s%N) - start) / 1000000 )) ms; $(grep -o 'warm-up: [0-9]* of [0-9]* processes finished in [0-9.]* s' $R/train-$g-$rep.log); $(grep -o 'training took.*' $R/train-$g-$rep.log)" | tee -a $R/summary.txt
  grep -o 'warm-up: process [0-9/]* done in .*' $R/train-$g-$rep.log | sed 's/^/    /' | tee -a $R/summary.txt
}
train 2 a; train 1 a; train 1 b; train 2 b
for run in 1-a 1-b 2-b; do cmp -s $R/train-2-a/accuracy.csv $R/train-$run/accuracy.csv && echo "$run accuracy.csv: identical to 2-a" || echo "$run accuracy.csv: DIFFERENT"; done | tee -a $R/summary.txt
