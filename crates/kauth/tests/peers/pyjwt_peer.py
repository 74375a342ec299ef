"""A PyJWT peer for kauth's cross-checks and benchmarks.

  pyjwt_peer.py verify TOKEN_FILE KEY_PEM ISSUER AUDIENCE NOW_UNIX  -> claims JSON, or exit 1
  pyjwt_peer.py sign KEY_PEM ALG KID CLAIMS_JSON_FILE              -> compact JWS
  pyjwt_peer.py bench TOKEN_FILE KEY_PEM ISSUER AUDIENCE NOW_UNIX SECONDS -> ops/s
  pyjwt_peer.py detached SIGNATURE CONTENT_FILE TOKEN_ID TOKEN_SECRET -> exit 0 when the detached
      JWS verifies (HS256, the token secret as key) over the content and names the token id
"""
import base64
import json
import sys
import time
from unittest import mock

import jwt
from cryptography.hazmat.primitives import serialization


def load_public(path):
    data = open(path, "rb").read()
    if b"CERTIFICATE" in data:
        from cryptography import x509
        return x509.load_pem_x509_certificate(data).public_key()
    return serialization.load_pem_public_key(data)


def validate(token, key, issuer, audience, now):
    alg = jwt.get_unverified_header(token)["alg"]
    # PyJWT reads the clock itself; pin it to the test's fake clock.
    with mock.patch("jwt.api_jwt.datetime") as dt:
        import datetime as real
        dt.now.return_value = real.datetime.fromtimestamp(now, tz=real.timezone.utc)
        dt.timezone = real.timezone
        return jwt.decode(token, key, algorithms=[alg], audience=audience, issuer=issuer, leeway=60)


def main():
    mode = sys.argv[1]
    if mode in ("verify", "bench"):
        token = open(sys.argv[2]).read().strip()
        key = load_public(sys.argv[3])
        issuer, audience, now = sys.argv[4], sys.argv[5], int(sys.argv[6])
        if mode == "verify":
            try:
                claims = validate(token, key, issuer, audience, now)
            except jwt.PyJWTError as e:
                print(f"invalid: {e!r}", file=sys.stderr)
                sys.exit(1)
            print(json.dumps(claims, sort_keys=True))
            return
        seconds = float(sys.argv[7])
        alg = jwt.get_unverified_header(token)["alg"]
        # The library's own full path (signature, iss, aud, exp, nbf, iat) with the real clock:
        # benchmark tokens are issued at the real current time.
        n, start = 0, time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            for _ in range(50):
                jwt.decode(token, key, algorithms=[alg], audience=audience, issuer=issuer, leeway=60)
            n += 50
        print(f"{n / (time.perf_counter() - start):.0f}")
    elif mode == "sign":
        key = serialization.load_pem_private_key(open(sys.argv[2], "rb").read(), password=None)
        claims = json.load(open(sys.argv[5]))
        print(jwt.encode(claims, key, algorithm=sys.argv[3], headers={"kid": sys.argv[4]}))
    elif mode == "detached":
        # Bootstrap token secrets are 16 bytes by Kubernetes' design: PyJWT's short-key warning
        # says nothing the test can act on.
        import warnings
        warnings.simplefilter("ignore")
        header, empty, signature = sys.argv[2].split(".")
        if empty:
            sys.exit("not a detached JWS: the payload is present")
        content = open(sys.argv[3], "rb").read()
        payload = base64.urlsafe_b64encode(content).rstrip(b"=").decode()
        try:
            jwt.api_jws.decode_complete(f"{header}.{payload}.{signature}", sys.argv[5], algorithms=["HS256"])
        except jwt.PyJWTError as e:
            sys.exit(f"invalid: {e!r}")
        if jwt.get_unverified_header(sys.argv[2].replace("..", f".{payload}.")).get("kid") != sys.argv[4]:
            sys.exit("kid is not the token id")
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
