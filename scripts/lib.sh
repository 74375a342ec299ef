# What the bench scripts share; sourced by them from the repository's root, never run.
#
# - `work`: a scratch directory, removed on exit;
# - `pids`: the processes a script starts (it appends each), ended on exit, by PID;
# - `kauth_binary [CARGO FLAGS...]`: sets `kauth` to the release build (built with those flags),
#   or to `KAUTH_BIN` when set: another build, to compare a change under the same load (A/B);
# - `lua FILE METHOD TOKEN [BODY]`: a wrk script sending one JSON request with a bearer token.
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
