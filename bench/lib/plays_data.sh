# Shared by the distributed benchmarks (mpi_bench.sh, mpi_speedup.sh): the
# 200,000 x 50,000 plays data of bench/speed_bench.sh, generated into
# $DATA (default /tmp/plays5m, or BENCH_DATA) when missing. Source it after
# setting ENCORE; sets DATA and CSV, and exports mpirun's run-as-root settings.
DATA="${BENCH_DATA:-/tmp/plays5m}"
CSV="$DATA/plays.csv"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "== $(date -u +%FT%TZ) $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ ! -f "$CSV" ]; then
  echo "== data: encore generate --profile plays --users 200000 --items 50000 --rows 5500000 --seed 1"
  "$ENCORE" generate --profile plays --users 200000 --items 50000 --rows 5500000 --seed 1 \
    --out "$DATA" --quiet
fi
