#!/usr/bin/env bash
# How close to the HTTPS ceiling any server answering reviews through their k8s-openapi types
# could come here: the ceiling (`examples/ceiling.rs`, a fixed answer), the same ceiling with
# `--typed-reviews sonic` (each TokenReview or SubjectAccessReview body decoded into its type
# with sonic-rs, given a fixed status and written back: the JSON work such a server cannot
# skip, and nothing else), the same with serde_json (`--typed-reviews serde-json`), and
# `kauth serve`, measured in turn with the same wrk load and request as `scripts/bench-serve.sh`.
# Prints one line per round and request: rates and shares of the ceiling, and with CPU=1 each
# server's and wrk's CPU per request as `bench-ab.sh` does.
#
#   bash scripts/bench-ceiling-typed.sh [ROUNDS]
#
# DURATION (default 5s) and CONNECTIONS (32) as in bench-serve.sh; KAUTH_BIN as in lib.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
rounds=${1:-3}
DURATION="${DURATION:-5s}"
CONNECTIONS="${CONNECTIONS:-32}"
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
kauth_binary
cargo build --release -q -p kauth-server --example ceiling
ceiling="$CARGO_TARGET_DIR/release/examples/ceiling"
echo 'bench-admin-token,bench-admin,u-bench,"system:masters"' >"$work/tokens.csv"

declare -A url pid
started() { # started NAME PID: waits for its "serving on URL"
  pids+=("$2")
  pid[$1]=$2
  for _ in $(seq 100); do grep -q "serving on" "$work/$1.out" 2>/dev/null && break; sleep 0.1; done
  url[$1]=$(sed -n 's/^[a-z]* serving on //p' "$work/$1.out")
  [ -n "${url[$1]}" ] || { echo "$1 did not start:" >&2; cat "$work/$1.err" >&2; exit 1; }
}
"$kauth" serve --data-dir "$work/k" --secure-port 0 --token-auth-file "$work/tokens.csv" >"$work/k.out" 2>"$work/k.err" &
started k $!
pki="$work/k/pki"
"$ceiling" --cert "$pki/apiserver.crt" --key "$pki/apiserver.key" --client-ca "$pki/ca.crt" >"$work/c.out" 2>"$work/c.err" &
started c $!
"$ceiling" --typed-reviews sonic --cert "$pki/apiserver.crt" --key "$pki/apiserver.key" --client-ca "$pki/ca.crt" \
  >"$work/t.out" 2>"$work/t.err" &
started t $!
"$ceiling" --typed-reviews serde-json --cert "$pki/apiserver.crt" --key "$pki/apiserver.key" --client-ca "$pki/ca.crt" \
  >"$work/j.out" 2>"$work/j.err" &
started j $!

export KUBECONFIG="$work/k/admin.conf"
kubectl create sa app >/dev/null
kubectl create clusterrolebinding app-view --clusterrole=view --serviceaccount=default:app >/dev/null
sa_token=$(kubectl create token app)
lua "$work/tr.lua" POST bench-admin-token "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{\"token\":\"$sa_token\"}}"
lua "$work/sar.lua" POST bench-admin-token '{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"system:serviceaccount:default:app","groups":["system:serviceaccounts"],"resourceAttributes":{"verb":"get","resource":"pods","namespace":"default"}}}'
declare -A path=([tr]=/apis/authentication.k8s.io/v1/tokenreviews [sar]=/apis/authorization.k8s.io/v1/subjectaccessreviews)

# The typed ceilings must answer each request typed: the answer echoes the request's spec (the
# fixed body is a TokenReview of another token).
for m in tr sar; do
  sed -n 's/^wrk.body = \[\[\(.*\)\]\]$/\1/p' "$work/$m.lua" >"$work/$m.json"
  for s in t j; do
    curl -sk -X POST -H 'Content-Type: application/json' --data-binary "@$work/$m.json" "${url[$s]}${path[$m]}" >"$work/$m.answer"
    python3 - "$work/$m.json" "$work/$m.answer" <<'PY' || { echo "the typed ceiling $s did not answer $m typed" >&2; exit 1; }
import json, sys
sent, got = (json.load(open(f)) for f in sys.argv[1:])
sys.exit(0 if got["kind"] == sent["kind"] and got["spec"] == sent["spec"] and "status" in got else 1)
PY
  done
done

declare -A cpu_line rates
rate() { # rate NAME MODE: measures one server (see lib.sh's measure), into rates[NAME] and cpu_line[NAME]
  measure "${pid[$1]}" "$work/$2.lua" "${url[$1]}${path[$2]}"
  rates[$1]=$measured_rate
  cpu_line[$1]=$measured_cpu
}
for r in $(seq "$rounds"); do
  for m in tr sar; do
    for s in c t j k; do rate "$s" "$m"; done
    c=${rates[c]}; t=${rates[t]}; j=${rates[j]}; k=${rates[k]}
    printf '%s round %d: ceiling %d  typed, sonic-rs %d (%d%%)  typed, serde_json %d (%d%%)  kauth %d (%d%%)\n' \
      "$m" "$r" "$c" "$t" $((t * 100 / c)) "$j" $((j * 100 / c)) "$k" $((k * 100 / c))
    if [ "${CPU:-0}" = 1 ]; then
      for s in c t j k; do printf '  %s per request (user + system): %s\n' "$s" "${cpu_line[$s]}"; done
    fi
  done
done
