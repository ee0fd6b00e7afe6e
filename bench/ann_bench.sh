#!/usr/bin/env bash
# Approximate search (issue 14): recall@10 against exact inner-product search and the
# speed-up, for 50,000 and 1,000,000 generated items (bench/ann_bench.cc says how they
# are generated), at several ef. Needs: ninja -C build/release ann_bench.
set -euo pipefail
cd "$(dirname "$0")/.."
B=build/release/bench/ann_bench
$B items=50000 dim=32 queries=500 threads=2
$B items=1000000 dim=32 queries=300 threads=2
