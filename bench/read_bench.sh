#!/usr/bin/env bash
# Reading benchmark (issue: foundation). Reads a generated 10-million-row
# user,item,value CSV with string ids into the id dictionaries, CSR and CSC,
# and compares side by side in one run:
#   time:   encore stats  vs  wc -l on the same file (target: <= 4x)
#   memory: peak RSS      vs  final dictionaries + CSR + CSC (target: <= 1.5x)
# Medians of $REPEATS runs each, interleaved, page cache warm.
# Usage: bench/read_bench.sh [ROWS] (default 10000000); writes to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-10000000}"
REPEATS="${REPEATS:-5}"
ENCORE=build/release/encore
DATA="${BENCH_DATA:-/tmp/encore-bench}"
FILE="$DATA/plays-$ROWS/plays.csv"

if [ ! -f "$FILE" ]; then
  "$ENCORE" generate --profile plays --users 1000000 --items 200000 --rows "$ROWS" \
    --seed 7 --out "$DATA/plays-$ROWS" --quiet
fi
cat "$FILE" >/dev/null  # warm the page cache

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

wc_times=(); enc_times=(); rss=()
for i in $(seq "$REPEATS"); do
  s=$(date +%s.%N); wc -l "$FILE" >/dev/null; e=$(date +%s.%N)
  wc_times+=("$(echo "$e - $s" | bc -l)")
  s=$(date +%s.%N)
  /usr/bin/time -f '%M' -o /tmp/encore-bench-rss "$ENCORE" stats --input "$FILE" --json --quiet \
    >/tmp/encore-bench-stats.json
  e=$(date +%s.%N)
  enc_times+=("$(echo "$e - $s" | bc -l)")
  rss+=("$(cat /tmp/encore-bench-rss)")
done

wc_med=$(printf '%s\n' "${wc_times[@]}" | median)
enc_med=$(printf '%s\n' "${enc_times[@]}" | median)
rss_kb=$(printf '%s\n' "${rss[@]}" | median)
final_bytes=$(python3 -c "import json; print(json.load(open('/tmp/encore-bench-stats.json'))['memory']['total'])")
nnz=$(python3 -c "import json; print(json.load(open('/tmp/encore-bench-stats.json'))['nonzeros'])")
size_mb=$(du -m "$FILE" | cut -f1)

echo "file: $FILE ($size_mb MB, $ROWS rows, $nnz nonzeros); machine: $(nproc) cores, $(uname -m)"
echo "wc -l       median ${wc_med}s   (runs: ${wc_times[*]})"
echo "encore stats median ${enc_med}s  (runs: ${enc_times[*]})"
echo "time ratio  encore / wc -l = $(echo "$enc_med / $wc_med" | bc -l | cut -c1-5)  (target <= 4)"
echo "peak RSS    ${rss_kb} KB;  final dictionaries + CSR + CSC = $((final_bytes / 1024)) KB"
echo "memory ratio peak / final = $(echo "$rss_kb * 1024 / $final_bytes" | bc -l | cut -c1-5)  (target <= 1.5)"
