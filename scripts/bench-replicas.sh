#!/usr/bin/env bash
# TokenRequest and TokenReview throughput of kauth serve: one replica on the embedded store, and
# 1, 2 and 3 replicas on one etcd member (TLS with kauth pki's etcd certificates), all on this
# machine. With N replicas, N wrk processes load them at once (connections split between them)
# and their rates are added. TokenReview runs with the token cache off, so each request verifies
# an RS256 signature. Then the write-to-other-replica propagation bench (criterion-free, with
# percentiles). Prints the Markdown tables in BENCHMARKS.md. Needs wrk, etcd (etcd-server) and
# protoc (protobuf-compiler); everything listens on 127.0.0.1 and stops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
for c in wrk etcd protoc; do command -v "$c" >/dev/null || { echo "needs $c" >&2; exit 2; }; done

cargo build --release -q -p kauth-cli --features etcd
kauth="$CARGO_TARGET_DIR/release/kauth"
echo 'bench-admin-token,bench-admin,u-bench,"system:masters"' >"$work/tokens.csv"

# One PKI for everything: etcd's certificates and the replicas' shared CA and signing key.
"$kauth" pki init --dir "$work/cluster" --advertise-address 127.0.0.1 --node-name localhost >/dev/null
pki="$work/cluster/pki"

. scripts/etcd-member.sh

urls=()
start_replica() { # start_replica NAME EXTRA_FLAGS...
  mkdir -p "$work/$1"
  cp -r "$pki" "$work/$1/"
  "$kauth" serve --data-dir "$work/$1" --secure-port 0 --token-auth-file "$work/tokens.csv" \
    --token-cache-ttl 0s --replica-name "$1" "${@:2}" >"$work/$1.out" 2>"$work/$1.err" &
  pids+=("$!")
  for _ in $(seq 100); do grep -q "serving on" "$work/$1.out" 2>/dev/null && break; sleep 0.1; done
  urls+=("$(sed -n 's/^kauth serving on //p' "$work/$1.out")")
}

lua() { # lua FILE BODY
  printf 'wrk.method = "POST"\nwrk.headers["Authorization"] = "Bearer bench-admin-token"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [[%s]]\n' "$2" >"$1"
}

load() { # load LABEL PATH LUA: every replica at once; prints the summed rate and the worst p50/p99
  local n=${#urls[@]} i out rps=0 p50="" p99="" wrks=()
  local c=$(( CONNECTIONS / n ))
  for i in "${!urls[@]}"; do
    wrk -t1 -c"$c" -d"$DURATION" --latency -s "$3" "${urls[$i]}$2" >"$work/wrk.$i" &
    wrks+=("$!")
  done
  wait "${wrks[@]}"
  for i in "${!urls[@]}"; do
    out=$(cat "$work/wrk.$i")
    if grep -q "Non-2xx" <<<"$out"; then echo "error: non-2xx responses in $1" >&2; echo "$out" >&2; exit 1; fi
    rps=$(( rps + $(awk '/Requests\/sec/ {printf "%d", $2}' <<<"$out") ))
    p50+="$(awk '$1=="50%" {print $2}' <<<"$out") "
    p99+="$(awk '$1=="99%" {print $2}' <<<"$out") "
  done
  printf '| %s | %s | %s | %s | %s |\n' "$1" "$n" "$rps" "${p50% }" "${p99% }"
}

scenario() { # scenario LABEL: the SA, its token and the loads, through the replicas in urls
  export KUBECONFIG="$work/r0/admin.conf"
  kubectl create sa app >/dev/null
  local token
  token=$(kubectl create token app)
  lua "$work/treq.lua" '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":3600}}'
  lua "$work/trev.lua" "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{\"token\":\"$token\"}}"
  load "TokenRequest, $1" /api/v1/namespaces/default/serviceaccounts/app/token "$work/treq.lua"
  load "TokenReview (uncached RS256), $1" /apis/authentication.k8s.io/v1/tokenreviews "$work/trev.lua"
}

stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=(); urls=(); }

printf '| scenario | replicas | requests/s (sum) | p50 per replica | p99 per replica |\n|---|---:|---:|---|---|\n'
start_replica r0
scenario "embedded store"
stop_all
rm -rf "$work"/r*
for n in 1 2 3; do
  start_etcd "$pki"
  for i in $(seq 0 $((n - 1))); do start_replica "r$i" --etcd-servers "$etcd_url"; done
  scenario "etcd"
  stop_all
  rm -rf "$work"/r*
done
echo
echo "$(nproc) cores shared by etcd, the replicas and wrk; wrk -t1 -c$((CONNECTIONS)) split across replicas, -d$DURATION"
echo
WRITES="${WRITES:-2000}" cargo bench -q -p kauth-server --features etcd --bench replica_propagation 2>/dev/null
