#!/usr/bin/env bash
# ctest `replicas`: scripts/replicas.sh starts redis-server, two `encore serve`
# replicas on it and nginx in front (deploy/nginx/encore-replicas.conf.in), on
# free loopback ports. Snapshot 1 is published; wrk then loads nginx while
# snapshot 2 (another model, so every payload differs) is published. Passes
# when wrk saw no error and no non-200 answer, every answer is wholly one
# snapshot (its X-Snapshot header equals the body's "snapshot", and the body
# is byte for byte the payload of that snapshot for that user, fetched while
# that snapshot was current), and both snapshots were served under load.
#
#   tests/replicas_test.sh ENCORE_BINARY
set -euo pipefail
encore="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for tool in wrk curl redis-server nginx python3; do
  command -v "$tool" >/dev/null 2>&1 || [[ -x "/usr/sbin/$tool" ]] || {
    echo "FAIL: $tool is not installed (scripts/install-deps.sh)" >&2; exit 1; }
done
tmp="$(mktemp -d /tmp/encore-replicas-test.XXXXXX)"
set_pid=""
cleanup() {
  if [[ -n "$set_pid" ]]; then kill "$set_pid" 2>/dev/null || true; wait "$set_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$tmp"/set/*.log "$tmp"/set/nginx/error.log; do [[ -f "$f" ]] && { echo "--- $f" >&2; tail -5 "$f" >&2; }; done; exit 1; }

"$encore" generate --profile plays --users 400 --items 300 --rows 8000 --seed 7 --out "$tmp/data" >/dev/null 2>&1
for seed in 1 2; do
  "$encore" train --model ials --input "$tmp/data/plays.csv" --factors 8 --iterations 3 \
    --threads 1 --seed "$seed" --out "$tmp/m$seed.bin" >/dev/null 2>&1
done
cut -d, -f1 "$tmp/data/plays.csv" | tail -n +2 | sort -u | sed -n "1,60p" >"$tmp/users.txt"

"$root/scripts/replicas.sh" --replicas 2 --dir "$tmp/set" --encore "$encore" --poll-ms 100 \
  >"$tmp/replicas.out" 2>&1 &
set_pid=$!
for _ in $(seq 1 600); do [[ -f "$tmp/set/env" ]] && break; kill -0 "$set_pid" 2>/dev/null || fail "replicas.sh stopped: $(cat "$tmp/replicas.out")"; sleep 0.1; done
[[ -f "$tmp/set/env" ]] || fail "replicas.sh did not come up within 60 s"
source "$tmp/set/env"

# Until every replica serves version $1.
wait_version() {
  for _ in $(seq 1 300); do
    local all=1
    for r in $REPLICA_URLS; do
      curl -s "$r/readyz" | grep -q "\"snapshot\":$1[,}]" || all=0
    done
    [[ $all == 1 ]] && return 0
    sleep 0.1
  done
  fail "not every replica switched to snapshot $1 within 30 s"
}
# The payload of every user, through each replica directly: $tmp/ref/V/USER.
fetch_refs() {
  python3 - "$tmp/users.txt" "$tmp/ref/$1" $REPLICA_URLS <<'PY' || fail "fetching snapshot $1's payloads"
import os, sys, urllib.request
users_file, out, *replicas = sys.argv[1:]
os.makedirs(out, exist_ok=True)
for user in open(users_file).read().split():
    bodies = {urllib.request.urlopen(f"{r}/v1/users/{user}/recommendations").read() for r in replicas}
    if len(bodies) != 1:
        sys.exit(f"replicas disagree on {user}")
    open(os.path.join(out, user), "wb").write(bodies.pop())
PY
}

publish() {
  "$encore" publish --model-file "$1" --store "$REDIS" --n 10 --similar-n 0 --popular-n 10 \
    --threads 1 >"$tmp/publish.log" 2>&1 || fail "publish $1: $(cat "$tmp/publish.log")"
}
echo "$(date +%T) set up"
publish "$tmp/m1.bin"
wait_version 1
fetch_refs 1
echo "$(date +%T) snapshot 1 served"

REPLICAS_USERS="$tmp/users.txt" REPLICAS_OUT="$tmp/wrk.tsv" \
  wrk -t2 -c8 -d8s -s "$root/tests/replicas_check.lua" "$URL" >"$tmp/wrk.out" 2>&1 &
wrk_pid=$!
sleep 2
publish "$tmp/m2.bin"  # under load
wait "$wrk_pid" || fail "wrk failed: $(cat "$tmp/wrk.out")"
wait_version 2
fetch_refs 2
cat "$tmp/wrk.out"

python3 - "$tmp/wrk.tsv" "$tmp/ref" <<'PY' || fail "answers checked above"
import json, os, sys
tsv, refs = sys.argv[1:]
ok = True
per_version = {}
total = 0
for line in open(tsv, encoding="utf-8"):
    fields = line.rstrip("\n").split("\t")
    if fields[0] == "summary":
        requests, *errors = map(int, fields[1:])
        print(f"wrk: {requests} requests; errors connect/read/write/status/timeout = {errors}")
        if any(errors):
            print("FAIL: wrk counted errors"); ok = False
        continue
    count, status, header, body = int(fields[1]), fields[2], fields[3], "\t".join(fields[4:])
    total += count
    if status != "200":
        print(f"FAIL: {count} answers with status {status}: {body[:200]}"); ok = False; continue
    doc = json.loads(body)
    version = str(doc["snapshot"])
    if header != version:
        print(f"FAIL: {count} answers with X-Snapshot {header} but body snapshot {version}"); ok = False
    ref = os.path.join(refs, version, doc["user"])
    if not os.path.exists(ref) or open(ref, encoding="utf-8").read() != body:
        print(f"FAIL: {count} answers for {doc['user']} are not snapshot {version}'s payload: {body[:200]}")
        ok = False
    per_version[version] = per_version.get(version, 0) + count
print(f"answers checked: {total}; per snapshot: {per_version}")
if set(per_version) != {"1", "2"}:
    print("FAIL: both snapshots must be served under load (the publish ran during wrk)"); ok = False
# The two models differ for every user checked, so a mixed answer could not pass.
same = sum(open(os.path.join(refs, "1", u)).read().replace('"snapshot":1', '"snapshot":2') ==
           open(os.path.join(refs, "2", u)).read() for u in os.listdir(os.path.join(refs, "1")))
if same > 0:
    print(f"FAIL: {same} users have the same list in both snapshots; the check would be blind"); ok = False
sys.exit(0 if ok else 1)
PY
echo "PASS: 2 replicas behind nginx, snapshot 1 -> 2 under wrk load, no error, no mixed answer"
