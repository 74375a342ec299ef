#!/usr/bin/env bash
# Runs every kauth test on a fresh machine, installing first what the tests need.
# CI runs exactly this (.ci/run). Safe to run again: installs are skipped when present.
set -euo pipefail
cd "$(dirname "$0")/.."

# A build directory outside the clone survives between runs on the same machine.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kauth/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Incremental state only speeds up an edit-compile loop; here it would cost gigabytes of disk.
export CARGO_INCREMENTAL=0
# Suites that drive kubectl, curl, etcd, openssl, Go or PyJWT skip with a `skipped: ...` line on a
# machine without them; here, after installing them, a missing one fails the suite instead.
export KAUTH_REQUIRE_ALL_TOOLS=1

say() { printf '\n== %s\n' "$*"; }

apt_updated=""
apt_install() { # apt_install PACKAGE...
  if [ -z "$apt_updated" ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
need_apt() { # need_apt COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 || apt_install "$2"
}

say "installing what the tests need"
need_apt openssl openssl          # cross-checks every generated certificate
need_apt curl curl                # drives kauth serve's review and discovery endpoints
# kauth serve's scenario tests drive the real kubectl (v1.32 on these machines).
command -v kubectl >/dev/null 2>&1 || { echo "kubectl is required for the kauth serve tests" >&2; exit 1; }
need_apt go golang-go             # builds the go-jose peer (kube-apiserver's JOSE library)
need_apt etcd etcd-server         # the etcd backend's tests: real members over TLS, on loopback
need_apt protoc protobuf-compiler # etcd-client's build (the `etcd` feature) compiles etcd's protos
need_apt chromium chromium        # kauth inspect's browser tests: headless Chromium ...
need_apt chromedriver chromium-driver # ... driven over WebDriver
[ -d /usr/share/gocode/src/gopkg.in/square/go-jose.v2 ] || apt_install golang-gopkg-square-go-jose.v2-dev
# PyJWT, the second independent token implementation, in a venv inside the clone.
if ! .venv/bin/python -c 'import jwt, cryptography' >/dev/null 2>&1; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check 'PyJWT[crypto]==2.15.1'
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

say "disk"
# The build directory is a cache. A long-lived machine fills its disk with old builds, and a run
# that finds it full fails half-way with "No space left on device". So: drop what this run never
# uses (incremental state) and, when less than KAUTH_TEST_MIN_FREE_GIB (10) is left, empty the
# cache and build from scratch. Measured 2026-12-07: a whole run from an empty cache writes
# 21 GiB there; one after a change, on a warm cache, a few.
free_gib() { df -Pk "$1" | awk 'NR == 2 { print int($4 / 1048576) }'; }
min_free_gib="${KAUTH_TEST_MIN_FREE_GIB:-10}"
mkdir -p "$CARGO_TARGET_DIR"
rm -rf "$CARGO_TARGET_DIR"/*/incremental "$CARGO_TARGET_DIR"/*/*/incremental
if [ "$(free_gib "$CARGO_TARGET_DIR")" -lt "$min_free_gib" ]; then
  echo "only $(free_gib "$CARGO_TARGET_DIR") GiB free: emptying the build cache $CARGO_TARGET_DIR"
  rm -rf "$CARGO_TARGET_DIR"
  mkdir -p "$CARGO_TARGET_DIR"
fi
echo "$(free_gib "$CARGO_TARGET_DIR") GiB free for the build cache ($(du -sh "$CARGO_TARGET_DIR" | cut -f1) in it)"

say "format and lints"
cargo fmt --all -- --check
# Both builds: the default one (no protoc needed, the README's first command) and the one with
# every feature (the etcd backend).
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy --workspace --all-targets --locked --all-features -- -D warnings

say "module graph"
# No crate may have a cycle among its modules (ARCHITECTURE.md: each layer uses the ones below).
cargo run -q --locked -p module-graph -- crates/kauth/src crates/kauth-server/src crates/kauth-cli/src crates/module-graph/src crates/kauth-delegation/src examples/aggregated-server/src

say "tests"
cargo test --workspace --locked --all-features

say "fuzz smoke run"
# The fuzz targets (fuzz/) run for a short while on every CI run, so they cannot rot. cargo-fuzz
# wants nightly for its sanitizer flags; with no sanitizer, stable works given RUSTC_BOOTSTRAP.
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --quiet
fi
# Seed keys are made here rather than committed: no private key lives in the repository.
mkdir -p fuzz/corpus/private_key_pem
[ -f fuzz/corpus/private_key_pem/seed-rsa.pem ] || openssl genrsa 2048 2>/dev/null > fuzz/corpus/private_key_pem/seed-rsa.pem
[ -f fuzz/corpus/private_key_pem/seed-ec.pem ] || openssl ecparam -name prime256v1 -genkey -noout > fuzz/corpus/private_key_pem/seed-ec.pem
for target in cert_inspect private_key_pem token_parse api_request rbac_load credentials audit_policy signer_request proxy_config webhook_token_review authentication_config jwt_claims authorization_config; do
  mkdir -p "fuzz/corpus/$target"
  # api_request, audit_policy, signer_request and webhook_token_review link the server or delegation crate (k8s-openapi, hyper, tonic, ureq): a dev
  # build compiles in a third of the time of a release one, and 20 s still runs a few hundred
  # thousand inputs.
  profile=""
  case "$target" in api_request | audit_policy | signer_request | webhook_token_review | authorization_config) profile="--dev" ;; esac
  RUSTC_BOOTSTRAP=1 cargo fuzz run $profile --fuzz-dir fuzz -s none "$target" "fuzz/corpus/$target" -- \
    -max_total_time="${KAUTH_FUZZ_SECONDS:-20}" -max_len=16384 2>&1 | tail -n 2
done
echo "fuzz: 13 passed, 0 failed"
