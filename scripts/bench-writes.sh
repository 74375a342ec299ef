#!/usr/bin/env bash
# Write throughput of `kauth serve`: creates of ServiceAccounts with unique names from CONNECTIONS
# concurrent clients (wrk over HTTPS, keep-alive; a Lua script numbers the names per thread),
# each create acknowledged only once durable. On the embedded store by default; with
# STORE=etcd, on one etcd member on loopback (TLS; needs etcd and protoc). Server, etcd and wrk
# share the machine's cores. Prints a Markdown row for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
STORE="${STORE:-embedded}"

kauth_binary --features etcd
echo 'bench-admin-token,bench-admin,u-bench,"system:masters"' >"$work/tokens.csv"
store_flags=()
if [ "$STORE" = etcd ]; then
  command -v etcd >/dev/null || { echo "needs etcd (apt-get install etcd-server)" >&2; exit 2; }
  . scripts/etcd-member.sh
  "$kauth" pki init --dir "$work/data" --advertise-address 127.0.0.1 --node-name localhost >/dev/null
  start_etcd "$work/data/pki"
  store_flags=(--etcd-servers "$etcd_url")
fi
"$kauth" serve --data-dir "$work/data" --secure-port 0 --token-auth-file "$work/tokens.csv" "${store_flags[@]}" >"$work/out" 2>"$work/err" &
pids+=("$!")
for _ in $(seq 100); do grep -q "serving on" "$work/out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^kauth serving on //p' "$work/out")
export KUBECONFIG="$work/data/admin.conf"
kubectl create namespace load >/dev/null

cat >"$work/create.lua" <<'LUA'
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  counter = 0
end
request = function()
  counter = counter + 1
  local body = '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"w' .. tid .. '-' .. counter .. '"}}'
  return wrk.format("POST", nil, {["Authorization"] = "Bearer bench-admin-token", ["Content-Type"] = "application/json"}, body)
end
LUA
out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$work/create.lua" "$url/api/v1/namespaces/load/serviceaccounts")
if grep -q "Non-2xx" <<<"$out"; then echo "error: non-2xx responses" >&2; echo "$out" >&2; exit 1; fi
rps=$(awk '/Requests\/sec/ {printf "%d", $2}' <<<"$out")
p50=$(awk '$1=="50%" {print $2}' <<<"$out")
p99=$(awk '$1=="99%" {print $2}' <<<"$out")
stored=$(kubectl -n load get serviceaccounts --chunk-size=1000 --no-headers | grep -c '^w')
printf '| creates, %s clients, %s store | %s | %s | %s | %s stored |\n' "$CONNECTIONS" "$STORE" "$rps" "$p50" "$p99" "$stored"
