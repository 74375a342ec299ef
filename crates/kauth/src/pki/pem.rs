//! PEM reading on top of rustls-pki-types' parser, with errors that say what was found instead.

pub use rustls_pki_types::pem::SectionKind;
use rustls_pki_types::pem::{self, PemObject};

use super::PkiError;

/// One decoded PEM section: its label and its DER body.
#[derive(Clone)]
pub struct Section {
    /// The section's kind, from its `BEGIN` label.
    pub kind: SectionKind,
    /// The DER bytes.
    pub der: Vec<u8>,
}

/// Shows the label and size only: a section may hold a private key.
impl std::fmt::Debug for Section {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Section({}, {} bytes)", label(self.kind), self.der.len())
    }
}

impl PemObject for Section {
    fn from_pem(kind: SectionKind, der: Vec<u8>) -> Option<Self> {
        Some(Section { kind, der })
    }
}

/// Every PEM section in `data`, in order. `what` names the input in errors.
///
/// Data with no PEM section at all is an error; when it looks like DER (an ASN.1 SEQUENCE), the
/// error says so, because "DER where PEM was expected" is a common mistake.
pub fn sections(what: &str, data: &[u8]) -> Result<Vec<Section>, PkiError> {
    let mut out = Vec::new();
    for item in Section::pem_slice_iter(data) {
        out.push(item.map_err(|e| PkiError::malformed(what, describe(&e)))?);
    }
    if out.is_empty() {
        let problem = if looks_like_der(data) {
            "contains DER (binary) data where PEM was expected".to_string()
        } else if data.iter().all(u8::is_ascii_whitespace) {
            "is empty".to_string()
        } else {
            "contains no PEM block (no -----BEGIN ...----- line)".to_string()
        };
        return Err(PkiError::malformed(what, problem));
    }
    Ok(out)
}

/// True when `data` starts like a DER SEQUENCE, which every certificate, key and CSR is.
pub fn looks_like_der(data: &[u8]) -> bool {
    data.len() > 2 && data[0] == 0x30 && (data[1] & 0x80 == 0 || (0x81..=0x84).contains(&data[1]))
}

/// True for the three private-key labels.
pub fn is_private_key(kind: SectionKind) -> bool {
    matches!(kind, SectionKind::RsaPrivateKey | SectionKind::PrivateKey | SectionKind::EcPrivateKey)
}

/// Human name of a PEM section kind, as its label reads.
pub fn label(kind: SectionKind) -> &'static str {
    match kind {
        SectionKind::Certificate => "CERTIFICATE",
        SectionKind::PublicKey => "PUBLIC KEY",
        SectionKind::RsaPrivateKey => "RSA PRIVATE KEY",
        SectionKind::PrivateKey => "PRIVATE KEY",
        SectionKind::EcPrivateKey => "EC PRIVATE KEY",
        SectionKind::Crl => "X509 CRL",
        SectionKind::Csr => "CERTIFICATE REQUEST",
        _ => "other",
    }
}

fn describe(e: &pem::Error) -> String {
    match e {
        pem::Error::MissingSectionEnd { end_marker } => {
            let label = String::from_utf8_lossy(end_marker);
            let label = label.trim().trim_start_matches("-----END ").trim_end_matches('-');
            format!("truncated PEM: no -----END {label}----- line")
        }
        pem::Error::IllegalSectionStart { line } => {
            format!("malformed PEM BEGIN line {:?}", String::from_utf8_lossy(line))
        }
        pem::Error::Base64Decode(msg) => format!("PEM body is not valid base64: {msg}"),
        other => format!("unreadable PEM: {other}"),
    }
}

/// Encodes DER as a PEM block with the given label.
pub fn encode(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 64);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_truncation() {
        let pem = encode("CERTIFICATE", &[0x30, 0x03, 1, 2, 3]);
        let s = sections("x.crt", pem.as_bytes()).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].der, vec![0x30, 0x03, 1, 2, 3]);
        let cut = &pem[..pem.len() - 20];
        let err = sections("x.crt", cut.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("truncated PEM"), "{err}");
    }

    #[test]
    fn der_and_empty_inputs_are_named() {
        let err = sections("a.crt", &[0x30, 0x82, 0x01, 0x00, 0x00]).unwrap_err().to_string();
        assert!(err.contains("DER"), "{err}");
        let err = sections("a.crt", b"  \n").unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
    }
}
