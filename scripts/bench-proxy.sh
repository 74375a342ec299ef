#!/usr/bin/env bash
# Whole-process load test of `kauth proxy` with wrk over HTTPS (keep-alive, TLS 1.3): requests/s
# and latency through the proxy in each mode, against the upstream directly, with 1, 100 and
# 10,000 distinct bearer tokens (service-account tokens of as many service accounts, so as many
# users; wrk's Lua takes them round-robin from a file). Prints a Markdown table for
# BENCHMARKS.md.
#
# - the cluster: `kauth serve` (a static system:masters token for the setup);
# - the upstream: kauth's HTTPS ceiling (`crates/kauth-server/examples/ceiling.rs`: kauth's
#   transport answering a fixed body), which the proxy reaches over TLS with HTTP/2 by ALPN;
# - the modes: `tokenreview+sar` (a TokenReview per new token, cached 2m; a SubjectAccessReview
#   per new user, cached 5m: kube-rbac-proxy's way) and `local` (`--local-authentication
#   --local-rbac`: tokens checked against the issuer's keys and a copy of the service accounts,
#   RBAC decided from a copy of the cluster's RBAC objects; nothing asked per request).
#
# Each row first runs wrk for WARMUP over the same tokens (the caches fill; the 10,000-token
# row's first pass is 10,000 TokenReviews and SubjectAccessReviews), then measures for DURATION.
# Cluster, upstream, proxy and wrk share the machine's cores.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-5s}"
CONNECTIONS="${CONNECTIONS:-32}"
TOKENS="${TOKENS:-1 100 10000}"
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
for t in curl jq kubectl; do command -v "$t" >/dev/null || { echo "needs $t" >&2; exit 2; }; done

kauth_binary
cargo build --release -q -p kauth-server --example ceiling
ceiling="$CARGO_TARGET_DIR/release/examples/ceiling"
most=0
for n in $TOKENS; do [ "$n" -gt "$most" ] && most=$n; done

wait_for() { # wait_for FILE PREFIX -> prints the URL after PREFIX
  for _ in $(seq 300); do grep -q "^$2" "$1" 2>/dev/null && break; sleep 0.1; done
  sed -n "s|^$2||p" "$1" | head -1
}
rss() { awk '/VmRSS/ {print int($2/1024) " MiB"}' "/proc/$1/status"; }

# The cluster.
echo 'bench-admin-token,bench-admin,u-bench,"system:masters"' >"$work/admin-token.csv"
"$kauth" serve --data-dir "$work/cluster" --secure-port 0 --token-auth-file "$work/admin-token.csv" \
  >"$work/cluster.out" 2>"$work/cluster.err" &
pids+=("$!")
cluster=$(wait_for "$work/cluster.out" "kauth serving on ")
pki="$work/cluster/pki"
export KUBECONFIG="$work/cluster/admin.conf"

# $most service accounts in namespace bench, allowed GET /metrics through their group.
kubectl create namespace bench >/dev/null
seq 1 "$most" | jq -Rn '{apiVersion: "v1", kind: "List", items: [inputs | {apiVersion: "v1", kind: "ServiceAccount", metadata: {name: ("sa-" + .), namespace: "bench"}}]}' \
  >"$work/sas.json"
kubectl create --validate=false -f "$work/sas.json" >/dev/null
kubectl apply --validate=false -f - >/dev/null <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: metrics-reader}
rules:
- nonResourceURLs: ["/metrics"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bench-metrics-reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: metrics-reader}
subjects:
- {kind: Group, apiGroup: rbac.authorization.k8s.io, name: "system:serviceaccounts:bench"}
YAML
# One token per service account, by TokenRequest (curl's URL glob, in parallel).
mkdir "$work/tokens"
curl -sS --no-progress-meter --fail -Z --parallel-max 8 --cacert "$pki/ca.crt" -H "Authorization: Bearer bench-admin-token" \
  -H "Content-Type: application/json" -d '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{}}' \
  "$cluster/api/v1/namespaces/bench/serviceaccounts/sa-[1-$most]/token" -o "$work/tokens/#1.json"
for n in $TOKENS; do
  for i in $(seq 1 "$n"); do jq -r .status.token "$work/tokens/$i.json"; done >"$work/tokens-$n.txt"
  [ "$(sort -u "$work/tokens-$n.txt" | grep -c .)" -eq "$n" ] || { echo "error: $n distinct tokens expected" >&2; exit 1; }
  cat >"$work/tokens-$n.lua" <<LUA
local tokens = {}
for line in io.lines("$work/tokens-$n.txt") do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i % #tokens + 1
  return wrk.format("GET", "/metrics", {["Authorization"] = "Bearer " .. tokens[i]})
end
LUA
done

# The upstream.
"$ceiling" --cert "$pki/apiserver.crt" --key "$pki/apiserver.key" --client-ca "$pki/ca.crt" \
  >"$work/ceiling.out" 2>"$work/ceiling.err" &
pids+=("$!")
upstream=$(wait_for "$work/ceiling.out" "ceiling serving on ")

proxy() { # proxy MODE -> sets proxy_url, proxy_pid
  local extra=()
  [ "$1" = local ] && extra=(--local-authentication --local-rbac)
  "$kauth" proxy --upstream "$upstream/" --upstream-ca-file "$pki/ca.crt" --secure-listen-address 127.0.0.1:0 \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" --kubeconfig "$KUBECONFIG" \
    --auth-header-fields-enabled "${extra[@]}" >"$work/proxy-$1.out" 2>"$work/proxy-$1.err" &
  proxy_pid=$!
  pids+=("$proxy_pid")
  proxy_url=$(wait_for "$work/proxy-$1.out" "kauth proxy serving on ")
}

measure() { # measure URL LUA -> sets rps p50 p99
  local out
  wrk -t2 -c"$CONNECTIONS" -d"$WARMUP" -s "$2" "$1/metrics" >/dev/null
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$2" "$1/metrics")
  rps=$(awk '/Requests\/sec/ {printf "%d", $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  if grep -q "Non-2xx\|Socket errors" <<<"$out"; then echo "error: non-2xx or socket errors on $1" >&2; echo "$out" >&2; exit 1; fi
}

printf '| distinct tokens | path | requests/s | of direct | p50 | p99 | proxy RSS after |\n|---:|---|---:|---:|---:|---:|---:|\n'
proxy tokenreview+sar
sar_url=$proxy_url sar_pid=$proxy_pid
proxy local
local_url=$proxy_url local_pid=$proxy_pid
for n in $TOKENS; do
  lua="$work/tokens-$n.lua"
  measure "$upstream" "$lua"
  direct=$rps
  printf '| %s | upstream directly | %s | 100%% | %s | %s | |\n' "$n" "$rps" "$p50" "$p99"
  measure "$sar_url" "$lua"
  printf '| %s | kauth proxy, TokenReview + SubjectAccessReview (cached) | %s | %s%% | %s | %s | %s |\n' \
    "$n" "$rps" "$((rps * 100 / direct))" "$p50" "$p99" "$(rss "$sar_pid")"
  measure "$local_url" "$lua"
  printf '| %s | kauth proxy, local authentication + local RBAC | %s | %s%% | %s | %s | %s |\n' \
    "$n" "$rps" "$((rps * 100 / direct))" "$p50" "$p99" "$(rss "$local_pid")"
done
echo
echo "$(nproc) cores shared by wrk, kauth proxy (both modes' processes idle but one), the upstream and kauth serve; wrk -t2 -c$CONNECTIONS, warm-up $WARMUP, then $DURATION measured per row"
