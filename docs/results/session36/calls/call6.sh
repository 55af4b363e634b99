#!/usr/bin/env bash
# Session 36, call 6: build Q (the warm-up also runs the training set's shorter last batch and
# the validation passes, full and shorter batch; groups of three processes by default) against
# P (the first steps' training passes only) with P's groups set to Q's default (2), on empty
# caches, alternating: the Fashion-MNIST CNN config, the MobileNetV2 one, the CNN again.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in P Q; do [ -x $DEV/autoslim-$b ] || { xz -dkf $DEV/autoslim-$b.xz && chmod +x $DEV/autoslim-$b; }; done
R=/tmp/r6-$$; mkdir -p $R
trap 'cp $R/summary.txt $OUT/ 2>/dev/null; tar czf $OUT/logs.tgz --exclude="*.mpk" --exclude=train --exclude=valid -C $R .' EXIT
trap "exit 143" TERM
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $R/summary.txt
train() {
  local build=$1 config=$2 rep=$3 name=$1-$2-$3 start; start=$(date +%s%N)
  AUTOSLIM_WARM_UP_GROUPS=2 AUTOSLIM_KERNEL_CACHE=/tmp/cache6-$name timeout 150 $DEV/autoslim-$build train --config configs/autoslim_${config}_fashion_mnist.toml --work-dir $R/train-$name > $R/train-$name.log 2>&1
  echo "$config train $build ($rep): exit $? in $(( ($(date +%s%N) - start) / 1000000 )) ms; $(grep -o 'warm-up: [0-9]* of [0-9]* processes finished in [0-9.]* s' $R/train-$name.log); $(grep -o 'training took.*' $R/train-$name.log)" | tee -a $R/summary.txt
  grep -o 'compiling the kernels of [0-9]* passes' $R/train-$name.log | sed 's/^/    /' | tee -a $R/summary.txt
  grep -o '\[epoch [0-9/]*\] [a-z]* .*s |' $R/train-$name.log | sed 's/^/    /' | tee -a $R/summary.txt
}
train Q cnn a; train P cnn a; train Q mbv2 a; train P mbv2 a; train P cnn b; train Q cnn b
for run in P-cnn-a P-cnn-b Q-cnn-b; do cmp -s $R/train-Q-cnn-a/accuracy.csv $R/train-$run/accuracy.csv && echo "$run accuracy.csv: identical to Q-cnn-a" || echo "$run accuracy.csv: DIFFERENT"; done | tee -a $R/summary.txt
cmp -s $R/train-Q-mbv2-a/accuracy.csv $R/train-P-mbv2-a/accuracy.csv && echo "mbv2 accuracy.csv: P and Q identical" | tee -a $R/summary.txt
