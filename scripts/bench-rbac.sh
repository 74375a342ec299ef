#!/usr/bin/env bash
# RBAC benchmarks, one run: (1) criterion, kauth's indexed authorizer side by side with the
# reference walk of Kubernetes' algorithm at 10 to 100,000 bindings; (2) rbac_scale: build
# time, memory, latency percentiles and decisions/s on one core; (3) kauth serve loaded with the
# same synthetic policy over HTTPS and driven with SubjectAccessReviews by wrk. Prints the
# tables of BENCHMARKS.md. SERVER_SIZES picks the policy sizes loaded into the server.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
SERVER_SIZES="${SERVER_SIZES:-10 10000}"
PARTS="${PARTS:-criterion scale server}"  # which parts to run
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }

if [[ $PARTS == *criterion* ]]; then
echo "## criterion: indexed vs walk (median time per decision)"
cargo bench -q -p kauth --bench rbac 2>/dev/null | awk '/^rbac\// {name=$1} /time:/ && name {for (i = 1; i <= NF; i++) if ($i == "time:") print "| " name " | " $(i+3) " " $(i+4) " |"; name=""}'
echo
fi
if [[ $PARTS == *scale* ]]; then
echo "## rbac_scale (one core)"
cargo bench -q -p kauth --bench rbac_scale 2>/dev/null | grep '^|'
echo
fi
[[ $PARTS == *server* ]] || exit 0

cargo build --release -q -p kauth-cli
kauth="$CARGO_TARGET_DIR/release/kauth"
echo 'bench-admin-token,bench-admin,u-bench,"system:masters"' >"$work/tokens.csv"
sar() { # sar FILE VERB RESOURCE
  printf 'wrk.method = "POST"\nwrk.headers["Authorization"] = "Bearer bench-admin-token"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [[{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"user-7","groups":["group-3","system:authenticated"],"resourceAttributes":{"namespace":"ns-0","verb":"%s","resource":"%s","name":"x"}}}]]\n' "$2" "$3" >"$1"
}
sar "$work/allowed.lua" get pods
sar "$work/denied.lua" delete secrets
echo "## kauth serve, SubjectAccessReview over HTTPS (wrk -t2 -c$CONNECTIONS -d$DURATION, $(nproc) cores shared)"
printf '| bindings in the server | request | requests/s | p50 | p99 | server RSS |\n|---:|---|---:|---:|---:|---:|\n'
for n in $SERVER_SIZES; do
  "$kauth" serve --data-dir "$work/d$n" --secure-port 0 --token-auth-file "$work/tokens.csv" >"$work/$n.out" 2>"$work/$n.err" &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do grep -q "serving on" "$work/$n.out" 2>/dev/null && break; sleep 0.1; done
  url=$(sed -n 's/^kauth serving on //p' "$work/$n.out")
  cargo bench -q -p kauth --bench rbac_scale -- --emit "$n" 2>/dev/null >"$work/policy-$n.jsonl"
  python3 scripts/load-policy.py "$url" "$work/d$n/pki/ca.crt" bench-admin-token "$work/policy-$n.jsonl" 2>"$work/load-$n.log"
  for what in allowed denied; do
    out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$work/$what.lua" "$url/apis/authorization.k8s.io/v1/subjectaccessreviews")
    if grep -q "Non-2xx" <<<"$out"; then echo "error: non-2xx responses" >&2; echo "$out" >&2; exit 1; fi
    rps=$(awk '/Requests\/sec/ {printf "%d", $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    rss=$(awk '/VmRSS/ {print int($2/1024) " MiB"}' "/proc/$pid/status")
    printf '| %s | %s | %s | %s | %s | %s |\n' "$n" "$what" "$rps" "$p50" "$p99" "$rss"
  done
  kill "$pid"
done
