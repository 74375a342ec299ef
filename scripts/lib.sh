# What the bench scripts share; sourced by them from the repository's root, never run.
#
# - `work`: a scratch directory, removed on exit;
# - `pids`: the processes a script starts (it appends each), ended on exit, by PID;
# - `kauth_binary [CARGO FLAGS...]`: sets `kauth` to the release build (built with those flags),
#   or to `KAUTH_BIN` when set: another build, to compare a change under the same load (A/B);
# - `lua FILE METHOD TOKEN [BODY]`: a wrk script sending one JSON request with a bearer token;
# - `measure PID LUA URL`: wrk's rate on URL (`-t2`, CONNECTIONS, DURATION) into
#   `measured_rate`, and into `measured_cpu` the CPU microseconds (user, system) and context
#   switches (voluntary, involuntary) per request of the server PID and of wrk, from /proc and
#   /usr/bin/time: on two shared cores a rate is the cores divided by the CPU all of them spend
#   per request. Fails on a non-2xx answer.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kauth/target}"
work=$(mktemp -d)
pids=()
bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap bench_cleanup EXIT

kauth_binary() {
  if [ -n "${KAUTH_BIN:-}" ]; then
    kauth="$KAUTH_BIN"
  else
    cargo build --release -q -p kauth-cli "$@"
    kauth="$CARGO_TARGET_DIR/release/kauth"
  fi
}

lua() {
  {
    echo "wrk.method = \"$2\""
    echo "wrk.headers[\"Authorization\"] = \"Bearer $3\""
    echo "wrk.headers[\"Content-Type\"] = \"application/json\""
    if [ -n "${4:-}" ]; then printf 'wrk.body = [[%s]]\n' "$4"; fi
  } >"$1"
}

# The user and system clock ticks and the context switches of all threads of a process.
proc_usage() {
  local u s v=0 i=0 t
  read -r u s < <(awk '{print $14, $15}' "/proc/$1/stat")
  for t in /proc/"$1"/task/*/status; do
    v=$((v + $(awk '/^voluntary_ctxt_switches/ {print $2}' "$t")))
    i=$((i + $(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "$t")))
  done
  echo "$u $s $v $i"
}

measure() {
  local out before after
  before=$(proc_usage "$1")
  out=$( { /usr/bin/time -f "wrk-cpu %U %S %w %c" wrk -t2 -c"${CONNECTIONS:-32}" -d"${DURATION:-5s}" -s "$2" "$3"; } 2>&1)
  after=$(proc_usage "$1")
  if grep -q "Non-2xx" <<<"$out"; then echo "error: non-2xx responses from $3" >&2; echo "$out" >&2; return 1; fi
  measured_cpu=$(awk -v b="$before" -v a="$after" -v hz="$(getconf CLK_TCK)" '
    /requests in/ {n = $1}
    /^wrk-cpu/ {wu = $2; ws = $3; wv = $4; wi = $5}
    END {
      split(b, B, " "); split(a, A, " ")
      printf "server %.2f + %.2f us, %.3f + %.3f switches; wrk %.2f + %.2f us, %.3f + %.3f switches",
        (A[1] - B[1]) * 1e6 / hz / n, (A[2] - B[2]) * 1e6 / hz / n, (A[3] - B[3]) / n, (A[4] - B[4]) / n,
        wu * 1e6 / n, ws * 1e6 / n, wv / n, wi / n
    }' <<<"$out")
  measured_rate=$(awk '/Requests\/sec/ {printf "%d", $2}' <<<"$out")
}
