#!/usr/bin/env bash
# Reading benchmark (issues: foundation; 16 item 7). Reads a generated
# 10-million-row user,item,value CSV with string ids into the id dictionaries,
# CSR and CSC, and compares side by side in one run, rounds interleaved:
#   encore stats        (this build: parses the file in slices on all cores)
#   wc -l               the floor: memchr over the cached file
#   pandas + scipy      read_csv, factorize, CSR and CSC (bench/read_pandas.py,
#                       /usr/bin/python3 with Debian's pandas/numpy/scipy); target:
#                       encore at least 8x faster
#   BASELINE=path/to/encore (optional): another build, e.g. main's, for an A/B
#   THREADS=1 (optional): a sequential encore column too (--threads 1)
# and memory: peak RSS vs final dictionaries + CSR + CSC (target: <= 1.5x).
# Medians of $REPEATS rounds, page cache warm.
# Usage: bench/read_bench.sh [ROWS] (default 10000000); writes to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-10000000}"
REPEATS="${REPEATS:-5}"
ENCORE=build/release/encore
BASELINE="${BASELINE:-}"
PYTHON="${PYTHON:-/usr/bin/python3}"
DATA="${BENCH_DATA:-/tmp/encore-bench}"
FILE="$DATA/plays-$ROWS/plays.csv"

if [ ! -f "$FILE" ]; then
  "$ENCORE" generate --profile plays --users 1000000 --items 200000 --rows "$ROWS" \
    --seed 7 --out "$DATA/plays-$ROWS" --quiet
fi
cat "$FILE" >/dev/null  # warm the page cache
pandas=1
"$PYTHON" -c "import pandas, scipy" 2>/dev/null || { pandas=0; echo "no pandas in $PYTHON: skipped"; }

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l | sed 's/^\./0./'; }

wc_t=(); enc_t=(); seq_t=(); base_t=(); pd_t=(); rss=()
for i in $(seq "$REPEATS"); do
  s=$(now); wc -l "$FILE" >/dev/null; wc_t+=("$(secs "$s" "$(now)")")
  s=$(now)
  /usr/bin/time -f '%M' -o /tmp/encore-bench-rss "$ENCORE" stats --input "$FILE" --json --quiet \
    >/tmp/encore-bench-stats.json
  enc_t+=("$(secs "$s" "$(now)")")
  rss+=("$(cat /tmp/encore-bench-rss)")
  if [ -n "${THREADS:-}" ]; then
    s=$(now); "$ENCORE" stats --input "$FILE" --json --quiet --threads "$THREADS" >/dev/null
    seq_t+=("$(secs "$s" "$(now)")")
  fi
  if [ -n "$BASELINE" ]; then
    s=$(now); "$BASELINE" stats --input "$FILE" --json --quiet >/dev/null
    base_t+=("$(secs "$s" "$(now)")")
  fi
  if [ "$pandas" = 1 ]; then
    s=$(now); "$PYTHON" bench/read_pandas.py "$FILE" >/tmp/encore-bench-pandas.txt
    pd_t+=("$(secs "$s" "$(now)")")
  fi
done

med() { printf '%s\n' "$@" | median; }
ratio() { echo "$1 / $2" | bc -l | cut -c1-5; }
wc_med=$(med "${wc_t[@]}")
enc_med=$(med "${enc_t[@]}")
rss_kb=$(med "${rss[@]}")
final_bytes=$(python3 -c "import json; print(json.load(open('/tmp/encore-bench-stats.json'))['memory']['total'])")
nnz=$(python3 -c "import json; print(json.load(open('/tmp/encore-bench-stats.json'))['nonzeros'])")
size_mb=$(du -m "$FILE" | cut -f1)

echo "file: $FILE ($size_mb MB, $ROWS rows, $nnz nonzeros); machine: $(nproc) cores, $(uname -m)"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wc -l          median ${wc_med}s   (runs: ${wc_t[*]})"
echo "encore stats   median ${enc_med}s  (runs: ${enc_t[*]})"
if [ -n "${THREADS:-}" ]; then
  seq_med=$(med "${seq_t[@]}")
  echo "encore --threads $THREADS median ${seq_med}s  (runs: ${seq_t[*]}); speedup $(ratio "$seq_med" "$enc_med")x"
fi
if [ -n "$BASELINE" ]; then
  base_med=$(med "${base_t[@]}")
  echo "baseline       median ${base_med}s  (runs: ${base_t[*]}) [$BASELINE]; speedup $(ratio "$base_med" "$enc_med")x"
fi
if [ "$pandas" = 1 ]; then
  pd_med=$(med "${pd_t[@]}")
  echo "pandas+scipy   median ${pd_med}s  (runs: ${pd_t[*]}); $(cat /tmp/encore-bench-pandas.txt)"
  echo "speed ratio  pandas / encore = $(ratio "$pd_med" "$enc_med")  (target >= 8)"
fi
echo "time ratio  encore / wc -l = $(ratio "$enc_med" "$wc_med")"
echo "peak RSS    ${rss_kb} KB;  final dictionaries + CSR + CSC = $((final_bytes / 1024)) KB"
echo "memory ratio peak / final = $(echo "$rss_kb * 1024 / $final_bytes" | bc -l | cut -c1-5)  (target <= 1.5)"
