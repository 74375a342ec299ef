#!/usr/bin/env bash
# An A/B of two kauth builds on one cached row of `scripts/bench-serve.sh`, for a noisy machine:
# both builds serve at once, beside the HTTPS ceiling, and each round measures the ceiling,
# then each build (the order swapped every other round), with the same wrk load and request
# as bench-serve.sh. Prints one line per round: rates, shares of the ceiling, B/A.
#
#   bash scripts/bench-ab.sh get|get-static|tr|sar BUILD_A BUILD_B [ROUNDS]
#
# `get-static` is the GET with the static token of a system:masters user in place of the
# service account's token (a 17-byte token, and no RBAC walk). FLAGS_B adds `kauth serve`
# flags to build B alone, to weigh one stage with the same binary twice: for example
# `FLAGS_B="--authorization-mode AlwaysAllow" bash scripts/bench-ab.sh get BIN BIN` is what the
# Node and RBAC authorizers cost a GET.
#
# DURATION (default 5s) and CONNECTIONS (32) as in bench-serve.sh. CPU=1 also prints, for each
# server and for wrk, CPU microseconds (user, system) and context switches (voluntary,
# involuntary) per request: on two shared cores, a rate is 2 cores divided by the CPU time all
# of them spend per request, so this shows where a difference in rate comes from.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
[ $# -ge 3 ] || { echo "usage: $0 get|get-static|tr|sar BUILD_A BUILD_B [ROUNDS]" >&2; exit 2; }
mode=$1; build_a=$2; build_b=$3; rounds=${4:-5}
DURATION="${DURATION:-5s}"
CONNECTIONS="${CONNECTIONS:-32}"
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
cargo build --release -q -p kauth-server --example ceiling
echo 'bench-admin-token,bench-admin,u-bench,"system:masters"' >"$work/tokens.csv"

declare -A url pid
start() { # start NAME BINARY [FLAGS...]
  "$2" serve --data-dir "$work/$1" --secure-port 0 --token-auth-file "$work/tokens.csv" "${@:3}" >"$work/$1.out" 2>"$work/$1.err" &
  pids+=("$!")
  pid[$1]=$!
  for _ in $(seq 100); do grep -q "serving on" "$work/$1.out" 2>/dev/null && break; sleep 0.1; done
  url[$1]=$(sed -n 's/^kauth serving on //p' "$work/$1.out")
}
start a "$build_a"
# shellcheck disable=SC2086 # FLAGS_B is a list of flags
start b "$build_b" ${FLAGS_B:-}
"$CARGO_TARGET_DIR/release/examples/ceiling" --cert "$work/a/pki/apiserver.crt" --key "$work/a/pki/apiserver.key" \
  --client-ca "$work/a/pki/ca.crt" >"$work/c.out" 2>"$work/c.err" &
pids+=("$!")
pid[c]=$!
for _ in $(seq 100); do grep -q "serving on" "$work/c.out" 2>/dev/null && break; sleep 0.1; done
url[c]=$(sed -n 's/^ceiling serving on //p' "$work/c.out")

for s in a b; do
  export KUBECONFIG="$work/$s/admin.conf"
  kubectl create sa app >/dev/null
  kubectl create clusterrolebinding app-view --clusterrole=view --serviceaccount=default:app >/dev/null
  sa_token=$(kubectl create token app)
  case $mode in
  get) path=/api/v1/namespaces/default/serviceaccounts/app; lua "$work/$s.lua" GET "$sa_token" ;;
  get-static) path=/api/v1/namespaces/default/serviceaccounts/app; lua "$work/$s.lua" GET bench-admin-token ;;
  tr) path=/apis/authentication.k8s.io/v1/tokenreviews
    lua "$work/$s.lua" POST bench-admin-token "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{\"token\":\"$sa_token\"}}" ;;
  sar) path=/apis/authorization.k8s.io/v1/subjectaccessreviews
    lua "$work/$s.lua" POST bench-admin-token '{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"system:serviceaccount:default:app","groups":["system:serviceaccounts"],"resourceAttributes":{"verb":"get","resource":"pods","namespace":"default"}}}' ;;
  *) echo "mode: get, get-static, tr or sar" >&2; exit 2 ;;
  esac
done
# The ceiling gets build A's request (the same bytes but for the token's signature).
cp "$work/a.lua" "$work/c.lua"

declare -A cpu_line rates
rate() { # rate NAME: measures one server (see lib.sh's measure), into rates[NAME] and cpu_line[NAME]
  measure "${pid[$1]}" "$work/$1.lua" "${url[$1]}$path"
  rates[$1]=$measured_rate
  cpu_line[$1]=$measured_cpu
}
for r in $(seq "$rounds"); do
  rate c
  if [ $((r % 2)) = 1 ]; then rate a; rate b; else rate b; rate a; fi
  c=${rates[c]}; a=${rates[a]}; b=${rates[b]}
  printf '%s round %d: ceiling %d  A %d (%d%%)  B %d (%d%%)  B/A %s\n' "$mode" "$r" "$c" "$a" $((a * 100 / c)) "$b" \
    $((b * 100 / c)) "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", b / a}')"
  if [ "${CPU:-0}" = 1 ]; then
    for s in c a b; do printf '  %s per request (user + system): %s\n' "$s" "${cpu_line[$s]}"; done
  fi
done
