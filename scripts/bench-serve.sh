#!/usr/bin/env bash
# Whole-process load test of `kauth serve` with wrk over HTTPS (keep-alive, TLS 1.3): an
# authenticated GET with a service-account bearer token (cached, and with the token cache off so
# every request verifies the RS256 signature), TokenReview and SubjectAccessReview. Server and
# wrk share the machine's cores. Prints a Markdown table for BENCHMARKS.md.
#
# Beside it, the ceiling: kauth's own transport (rustls, hyper, the same TLS settings,
# certificate, runtime and allocator; `crates/kauth-server/examples/ceiling.rs`) answering a
# fixed TokenReview-sized body. Each row first sends the ceiling exactly the requests it then
# sends kauth (same path, headers and body, same wrk load), and gives kauth's rate as a share of
# the ceiling's: what the pipeline and handler cost on top of what any HTTPS server on this
# stack costs for that request.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
# KAUTH_BIN compares another build (an A/B of a change): the same load on that binary.
kauth_binary
cargo build --release -q -p kauth-server --example ceiling
ceiling="$CARGO_TARGET_DIR/release/examples/ceiling"
echo 'bench-admin-token,bench-admin,u-bench,"system:masters"' >"$work/tokens.csv"

start() { # start NAME EXTRA_FLAGS... -> sets url, pid
  "$kauth" serve --data-dir "$work/$1" --secure-port 0 --token-auth-file "$work/tokens.csv" "${@:2}" >"$work/$1.out" 2>"$work/$1.err" &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do grep -q "serving on" "$work/$1.out" 2>/dev/null && break; sleep 0.1; done
  url=$(sed -n 's/^kauth serving on //p' "$work/$1.out")
}
rss() { awk '/VmRSS/ {print int($2/1024) " MiB"}' "/proc/$1/status"; }

measure() { # measure BASE_URL URL_PATH LUA -> sets rps p50 p99
  local out
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$3" "$1$2")
  rps=$(awk '/Requests\/sec/ {printf "%d", $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  if grep -q "Non-2xx" <<<"$out"; then echo "error: non-2xx responses on $2" >&2; echo "$out" >&2; exit 1; fi
}

row() { # row LABEL URL_PATH LUA: the ceiling with the same request, then kauth
  measure "$ceiling_url" "$2" "$3"
  local ceiling_rps=$rps
  measure "$url" "$2" "$3"
  printf '| %s | %s | %s | %s%% | %s | %s | %s |\n' "$1" "$rps" "$ceiling_rps" "$((rps * 100 / ceiling_rps))" "$p50" "$p99" "$(rss "$pid")"
}

# The ceiling, on kauth's serving certificate (made by a first start of kauth serve); it runs
# beside each kauth server and gets exactly the requests each row sends kauth, just before.
start ceiling-pki
kill "$pid"
"$ceiling" --cert "$work/ceiling-pki/pki/apiserver.crt" --key "$work/ceiling-pki/pki/apiserver.key" \
  --client-ca "$work/ceiling-pki/pki/ca.crt" >"$work/ceiling.out" 2>"$work/ceiling.err" &
pids+=("$!")
for _ in $(seq 100); do grep -q "serving on" "$work/ceiling.out" 2>/dev/null && break; sleep 0.1; done
ceiling_url=$(sed -n 's/^ceiling serving on //p' "$work/ceiling.out")
printf '| scenario | requests/s | ceiling, same requests | of the ceiling | p50 | p99 | server RSS after |\n|---|---:|---:|---:|---:|---:|---:|\n'
for mode in cached uncached; do
  if [ "$mode" = cached ]; then start "$mode"; else start "$mode" --token-cache-ttl 0s; fi
  [ "$mode" = cached ] && rest_rss=$(rss "$pid")
  export KUBECONFIG="$work/$mode/admin.conf"
  kubectl create sa app >/dev/null
  kubectl create clusterrolebinding app-view --clusterrole=view --serviceaccount=default:app >/dev/null
  sa_token=$(kubectl create token app)
  lua "$work/get.lua" GET "$sa_token"
  row "GET serviceaccount, SA bearer token, $mode" /api/v1/namespaces/default/serviceaccounts/app "$work/get.lua"
  lua "$work/tr.lua" POST bench-admin-token "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{\"token\":\"$sa_token\"}}"
  row "TokenReview, $mode" /apis/authentication.k8s.io/v1/tokenreviews "$work/tr.lua"
  if [ "$mode" = cached ]; then
    lua "$work/sar.lua" POST bench-admin-token '{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"system:serviceaccount:default:app","groups":["system:serviceaccounts"],"resourceAttributes":{"verb":"get","resource":"pods","namespace":"default"}}}'
    row "SubjectAccessReview (static token caller)" /apis/authorization.k8s.io/v1/subjectaccessreviews "$work/sar.lua"
  fi
  kill "$pid"
done
echo
echo "server RSS at rest (after start, before load): $rest_rss; $(nproc) cores shared by server and wrk; wrk -t2 -c$CONNECTIONS -d$DURATION"
