# Shared by the serving benchmarks (serve_mix_bench.sh, retail_bench.sh):
# free loopback ports, waiting for a server, the request-mix wrk script,
# nginx serving static files, and wrk output as one JSON line.
# Source it after setting W (the work directory), PY (a python3) and PIDS=().

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 400); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "no answer from $1" >&2; return 1; }

# $W/mix.lua: each wrk connection cycles through the paths in the file named
# by MIX_PATHS from a random start.
write_mix_lua() {
  cat > "$W/mix.lua" <<'LUA'
local paths = {}
for line in io.lines(os.getenv("MIX_PATHS")) do paths[#paths + 1] = line end
local i = 0
function init(args)
  math.randomseed(tonumber(tostring({}):match("0x(%x+)"), 16) % 2147483647)
  i = math.random(#paths)
end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
LUA
}

# nginx serving $W/www on port $1 with $2 workers, in the background (its pid
# added to PIDS); returns when $3 (a path under www) answers. The file cache
# stays well under the open-files limit (ulimit -n; 20,000 here): with one
# cached descriptor per file, a larger cache runs a worker out of descriptors
# and nginx answers errors.
start_nginx() {
  cat > "$W/nginx.conf" <<NGINX
worker_processes $2;
daemon off;
master_process on;
user root;
pid $W/nginx.pid;
error_log $W/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  open_file_cache max=10000 inactive=60s;
  keepalive_requests 1000000;
  keepalive_timeout 60;
  default_type application/json;
  server { listen 127.0.0.1:$1; root $W/www; }
}
NGINX
  nginx -c "$W/nginx.conf" -p "$W" &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$1/$3"
}

# Appends {"name", "rps", "p50_ms", "p99_ms", "mib_s", "errors"} of wrk
# output file $1 (run with --latency) under name $2 to $W/results.jsonl.
parse_wrk() {
  $PY - "$1" "$2" >> "$W/results.jsonl" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
def dur(s):
    v, unit = float(re.match(r"([\d.]+)", s).group(1)), re.match(r"[\d.]+(\w+)", s).group(1)
    return v * {"us": 1e-3, "ms": 1, "s": 1e3, "m": 6e4}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p99 = dur(re.search(r"^\s*99%\s+(\S+)", text, re.M).group(1))
p50 = dur(re.search(r"^\s*50%\s+(\S+)", text, re.M).group(1))
mb = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", text)
mbs = float(mb.group(1)) * {"B": 1 / 2**20, "KB": 1 / 1024, "MB": 1, "GB": 1024}[mb.group(2)]
m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
errs = int(m.group(1)) if m else 0
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
if m: errs += sum(int(x) for x in m.groups())
print(json.dumps({"name": sys.argv[2], "rps": rps, "p50_ms": p50, "p99_ms": p99, "mib_s": mbs,
                  "errors": errs}))
PY
}
