#!/usr/bin/env bash
# Starts a local set of serving replicas on loopback: one redis-server, N
# `encore serve` processes on that one Redis store, and nginx in front of them
# (deploy/nginx/encore-replicas.conf.in), all on free ports. Publish with
#   encore publish --model-file M --store "$REDIS"      (REDIS from DIR/env)
# and query through nginx at "$URL". Stays in the foreground until
# interrupted (Ctrl-C / SIGTERM), then stops everything it started.
#
#   scripts/replicas.sh [--replicas N] [--dir DIR] [--encore PATH]
#                       [--threads T] [--poll-ms MS] [--nginx-workers W]
#
# DIR (default: a new temporary directory) receives redis/, nginx/, the
# replicas' logs and `env` (REDIS=, URL=, REPLICA_URLS=, PIDS=), written once
# everything answers - wait for that file to appear when scripting.
# docs/SCALING.md describes the set-up.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
replicas=2
dir=""
encore="$here/build/release/encore"
threads=1
poll_ms=200
workers=1

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --replicas) replicas="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --encore) encore="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --poll-ms) poll_ms="$2"; shift 2 ;;
    --nginx-workers) workers="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "replicas.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$replicas" =~ ^[1-9][0-9]*$ ]] || { echo "replicas.sh: --replicas must be >= 1" >&2; exit 2; }
for tool in redis-server nginx python3 curl; do
  command -v "$tool" >/dev/null 2>&1 || [[ -x "/usr/sbin/$tool" ]] || {
    echo "replicas.sh: $tool is not installed; run scripts/install-deps.sh" >&2; exit 2; }
done
[[ -x "$encore" ]] || { echo "replicas.sh: no encore binary at $encore (build it, or --encore PATH)" >&2; exit 2; }
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
redis_bin="$(command -v redis-server || echo /usr/sbin/redis-server)"
[[ -n "$dir" ]] || dir="$(mktemp -d /tmp/encore-replicas.XXXXXX)"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
rm -f "$dir/env"

# Free loopback ports, taken together so they differ from one another.
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}
read -r -a ports <<<"$(free_ports $((replicas + 2)))"
redis_port="${ports[0]}"
nginx_port="${ports[1]}"

pids=()
cleanup() {
  trap - EXIT INT TERM
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -f "$dir/env"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

wait_http() {  # URL what: until it answers (any status) or 30 s pass
  for _ in $(seq 1 300); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "replicas.sh: $2 did not answer at $1 within 30 s (logs in $dir)" >&2
  exit 1
}

mkdir -p "$dir/redis"
"$redis_bin" --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
  --dir "$dir/redis" --daemonize no >"$dir/redis/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $redis_port), 0.2)" 2>/dev/null && break
  sleep 0.1
done
redis="redis://127.0.0.1:$redis_port/0"

upstreams=""
replica_urls=""
for ((i = 0; i < replicas; i++)); do
  port="${ports[$((i + 2))]}"
  "$encore" serve --store "$redis" --port "$port" --threads "$threads" --poll-ms "$poll_ms" \
    >"$dir/serve-$i.log" 2>&1 &
  pids+=($!)
  upstreams+="    server 127.0.0.1:$port max_fails=0;"$'\n'
  replica_urls+="${replica_urls:+ }http://127.0.0.1:$port"
done
for url in $replica_urls; do wait_http "$url/healthz" "encore serve"; done

mkdir -p "$dir/nginx/tmp"
python3 - "$here/deploy/nginx/encore-replicas.conf.in" "$dir/nginx/nginx.conf" \
  "$dir/nginx" "127.0.0.1:$nginx_port" "$workers" "$upstreams" <<'PY'
import sys
src, dst, prefix, listen, workers, upstreams = sys.argv[1:]
text = open(src).read()
for k, v in {"@PREFIX@": prefix, "@LISTEN@": listen, "@WORKERS@": workers,
             "@UPSTREAMS@": upstreams.rstrip("\n")}.items():
    text = text.replace(k, v)
open(dst, "w").write(text)
PY
"$nginx_bin" -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/nginx/error.log" &
pids+=($!)
url="http://127.0.0.1:$nginx_port"
wait_http "$url/healthz" "nginx"

cat >"$dir/env.tmp" <<ENV
REDIS=$redis
URL=$url
REPLICA_URLS="$replica_urls"
PIDS="${pids[*]}"
ENV
mv "$dir/env.tmp" "$dir/env"
echo "replicas.sh: $replicas x encore serve on $redis behind nginx at $url (files in $dir)"
echo "replicas.sh: publish with: $encore publish --model-file MODEL --store $redis"
while true; do
  for p in "${pids[@]}"; do
    if ! kill -0 "$p" 2>/dev/null; then
      echo "replicas.sh: process $p stopped (logs in $dir); stopping the set" >&2
      exit 1
    fi
  done
  sleep 1 &
  wait $! || true
done
