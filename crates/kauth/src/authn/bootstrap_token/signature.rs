//! The bootstrap signer's detached signatures: how a node that holds only a bootstrap token
//! trusts the `kube-public/cluster-info` ConfigMap it reads without credentials.
//!
//! For each token allowed to sign (`usage-bootstrap-signing: "true"`, not expired), the
//! ConfigMap carries `jws-kubeconfig-<token-id>`: a JWS over its `kubeconfig` value, HS256 with
//! the token's secret as key and the token id as `kid`, in compact form with the payload left out
//! (`<header>..<signature>`). `kubeadm join` computes the same string and compares them, so it
//! must be exact: the protected header is `{"alg":"HS256","kid":"<id>"}`, keys in that order, as
//! go-jose serializes it; base64url without padding (RFC 7515).
//!
//! HMAC is aws-lc-rs's; comparison is constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// The ConfigMap's namespace.
pub const CLUSTER_INFO_NAMESPACE: &str = "kube-public";
/// The ConfigMap's name.
pub const CLUSTER_INFO: &str = "cluster-info";
/// The key holding the signed kubeconfig.
pub const KUBECONFIG_KEY: &str = "kubeconfig";
/// The prefix of the keys holding the signatures, followed by the token id.
pub const SIGNATURE_KEY_PREFIX: &str = "jws-kubeconfig-";

/// The protected header, base64url: `{"alg":"HS256","kid":"<id>"}`. Built from a JSON value so
/// that an id with characters JSON escapes is still escaped right (ids are `[a-z0-9]{6}` when
/// valid; the signer only signs valid ones).
fn header(token_id: &str) -> String {
    // serde_json keeps insertion order only with `preserve_order`; the two keys are already in
    // the order go-jose writes them (sorted), so a sorted map gives the same bytes either way.
    let header = serde_json::json!({"alg": "HS256", "kid": token_id});
    URL_SAFE_NO_PAD.encode(header.to_string())
}

/// The detached JWS of `content` for the token `token_id`.`token_secret`.
pub fn detached_signature(content: &str, token_id: &str, token_secret: &str) -> String {
    let protected = header(token_id);
    let payload = URL_SAFE_NO_PAD.encode(content);
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, token_secret.as_bytes());
    let mut ctx = aws_lc_rs::hmac::Context::with_key(&key);
    ctx.update(protected.as_bytes());
    ctx.update(b".");
    ctx.update(payload.as_bytes());
    let tag = ctx.sign();
    format!("{protected}..{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// Whether `signature` is the detached JWS of `content` for the token, as `kubeadm join`
/// checks it: the same string, compared in constant time.
pub fn verify(signature: &str, content: &str, token_id: &str, token_secret: &str) -> bool {
    let want = detached_signature(content, token_id, token_secret);
    aws_lc_rs::constant_time::verify_slices_are_equal(want.as_bytes(), signature.as_bytes()).is_ok()
}

/// The `kubeconfig` value kubeadm puts in `cluster-info`: one cluster named `""` with the API
/// server's URL and CA, no users and no contexts.
pub fn cluster_info_kubeconfig(server: &str, ca_pem: &str) -> Result<String, crate::pki::PkiError> {
    use crate::pki::kubeconfig::{Cluster, Kubeconfig, NamedCluster};
    Kubeconfig {
        api_version: "v1".into(),
        kind: "Config".into(),
        clusters: vec![NamedCluster {
            name: String::new(),
            cluster: Cluster {
                server: server.into(),
                certificate_authority_data: Some(base64::engine::general_purpose::STANDARD.encode(ca_pem)),
                ..Cluster::default()
            },
        }],
        ..Kubeconfig::default()
    }
    .to_yaml()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The signatures go-jose computes, as cluster-bootstrap's own tests record them
    // (k8s.io/cluster-bootstrap/token/jws, TestComputeDetachedSignature).
    const CONTENT: &str = "Hello from the other side. I must have called a thousand times.";
    const ID: &str = "joshua";
    const SECRET: &str = "my voice is my passcode";
    const GO_JOSE: &str = "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..VShe2taLd-YTrmWuRkcL_8QTNDHYxQIEBsAYYiIj1_8";

    #[test]
    fn the_signature_is_the_one_go_jose_computes() {
        assert_eq!(detached_signature(CONTENT, ID, SECRET), GO_JOSE);
        assert_eq!(
            detached_signature("", ID, SECRET),
            "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..7Ui1ALizW4jXphVUB7xUqC9vLYLL9RZeOFfVLoB7Tgk"
        );
        assert_eq!(
            detached_signature(CONTENT, ID, ""),
            "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..UfkqvDGiIFxrMnFseDj9LYJOLNrvjW8aHhF71mvvAs8"
        );
    }

    #[test]
    fn verify_accepts_only_the_same_content_id_and_secret() {
        assert!(verify(GO_JOSE, CONTENT, ID, SECRET));
        assert!(!verify(GO_JOSE, "Hello from the other side.", ID, SECRET));
        assert!(!verify(GO_JOSE, CONTENT, "joshub", SECRET));
        assert!(!verify(GO_JOSE, CONTENT, ID, "my voice is my passcodE"));
        assert!(!verify("", CONTENT, ID, SECRET));
    }

    #[test]
    fn the_header_names_the_token_id() {
        let sig = detached_signature(CONTENT, "abcdef", SECRET);
        let (header, rest) = sig.split_once("..").unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(header).unwrap(), br#"{"alg":"HS256","kid":"abcdef"}"#);
        assert_eq!(URL_SAFE_NO_PAD.decode(rest).unwrap().len(), 32);
    }

    #[test]
    fn cluster_info_has_one_unnamed_cluster_and_no_users() {
        let text = cluster_info_kubeconfig("https://10.0.0.1:6443", "-----BEGIN CERTIFICATE-----\n").unwrap();
        let cfg = crate::pki::kubeconfig::Kubeconfig::parse("cluster-info", text.as_bytes()).unwrap();
        assert_eq!(cfg.clusters.len(), 1);
        assert_eq!(cfg.clusters[0].name, "");
        assert_eq!(cfg.clusters[0].cluster.server, "https://10.0.0.1:6443");
        assert!(cfg.users.is_empty() && cfg.contexts.is_empty());
    }
}
