#!/usr/bin/env bash
# The Slimmable Networks comparison on Fashion-MNIST: the slimmable CNN trained once with
# AutoSlim's sandwich rule, against the same network at each uniform width trained alone with
# the same budget (same epochs, batch, learning-rate schedule). All runs go in parallel:
# the supernet with $THREADS_SUPERNET threads, each width alone with $THREADS_ALONE.
#
#   BIN=target/release/autoslim DATA=/usr/share/datasets/fashion-mnist EPOCHS=4 \
#     scripts/slimmable_vs_alone.sh runs/slim_vs_alone
set -euo pipefail
OUT_DIR=${1:-runs/slim_vs_alone}
BIN=${BIN:-target/release/autoslim}
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
EPOCHS=${EPOCHS:-4}
THREADS_SUPERNET=${THREADS_SUPERNET:-4}
THREADS_ALONE=${THREADS_ALONE:-1}
CONFIG=${CONFIG:-configs/autoslim_cnn_fashion_mnist_full.toml}
# Which runs: the supernet (SUPERNET=1) and the widths i/12 trained alone (WIDTHS="2 3 ... 12").
# Runs can be split over several invocations into the same OUT_DIR; the table covers what exists.
SUPERNET=${SUPERNET:-1}
WIDTHS=${WIDTHS-$(seq 2 12)}   # empty: none
mkdir -p "$OUT_DIR"
sed 's/^retraining = false/retraining = true/' "$CONFIG" > "$OUT_DIR/retrain.toml"

threads() { RAYON_NUM_THREADS=$1 MATMUL_NUM_THREADS=$1 "${@:2}"; }
# A run that dies (a GPU driver error, say) continues from its last checkpoint, up to $RETRIES times.
RETRIES=${RETRIES:-0}
train() {
  local n=1 threads=$1; shift
  threads "$threads" "$BIN" train "$@" && return
  while [ $n -le "$RETRIES" ]; do
    echo "== run failed; resuming from the last checkpoint (retry $n of $RETRIES)"
    threads "$threads" "$BIN" train "$@" --resume && return
    n=$((n + 1))
  done
  return 1
}
start=$(date +%s)
if [ "$SUPERNET" = 1 ]; then
  train "$THREADS_SUPERNET" --config "$CONFIG" --data-dir "$DATA" \
    --work-dir "$OUT_DIR/supernet" --epochs "$EPOCHS" > "$OUT_DIR/supernet.log" 2>&1 &
fi
for i in $WIDTHS; do
  "$BIN" subnet --config "$CONFIG" --ratio "$i/12" --out "$OUT_DIR/alone-$i/subnet.yaml" > /dev/null
  train "$THREADS_ALONE" --config "$OUT_DIR/retrain.toml" --subnet "$OUT_DIR/alone-$i/subnet.yaml" \
    --data-dir "$DATA" --work-dir "$OUT_DIR/alone-$i" --epochs "$EPOCHS" > "$OUT_DIR/alone-$i.log" 2>&1 &
done
wait
echo "all runs finished in $(( $(date +%s) - start )) s"

python3 - "$OUT_DIR" <<'PY'
import csv, sys, pathlib
out = pathlib.Path(sys.argv[1])
if not (out / "supernet/accuracy.csv").exists():
    sys.exit("no supernet results yet: the table needs them")
slim = {round(float(r["ratio"]) * 12): r for r in csv.DictReader(open(out / "supernet/accuracy.csv"))}
print("| width | channels | slimmable (one run) | trained alone | difference |")
print("| --- | --- | --- | --- | --- |")
for i in range(2, 13):
    if not (out / f"alone-{i}/accuracy.csv").exists():
        continue
    alone = next(csv.DictReader(open(out / f"alone-{i}/accuracy.csv")))
    s, a = float(slim[i]["top1"]), float(alone["top1"])
    print(f"| {i}/12 | {slim[i]['channels']} | {s:.2f} | {a:.2f} | {s - a:+.2f} |")
PY
