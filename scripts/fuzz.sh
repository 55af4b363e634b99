#!/usr/bin/env bash
# Fuzzes the parsers that users' files reach — the TOML config, MMRazor's channel YAML, IDX
# data — for a bounded number of inputs: CASES per property (6 properties), with proptest
# (crates/autoslim/tests/fuzz_inputs.rs). A panic on any input fails the run and proptest
# prints the smallest input that panics. Record the figures in docs/FUZZING.md.
#
#   scripts/fuzz.sh [CASES]      # default 20000 per property
set -euo pipefail
cd "$(dirname "$0")/.."
CASES=${1:-20000}
start=$(date +%s)
PROPTEST_CASES=$CASES cargo test --release -p autoslim --test fuzz_inputs -- --test-threads 2
seconds=$(( $(date +%s) - start ))
echo "fuzzed 6 properties × $CASES inputs = $(( 6 * CASES )) inputs in ${seconds} s (build included); no panic"
