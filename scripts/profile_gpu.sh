#!/usr/bin/env bash
# Where a GPU training step's time goes: `autoslim bench` with cubecl's kernel profiling on
# (each kernel launch timed; cubecl sums the times per kernel name between two device syncs and
# writes that table at each sync). On the GPU machine, from the repository root:
#
#   BIN=artifacts/dev/autoslim RUNS="dw=mobilenet_v2_small:sandwich:depthwise-sum" \
#     scripts/profile_gpu.sh OUT_DIR
#
# RUNS: LABEL=MODEL:MODE:CONV entries (MODE one of plain, sandwich; CONV one of AUTOSLIM_CONV's
# values). ITERS timed steps after WARMUP untimed ones; BATCH images per step. For each run,
# OUT_DIR gets LABEL.txt: the bench's own output and cubecl's table for the timed steps (the
# last table the run wrote), and LABEL.log.gz: cubecl's whole log.
set -uo pipefail
OUT_DIR=${1:-runs/profile_gpu}
BIN=$(realpath "${BIN:-target/release/autoslim}")
ITERS=${ITERS:-3}
WARMUP=${WARMUP:-1}
BATCH=${BATCH:-256}
TIMEOUT=${TIMEOUT:-150}
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
for spec in $RUNS; do
  label=${spec%%=*}; rest=${spec#*=}
  IFS=: read -r model mode conv <<< "$rest"
  dir=$(mktemp -d)
  # cubecl reads cubecl.toml from the working directory.
  printf '[profiling.logger]\nlevel = "basic"\nfile = "%s/cubecl.log"\nappend = false\n' "$dir" > "$dir/cubecl.toml"
  echo "== $label: $model $mode ($conv conv, batch $BATCH)"
  (cd "$dir" && AUTOSLIM_CONV=$conv timeout "$TIMEOUT" "$BIN" bench --model "$model" --batch "$BATCH" \
     --iters "$ITERS" --warmup "$WARMUP" --mode "$mode") > "$OUT_DIR/$label.txt" 2>&1
  echo "exit $?" >> "$OUT_DIR/$label.txt"
  cat "$OUT_DIR/$label.txt"
  if [ -f "$dir/cubecl.log" ]; then
    # The last complete table: from the last line opening one to the line after its "Total" row.
    awk '/^\|⎺/ { buf = ""; keep = 1 } keep { buf = buf $0 "\n" } /^\| Total / { last = buf; keep = 0 }
         END { printf "%s", last }' "$dir/cubecl.log" > "$OUT_DIR/$label.table"
    head -n 45 "$OUT_DIR/$label.table" | cut -c1-200
    cat "$OUT_DIR/$label.table" >> "$OUT_DIR/$label.txt"; rm "$OUT_DIR/$label.table"
    gzip -c "$dir/cubecl.log" > "$OUT_DIR/$label.log.gz"
  fi
  rm -rf "$dir"
done
