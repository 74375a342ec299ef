#!/usr/bin/env bash
# kauth serve at scale (issue 24): loads a cluster through the API, concurrently (loadgen, 32
# keep-alive HTTPS connections, numbered requests), then measures what an operator would:
# resident memory, a cold start on the loaded store, a paged list of everything, and the rates of
# SubjectAccessReview, cached TokenReview and creates, each beside an empty server's.
#
#   NAMESPACES (10000), SERVICEACCOUNTS (1000000), ROLEBINDINGS (100000): the cluster's size.
#   DURATION (10s): each rate's wrk run.
#
# Server, load and wrk share the machine's cores. Prints Markdown for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
NAMESPACES="${NAMESPACES:-10000}"
SERVICEACCOUNTS="${SERVICEACCOUNTS:-1000000}"
ROLEBINDINGS="${ROLEBINDINGS:-100000}"
DURATION="${DURATION:-10s}"
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }

cargo build --release -q -p kauth-cli -p loadgen
kauth="${KAUTH_BIN:-$CARGO_TARGET_DIR/release/kauth}"
loadgen="$CARGO_TARGET_DIR/release/loadgen"
echo 'bench-admin-token,bench-admin,u-bench,"system:masters"' >"$work/tokens.csv"

start() { # start NAME -> url, pid, started_in (seconds from exec to serving)
  local t0
  t0=$(date +%s.%N)
  "$kauth" serve --data-dir "$work/$1" --secure-port 0 --token-auth-file "$work/tokens.csv" >"$work/$1.out" 2>"$work/$1.err" &
  pid=$!
  pids+=("$pid")
  until grep -q "serving on" "$work/$1.out" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/$1.err" >&2; exit 1; }
    sleep 0.05
  done
  started_in=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { print a - b }')
  url=$(sed -n 's/^kauth serving on //p' "$work/$1.out")
}
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$1/status"; }

load() { # load WHAT COUNT PATH BODY: COUNT numbered creates on the server "big"; prints the rate
  printf '%s' "$4" >"$work/body.json"
  "$loadgen" --url "$url$3" --cacert "$work/big/pki/ca.crt" --header "Authorization: Bearer bench-admin-token" \
    --header "Content-Type: application/json" --method POST --body-file "$work/body.json" \
    --connections 32 --count "$2" --label "create $2 $1"
}

rate() { # rate URL_PATH LUA -> requests/s
  local out
  out=$(wrk -t2 -c32 -d"$DURATION" -s "$2" "$url$1")
  if grep -q "Non-2xx" <<<"$out"; then echo "error: non-2xx on $1" >&2; echo "$out" >&2; exit 1; fi
  awk '/Requests\/sec/ {printf "%d", $2}' <<<"$out"
}

lua() { # lua FILE BODY
  printf 'wrk.method = "POST"\nwrk.headers["Authorization"] = "Bearer bench-admin-token"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [[%s]]\n' "$2" >"$1"
}

cat >"$work/create.lua" <<'LUA'
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function init(args) counter = 0 end
request = function()
  counter = counter + 1
  local body = '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"w' .. tid .. '-' .. counter .. '"}}'
  return wrk.format("POST", nil, {["Authorization"] = "Bearer bench-admin-token", ["Content-Type"] = "application/json"}, body)
end
LUA

measure() { # measure NAME: the rates on the server at url; sets sar tr creates
  export KUBECONFIG="$work/$1/admin.conf"
  # The same question on both servers: sa-1 in ns-1, bound to view by rb-1 (as the load binds it).
  kubectl get ns ns-0 >/dev/null 2>&1 || kubectl create ns ns-0 >/dev/null
  kubectl get ns ns-1 >/dev/null 2>&1 || kubectl create ns ns-1 >/dev/null
  kubectl -n ns-1 get rolebinding rb-1 >/dev/null 2>&1 ||
    kubectl -n ns-1 create rolebinding rb-1 --clusterrole=view --serviceaccount=ns-1:sa-1 >/dev/null
  kubectl -n ns-0 get sa bench >/dev/null 2>&1 || kubectl -n ns-0 create sa bench >/dev/null
  local token
  token=$(kubectl -n ns-0 create token bench)
  lua "$work/sar.lua" '{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"system:serviceaccount:ns-1:sa-1","groups":["system:serviceaccounts"],"resourceAttributes":{"verb":"get","resource":"pods","namespace":"ns-1"}}}'
  lua "$work/tr.lua" "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{\"token\":\"$token\"}}"
  sar=$(rate /apis/authorization.k8s.io/v1/subjectaccessreviews "$work/sar.lua")
  tr=$(rate /apis/authentication.k8s.io/v1/tokenreviews "$work/tr.lua")
  kubectl create ns load >/dev/null
  creates=$(rate /api/v1/namespaces/load/serviceaccounts "$work/create.lua")
}

# The empty server first: the rates to compare with.
start empty
empty_rss=$(rss "$pid")
measure empty
empty_sar=$sar empty_tr=$tr empty_creates=$creates
kill "$pid"

# The loaded one.
start big
echo "| load (loadgen, 32 connections) | creates/s | p50 | p99 |"
echo "|---|---:|---:|---:|"
load namespaces "$NAMESPACES" /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"ns-{n}"}}'
load serviceaccounts "$SERVICEACCOUNTS" "/api/v1/namespaces/ns-{n%$NAMESPACES}/serviceaccounts" \
  '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"sa-{n}","labels":{"app":"bench"}}}'
load rolebindings "$ROLEBINDINGS" "/apis/rbac.authorization.k8s.io/v1/namespaces/ns-{n%$NAMESPACES}/rolebindings" \
  "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\",\"metadata\":{\"name\":\"rb-{n}\"},\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"view\"},\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"sa-{n}\",\"namespace\":\"ns-{n%$NAMESPACES}\"}]}"
loaded_rss=$(rss "$pid")
kill "$pid"
wait "$pid" 2>/dev/null || true

# A cold start on the loaded store, then everything listed in pages of 500.
start big
cold=$started_in
cold_rss=$(rss "$pid")
export KUBECONFIG="$work/big/admin.conf"
t0=$(date +%s.%N)
listed=$(kubectl get serviceaccounts -A --chunk-size=500 -o name | wc -l)
list_s=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { print a - b }')
list_rss=$(rss "$pid")
measure big
echo
echo "| measure | empty server | loaded server | loaded / empty |"
echo "|---|---:|---:|---:|"
printf '| objects (ServiceAccounts listed) | - | %s | |\n' "$listed"
printf '| RSS after start | %s MiB | %s MiB (after loading: %s MiB) | |\n' "$empty_rss" "$cold_rss" "$loaded_rss"
printf '| cold start on the loaded store | - | %.1f s | |\n' "$cold"
printf '| list all ServiceAccounts, pages of 500 (kubectl) | - | %.1f s, RSS after %s MiB | |\n' "$list_s" "$list_rss"
printf '| SubjectAccessReview/s | %s | %s | %s%% |\n' "$empty_sar" "$sar" "$((sar * 100 / empty_sar))"
printf '| TokenReview/s (cached) | %s | %s | %s%% |\n' "$empty_tr" "$tr" "$((tr * 100 / empty_tr))"
printf '| creates/s (32 clients) | %s | %s | %s%% |\n' "$empty_creates" "$creates" "$((creates * 100 / empty_creates))"
echo
echo "$NAMESPACES namespaces, $SERVICEACCOUNTS ServiceAccounts, $ROLEBINDINGS RoleBindings; $(nproc) cores shared by server, load and wrk; wrk -t2 -c32 -d$DURATION"
