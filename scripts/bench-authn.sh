#!/usr/bin/env bash
# Authentication methods side by side, one server, one run: the same authorized GET of a
# ServiceAccount made with a static bearer token, a service-account token (cached, as
# kube-apiserver caches), kauth pki's admin client certificate (x509, verified per request), and
# the front-proxy-client certificate naming the user in X-Remote-* headers (request-header
# authentication). Every row is driven by loadgen (keep-alive HTTPS, the same connections and
# threads as wrk -t2 -c32: wrk cannot present a client certificate); the first bearer row is
# repeated with wrk to show the two clients agree. Prints the Markdown table of BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kauth/target}"
SECONDS_PER_ROW="${SECONDS_PER_ROW:-10}"
CONNECTIONS="${CONNECTIONS:-32}"
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
command -v kubectl >/dev/null || { echo "needs kubectl" >&2; exit 2; }
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# KAUTH_BIN measures another build (an A/B of a change) under the same load.
cargo build --release -q -p kauth-cli -p loadgen
kauth="${KAUTH_BIN:-$CARGO_TARGET_DIR/release/kauth}"
loadgen="$CARGO_TARGET_DIR/release/loadgen"
echo 'bench-admin-token,bench-admin,u-bench,"system:masters"' >"$work/tokens.csv"
"$kauth" serve --data-dir "$work/d" --secure-port 0 --token-auth-file "$work/tokens.csv" >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 100); do grep -q "serving on" "$work/out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^kauth serving on //p' "$work/out")
pki="$work/d/pki"
export KUBECONFIG="$work/d/admin.conf"
kubectl create sa app >/dev/null
kubectl create clusterrolebinding app-view --clusterrole=view --serviceaccount=default:app >/dev/null
sa_token=$(kubectl create token app)
# The admin client certificate, out of admin.conf.
kubectl config view --raw -o jsonpath='{.users[0].user.client-certificate-data}' | base64 -d >"$work/admin.crt"
kubectl config view --raw -o jsonpath='{.users[0].user.client-key-data}' | base64 -d >"$work/admin.key"
path=/api/v1/namespaces/default/serviceaccounts/app
common=(--url "$url$path" --cacert "$pki/ca.crt" --connections "$CONNECTIONS" --seconds "$SECONDS_PER_ROW" --threads 2)

printf '| authentication (GET a ServiceAccount, authorized by RBAC) | requests/s | p50 | p99 |\n|---|---:|---:|---:|\n'
"$loadgen" "${common[@]}" --label "static bearer token (--token-auth-file)" --header "Authorization: Bearer bench-admin-token"
"$loadgen" "${common[@]}" --label "service-account token, cached" --header "Authorization: Bearer $sa_token"
"$loadgen" "${common[@]}" --label "x509 client certificate (admin.conf)" --cert "$work/admin.crt" --key "$work/admin.key"
"$loadgen" "${common[@]}" --label "front proxy: front-proxy-client certificate + X-Remote-User/Group" \
  --cert "$pki/front-proxy-client.crt" --key "$pki/front-proxy-client.key" \
  --header "X-Remote-User: alice" --header "X-Remote-Group: system:masters"
printf 'wrk.headers["Authorization"] = "Bearer bench-admin-token"\n' >"$work/wrk.lua"
out=$(wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_ROW}s" --latency -s "$work/wrk.lua" "$url$path")
if grep -q "Non-2xx" <<<"$out"; then echo "error: non-2xx responses from wrk" >&2; echo "$out" >&2; exit 1; fi
printf '| static bearer token, driven by wrk instead (the clients agree) | %s | %s | %s |\n' \
  "$(awk '/Requests\/sec/ {printf "%d", $2}' <<<"$out")" "$(awk '$1=="50%" {print $2}' <<<"$out")" "$(awk '$1=="99%" {print $2}' <<<"$out")"
echo
echo "$(nproc) cores shared by the server and the load client; $CONNECTIONS keep-alive connections, 2 threads, ${SECONDS_PER_ROW}s a row"
