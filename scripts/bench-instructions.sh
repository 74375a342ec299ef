#!/usr/bin/env bash
# Instructions per request of `kauth serve`, counted by callgrind: where wall-clock rates on a
# shared 2-core machine vary by ±30% (and more from one day to the next), instruction counts
# repeat to within a percent, so a change's cost or saving shows. User-space instructions only
# (the kernel's TCP work is not counted), over the whole server: TLS, HTTP, the pipeline, the
# handler and the store.
#
# The server is prepared by a first, native start (PKI, store, a service account and its
# token), then run under callgrind with instrumentation off until each scenario's load starts;
# counters are zeroed before and dumped after each, and divided by the requests wrk made. The
# ceiling (kauth's own transport answering a fixed body, `examples/ceiling.rs`) is counted the
# same way on the same requests: what kauth adds beyond it is the pipeline's and the handler's.
# KAUTH_BIN measures another build (an A/B of a change). PROFILES=DIR keeps each scenario's
# callgrind profile there (`ceiling-get.out`, `kauth-sar.out`, ...) for `callgrind_annotate
# --inclusive=yes`. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
DURATION="${DURATION:-15s}"
for tool in valgrind callgrind_control wrk kubectl; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install valgrind wrk; kubectl)" >&2; exit 2; }
done

kauth_binary
cargo build --release -q -p kauth-server --example ceiling
ceiling="$CARGO_TARGET_DIR/release/examples/ceiling"
echo 'bench-admin-token,bench-admin,u-bench,"system:masters"' >"$work/tokens.csv"

started() { # started NAME: waits for "NAME serving on URL"; sets url
  for _ in $(seq 600); do grep -q "serving on" "$work/out" 2>/dev/null && break; sleep 0.2; done
  url=$(sed -n "s/^$1 serving on //p" "$work/out")
  [ -n "$url" ] || { echo "$1 did not start:" >&2; cat "$work/err" >&2; exit 1; }
}
serve() { # serve [WRAPPER...]: starts kauth serve on the prepared data directory; sets pid, url
  "$@" "$kauth" serve --data-dir "$work/data" --secure-port 0 --token-auth-file "$work/tokens.csv" \
    >"$work/out" 2>"$work/err" &
  pid=$!
  pids+=("$pid")
  started kauth
}
# The ceiling (kauth's transport answering a fixed body: see bench-serve.sh) on the same PKI.
serve_ceiling() { # serve_ceiling [WRAPPER...]
  local pki="$work/data/pki"
  "$@" "$ceiling" --cert "$pki/apiserver.crt" --key "$pki/apiserver.key" --client-ca "$pki/ca.crt" \
    >"$work/out" 2>"$work/err" &
  pid=$!
  pids+=("$pid")
  started ceiling
}

serve
export KUBECONFIG="$work/data/admin.conf"
kubectl create sa app >/dev/null
kubectl create clusterrolebinding app-view --clusterrole=view --serviceaccount=default:app >/dev/null
kubectl create namespace load >/dev/null
sa_token=$(kubectl create token app --duration=24h)
kill "$pid"
wait "$pid" 2>/dev/null || true

callgrind=(valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/callgrind.out")

lua "$work/get.lua" GET "$sa_token"
lua "$work/tr.lua" POST bench-admin-token "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{\"token\":\"$sa_token\"}}"
lua "$work/sar.lua" POST bench-admin-token '{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"system:serviceaccount:default:app","groups":["system:serviceaccounts"],"resourceAttributes":{"verb":"get","resource":"pods","namespace":"default"}}}'
cat >"$work/create.lua" <<'LUA'
-- Names are unique per run (the warm-up's and the measured run's): `wrk ... -- PREFIX`.
counter = 0
function init(args)
  prefix = args[1] or "i"
end
request = function()
  counter = counter + 1
  local body = '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"' .. prefix .. '-' .. counter .. '"}}'
  return wrk.format("POST", nil, {["Authorization"] = "Bearer bench-admin-token", ["Content-Type"] = "application/json"}, body)
end
LUA

row() { # row LABEL URL_PATH LUA [PROFILE_NAME]: sets requests and count (instructions per request)
  callgrind_control -i on "$pid" >/dev/null 2>&1
  # Two seconds of load first, uncounted: the token cache warms, the allocator settles.
  wrk -t1 -c4 -d2s -s "$3" "$url$2" -- warm >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  local out
  out=$(wrk -t1 -c4 -d"$DURATION" -s "$3" "$url$2" -- measured)
  if grep -q "Non-2xx" <<<"$out"; then echo "error: non-2xx responses on $2" >&2; echo "$out" >&2; tail -5 "$work/err" >&2; exit 1; fi
  callgrind_control -d "$pid" >/dev/null 2>&1
  callgrind_control -i off "$pid" >/dev/null 2>&1
  local instructions dump
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  dump=$(ls -t "$work"/callgrind.out.* | head -1)
  instructions=$(awk '/^(summary|totals):/ {print $2; exit}' "$dump")
  if [ -n "${PROFILES:-}" ] && [ -n "${4:-}" ]; then mkdir -p "$PROFILES" && mv "$dump" "$PROFILES/$4.out"; else rm -f "$dump"; fi
  count=$((instructions / requests))
}

scenarios=(
  "GET serviceaccount, SA bearer token, cached|/api/v1/namespaces/default/serviceaccounts/app|get"
  "TokenReview, cached|/apis/authentication.k8s.io/v1/tokenreviews|tr"
  "SubjectAccessReview (static token caller)|/apis/authorization.k8s.io/v1/subjectaccessreviews|sar"
  "create serviceaccount (embedded store)|/api/v1/namespaces/load/serviceaccounts|create"
)
# The ceiling first, every scenario's requests; then kauth, the same.
declare -A floor
serve_ceiling "${callgrind[@]}"
for s in "${scenarios[@]}"; do
  IFS='|' read -r label path script <<<"$s"
  row "$label" "$path" "$work/$script.lua" "ceiling-$script"
  floor[$script]=$count
done
kill "$pid"
wait "$pid" 2>/dev/null || true
serve "${callgrind[@]}"
printf '| scenario (under callgrind) | requests | instructions per request | the ceiling, same requests | kauth beyond the ceiling |\n|---|---:|---:|---:|---:|\n'
for s in "${scenarios[@]}"; do
  IFS='|' read -r label path script <<<"$s"
  row "$label" "$path" "$work/$script.lua" "kauth-$script"
  printf '| %s | %s | %s | %s | %s |\n' "$label" "$requests" "$count" "${floor[$script]}" "$((count - floor[$script]))"
done
