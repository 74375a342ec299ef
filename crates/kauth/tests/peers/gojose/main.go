// A go-jose v2 peer for kauth's cross-checks and benchmarks: the JOSE library kube-apiserver
// validates service-account tokens with.
//
//	gojose verify TOKEN_FILE KEY_PEM ISSUER AUDIENCE NOW_UNIX   -> prints the claims JSON, or exits 1
//	gojose sign   KEY_PEM ALG KID CLAIMS_JSON_FILE             -> prints a compact JWS
//	gojose bench  TOKEN_FILE KEY_PEM ISSUER AUDIENCE NOW_UNIX SECONDS -> prints ops/s
//	gojose detached CONTENT_FILE TOKEN_ID TOKEN_SECRET        -> prints the bootstrap signer's
//	                                                             detached JWS of the content
package main

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/ioutil"
	"os"
	"strconv"
	"strings"
	"time"

	jose "gopkg.in/square/go-jose.v2"
	"gopkg.in/square/go-jose.v2/jwt"
)

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func readPEM(path string) *pem.Block {
	data, err := ioutil.ReadFile(path)
	if err != nil {
		die("read %s: %v", path, err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		die("%s: no PEM block", path)
	}
	return block
}

func publicKey(path string) interface{} {
	b := readPEM(path)
	switch b.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			die("public key: %v", err)
		}
		return k
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			die("certificate: %v", err)
		}
		return c.PublicKey
	}
	die("unexpected PEM type %s", b.Type)
	return nil
}

func privateKey(path string) crypto.Signer {
	b := readPEM(path)
	switch b.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
		if err != nil {
			die("pkcs1: %v", err)
		}
		return k
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(b.Bytes)
		if err != nil {
			die("sec1: %v", err)
		}
		return k
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			die("pkcs8: %v", err)
		}
		return k.(crypto.Signer)
	}
	die("unexpected PEM type %s", b.Type)
	return nil
}

type ref struct {
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`
}

type private struct {
	Kubernetes struct {
		Namespace string           `json:"namespace,omitempty"`
		Svcacct   ref              `json:"serviceaccount,omitempty"`
		Pod       *ref             `json:"pod,omitempty"`
		Secret    *ref             `json:"secret,omitempty"`
		Node      *ref             `json:"node,omitempty"`
		WarnAfter *jwt.NumericDate `json:"warnafter,omitempty"`
	} `json:"kubernetes.io,omitempty"`
}

// validate does what kube-apiserver's jwtTokenAuthenticator and validator do with go-jose.
func validate(token string, key interface{}, issuer, audience string, now time.Time) (*jwt.Claims, *private, error) {
	tok, err := jwt.ParseSigned(token)
	if err != nil {
		return nil, nil, err
	}
	public := &jwt.Claims{}
	priv := &private{}
	if err := tok.Claims(key, public, priv); err != nil {
		return nil, nil, err
	}
	if public.Issuer != issuer {
		return nil, nil, fmt.Errorf("issuer %q", public.Issuer)
	}
	if !public.Audience.Contains(audience) {
		return nil, nil, fmt.Errorf("audience %v", public.Audience)
	}
	if err := public.ValidateWithLeeway(jwt.Expected{Time: now}, jwt.DefaultLeeway); err != nil {
		return nil, nil, err
	}
	return public, priv, nil
}

func main() {
	if len(os.Args) < 2 {
		die("usage: gojose verify|sign|bench ...")
	}
	switch os.Args[1] {
	case "verify", "bench":
		raw, err := ioutil.ReadFile(os.Args[2])
		if err != nil {
			die("%v", err)
		}
		token := strings.TrimSpace(string(raw))
		key := publicKey(os.Args[3])
		nowUnix, _ := strconv.ParseInt(os.Args[6], 10, 64)
		now := time.Unix(nowUnix, 0)
		if os.Args[1] == "verify" {
			public, priv, err := validate(token, key, os.Args[4], os.Args[5], now)
			if err != nil {
				die("invalid: %v", err)
			}
			out, _ := json.Marshal(map[string]interface{}{"sub": public.Subject, "iss": public.Issuer, "aud": public.Audience, "kubernetes.io": priv.Kubernetes})
			fmt.Println(string(out))
			return
		}
		seconds, _ := strconv.ParseFloat(os.Args[7], 64)
		deadline := time.Now().Add(time.Duration(seconds * float64(time.Second)))
		n := 0
		start := time.Now()
		for time.Now().Before(deadline) {
			for i := 0; i < 100; i++ {
				if _, _, err := validate(token, key, os.Args[4], os.Args[5], now); err != nil {
					die("invalid: %v", err)
				}
			}
			n += 100
		}
		fmt.Printf("%.0f\n", float64(n)/time.Since(start).Seconds())
	case "sign":
		key := privateKey(os.Args[2])
		alg := jose.SignatureAlgorithm(os.Args[3])
		opts := (&jose.SignerOptions{}).WithHeader("kid", os.Args[4])
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
		if err != nil {
			die("signer: %v", err)
		}
		claims, err := ioutil.ReadFile(os.Args[5])
		if err != nil {
			die("%v", err)
		}
		var m map[string]interface{}
		if err := json.Unmarshal(claims, &m); err != nil {
			die("claims: %v", err)
		}
		out, err := jwt.Signed(signer).Claims(m).CompactSerialize()
		if err != nil {
			die("sign: %v", err)
		}
		fmt.Println(out)
	case "detached":
		// What cluster-bootstrap's ComputeDetachedSignature does: HS256 with the token secret
		// as key and the token id as kid, compact form, the payload cut out.
		content, err := ioutil.ReadFile(os.Args[2])
		if err != nil {
			die("%v", err)
		}
		jwk := &jose.JSONWebKey{Key: []byte(os.Args[4]), KeyID: os.Args[3]}
		opts := &jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]interface{}{"kid": os.Args[3]}}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: jwk}, opts)
		if err != nil {
			die("signer: %v", err)
		}
		jws, err := signer.Sign(content)
		if err != nil {
			die("sign: %v", err)
		}
		full, err := jws.CompactSerialize()
		if err != nil {
			die("serialize: %v", err)
		}
		parts := strings.Split(full, ".")
		fmt.Println(parts[0] + ".." + parts[2])
	default:
		die("unknown mode %s", os.Args[1])
	}
}
