#!/usr/bin/env bash
# Watches a training run that scripts/gpu_session.sh started detached on the GPU machine, until
# it ends or DEADLINE seconds have passed, printing its progress; then puts into OUT_DIR what
# should come back: train.log, run.tgz (the work directory's small files: accuracy.csv and
# accuracy.svg once the run has finished) and ckpt/ (the newest checkpoint, to resume from on a
# fresh machine with scripts/mbv2_fmnist_gpu.sh).
#
#   DEADLINE=580 scripts/gpu_watch.sh OUT_DIR
set -uo pipefail
OUT_DIR=${1:?usage: gpu_watch.sh OUT_DIR}
WORK=${WORK:-/tmp/mbv2_fmnist}
DEADLINE=${DEADLINE:-580}
mkdir -p "$OUT_DIR/ckpt"
pid=$(cat "$WORK/pid" 2>/dev/null || echo 0)
alive() { [ "$pid" != 0 ] && kill -0 "$pid" 2>/dev/null; }
# Stop watching 20 s before the deadline, to pack.
while alive && [ $SECONDS -lt $(( DEADLINE - 20 )) ]; do
  sleep 15
done
# Progress lines rewrite themselves with '\r' when the output is a terminal; here each is a line.
tail -n 25 "$WORK/train.log"
alive && echo "training still running (pid $pid)" || echo "training ended"
cp "$WORK/train.log" "$OUT_DIR/"
last=$(ls "$WORK/checkpoint" 2>/dev/null | sed -n 's/^model-\([0-9]*\)\.mpk$/\1/p' | sort -n | tail -1)
if [ -n "$last" ]; then
  for kind in model optim scheduler; do cp "$WORK/checkpoint/$kind-$last.mpk" "$OUT_DIR/ckpt/"; done
fi
(cd "$WORK" && find . -maxdepth 1 -type f ! -name '*.mpk' -print0 | tar czf "$OUT_DIR/run.tgz" --null -T -)
ls -la "$OUT_DIR" "$OUT_DIR/ckpt"
