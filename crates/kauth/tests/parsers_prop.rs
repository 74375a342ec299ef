//! Property tests for the parsers of untrusted input (the same entry points the fuzz targets
//! drive, run here on every `cargo test`): they never panic, what they refuse they refuse as
//! malformed input naming it (`PkiError::Malformed`), and PEM encoding round-trips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kauth::pki::inspect::{inspect, render_text};
use kauth::pki::PkiError;
use kauth::pki::{pem, PrivateKey};
use proptest::prelude::*;

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

/// Whether `e` refuses the input named `x` as malformed (the file's name first, as every
/// message of the kind).
fn malformed(e: &PkiError) -> bool {
    matches!(e, PkiError::Malformed { what, .. } if what.starts_with('x'))
}

/// A real certificate and CSR-like seeds to mutate.
fn seeds() -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let layout = kauth::pki::layout::Layout::new(dir.path());
    let cfg = kauth::pki::spec::PkiConfig { key_type: kauth::pki::KeyType::EcdsaP256, ..Default::default() };
    kauth::pki::init::init(&layout, &cfg, false, now()).unwrap();
    vec![
        std::fs::read(layout.cert_path("apiserver")).unwrap(),
        std::fs::read(layout.key_path("apiserver")).unwrap(),
        std::fs::read(layout.kubeconfig_path("admin.conf")).unwrap(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn pem_round_trips(der in proptest::collection::vec(any::<u8>(), 0..3000)) {
        let text = pem::encode("CERTIFICATE", &der);
        let sections = pem::sections("x", text.as_bytes());
        if der.is_empty() {
            // An empty body is still a (useless) section.
            prop_assert!(sections.is_ok());
        } else {
            let sections = sections.unwrap();
            prop_assert_eq!(sections.len(), 1);
            prop_assert_eq!(&sections[0].der, &der);
        }
    }

    #[test]
    fn arbitrary_bytes_are_refused_as_malformed(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        match inspect("x", &data, None, now()) {
            Ok(items) => {
                let _ = render_text(&items, now());
            }
            Err(e) => prop_assert!(malformed(&e), "{e:?}"),
        }
        // Bytes are never a private key nor a kubeconfig by chance.
        let key = PrivateKey::from_pem("x", &data).map(|_| ()).unwrap_err();
        prop_assert!(malformed(&key), "{key:?}");
        let kubeconfig = kauth::pki::kubeconfig::Kubeconfig::parse("x", &data).map(|_| ()).unwrap_err();
        prop_assert!(malformed(&kubeconfig), "{kubeconfig:?}");
    }
}

#[test]
fn mutated_real_inputs_parse_or_are_refused_as_malformed() {
    let seeds = seeds();
    let mut runner =
        proptest::test_runner::TestRunner::new(ProptestConfig { cases: 1500, ..ProptestConfig::default() });
    let strategy = (
        0..seeds.len(),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        any::<prop::sample::Index>(),
    );
    runner
        .run(&strategy, |(which, edits, cut)| {
            let mut data = seeds[which].clone();
            // Flip some bytes, then maybe truncate.
            for (at, byte) in edits {
                let i = at.index(data.len());
                data[i] = byte;
            }
            if cut.index(4) == 0 {
                data.truncate(cut.index(data.len()));
            }
            match inspect("x", &data, None, now()) {
                Ok(items) => {
                    let _ = render_text(&items, now());
                }
                Err(e) => prop_assert!(malformed(&e), "{e:?}"),
            }
            if let Err(e) = PrivateKey::from_pem("x", &data) {
                prop_assert!(malformed(&e), "{e:?}");
            }
            Ok(())
        })
        .unwrap();
}
