//! The kubeadm-compatible cluster PKI.
//!
//! [`spec`] says what every certificate of a kubeadm cluster must look like; [`init`](mod@init) writes
//! such a PKI (idempotently and atomically); [`check`](mod@check) lists expirations like
//! `kubeadm certs check-expiration`; [`verify`](mod@verify) finds what is wrong and says how to fix it;
//! [`renew`](mod@renew) re-signs certificates keeping their keys; [`inspect`](mod@inspect) explains any
//! certificate, CSR or kubeconfig in Kubernetes terms.

pub mod cert;
pub mod check;
mod error;
pub mod fsio;
pub mod init;
pub mod inspect;
pub mod key;
pub mod kubeconfig;
pub mod layout;
pub mod pem;
pub mod renew;
pub mod sign;
pub mod spec;
pub mod verify;

pub use error::PkiError;
pub use key::{KeyType, PrivateKey};
