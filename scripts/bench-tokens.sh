#!/usr/bin/env bash
# Token validation and signing, side by side in one run: kauth (criterion), the bare aws-lc-rs
# signature verification (criterion, same token), go-jose v2 (kube-apiserver's JOSE library) and
# PyJWT, each on one core. Prints the table BENCHMARKS.md shows. Needs what scripts/test.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kauth/target}"
SECONDS_PER_PEER="${SECONDS_PER_PEER:-5}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release -q -p kauth-cli
kauth="$CARGO_TARGET_DIR/release/kauth"

# Criterion, pinned to one core.
taskset -c 0 cargo bench -q -p kauth --bench token -- --noplot >"$work/criterion.txt" 2>&1 || { cat "$work/criterion.txt"; exit 1; }

# Peers: the same kind of token (pod-bound with node, jti, one audience), issued now by kauth.
GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$work/gocache" go build -o "$work/gojose" crates/kauth/tests/peers/gojose/main.go
issuer="https://kubernetes.default.svc.cluster.local"
now=$(date +%s)
for kind in rsa-2048 ecdsa-p256; do
  "$kauth" pki init --dir "$work/$kind" --key-type "$kind" --node-name bench >/dev/null
  "$kauth" token create --key "$work/$kind/pki/sa.key" --issuer "$issuer" -n team-a --service-account builder \
    --uid 6d1b3c1e-8f0e-4a8e-9f73-0c3a5e2b7d41 --bound-pod builder-7d9f8c6b5-x2x7q:0dd440a6-1213-4faa-a69e-398b83d2dd6b \
    --bound-node worker-3:c26ad760-9067-4d90-a327-b3d6e32bce42 --duration 1h >"$work/$kind.token"
  GOMAXPROCS=1 taskset -c 0 "$work/gojose" bench "$work/$kind.token" "$work/$kind/pki/sa.pub" "$issuer" "$issuer" "$now" "$SECONDS_PER_PEER" >"$work/$kind.gojose"
  taskset -c 0 .venv/bin/python crates/kauth/tests/peers/pyjwt_peer.py bench "$work/$kind.token" "$work/$kind/pki/sa.pub" "$issuer" "$issuer" "$now" "$SECONDS_PER_PEER" >"$work/$kind.pyjwt"
done

python3 - "$work" <<'PY'
import re, sys
work = sys.argv[1]
text = open(f"{work}/criterion.txt").read()
def crit(name):
    m = re.search(re.escape(name) + r"\s+time:\s+\[\S+ \S+ (\S+) (\S+)", text)
    v, unit = float(m.group(1)), m.group(2)
    return v * {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1}[unit]
def ops(seconds):
    return 1 / seconds
print("| operation (one core) | RS256 ops/s | ES256 ops/s |")
print("|---|---:|---:|")
rows = {}
for alg, kind in (("rs256", "rsa-2048"), ("es256", "ecdsa-p256")):
    rows[alg] = {
        "bare": ops(crit(f"{alg}/bare_verify")),
        "kauth": ops(crit(f"{alg}/kauth_validate")),
        "parse": ops(crit(f"{alg}/kauth_parse_only")),
        "jwt": ops(crit(f"{alg}/kauth_jwt_checks")),
        "gojose": float(open(f"{work}/{kind}.gojose").read()),
        "pyjwt": float(open(f"{work}/{kind}.pyjwt").read()),
        "verify_only": ops(crit(f"{alg}/verify_signature_only")),
        "parse_bare": ops(crit(f"{alg}/parse_then_bare_verify")),
        "bare_sign": ops(crit(f"{alg}/bare_sign")),
        "sign": ops(crit(f"{alg}/kauth_sign")),
    }
labels = [
    ("bare", "bare signature verify, aws-lc-rs, key parsed once (the limit)"),
    ("kauth", "**kauth full validation** (parse, kid, signature, iss, aud, nbf/exp/iat, SA + pod lookups, user)"),
    ("jwt", "kauth JWT validation: the JWT half of `validate` (parse, kid, signature, iss, aud, nbf/exp/iat; no lookups, no user), go-jose's scope"),
    ("gojose", "go-jose v2.6 parse + verify + ValidateWithLeeway (kube-apiserver's path)"),
    ("pyjwt", "PyJWT 2.15 decode (signature, iss, aud, exp/nbf/iat)"),
    ("parse", "kauth parse only, the tools' path (split, base64url, header + claims JSON, owned copies)"),
    ("verify_only", "kauth signature step only (kid, algorithm checks, the aws-lc-rs call; token parsed once)"),
    ("parse_bare", "kauth parse + claims (the tools' path), then the bare aws-lc-rs verify (no kauth checks)"),
    ("bare_sign", "bare signature, aws-lc-rs"),
    ("sign", "**kauth TokenRequest signing** (claims, JSON, jti, signature)"),
]
for key, label in labels:
    print(f"| {label} | {rows['rs256'][key]:,.0f} | {rows['es256'][key]:,.0f} |")
print()
print("| ratio | RS256 | ES256 |")
print("|---|---:|---:|")
for label, f in [
    ("kauth full validation / bare verify", lambda r: f"{100 * r['kauth'] / r['bare']:.1f}%"),
    ("kauth JWT checks / bare verify", lambda r: f"{100 * r['jwt'] / r['bare']:.1f}%"),
    ("parse + bare verify / bare verify", lambda r: f"{100 * r['parse_bare'] / r['bare']:.1f}%"),
    ("kauth / go-jose", lambda r: f"{r['kauth'] / r['gojose']:.1f}x"),
    ("kauth / PyJWT", lambda r: f"{r['kauth'] / r['pyjwt']:.1f}x"),
    ("kauth signing / bare signing", lambda r: f"{100 * r['sign'] / r['bare_sign']:.1f}%"),
]:
    print(f"| {label} | {f(rows['rs256'])} | {f(rows['es256'])} |")
PY

# The ratios that count: each measured in alternating rounds in one process, so the machine's
# drift hits both sides alike (the sequential table above drifts by several percent).
echo
taskset -c 0 env GOJOSE="$work/gojose" PYJWT="$PWD/.venv/bin/python" cargo bench -q -p kauth --bench token_ratio
