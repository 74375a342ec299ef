//! `--token-auth-file`: static bearer tokens from a CSV file, read as kube-apiserver reads it.
//!
//! Each record is `token,user,uid[,"group1,group2"]` (Go's `encoding/csv`: quoted fields, no
//! comments, records may have different lengths). Fewer than three columns is an error naming
//! the file; an empty token is skipped; a duplicate token replaces the earlier one (kube-apiserver
//! warns and does the same). Tokens are kept only as HMAC-SHA256 digests under a per-process key,
//! so a lookup compares digests and never branches on the secret's bytes.

use std::collections::HashMap;

use aws_lc_rs::hmac;
use time::OffsetDateTime;

use super::{Authenticated, Rejection, TokenAuthenticator};
use crate::user::UserInfo;

/// A problem reading the token file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token file '{path}': {problem}")]
pub struct TokenFileError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub problem: String,
}

/// The static tokens. `Debug` shows how many, never which.
pub struct TokenFile {
    key: hmac::Key,
    users: HashMap<[u8; 32], UserInfo>,
    /// Warnings seen while reading (empty and duplicate tokens), for the log.
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for TokenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenFile({} tokens)", self.users.len())
    }
}

impl TokenFile {
    /// Parses the CSV text of a token file named `path`.
    pub fn parse(path: &str, data: &[u8]) -> Result<Self, TokenFileError> {
        let bad = |problem: String| TokenFileError { path: path.to_owned(), problem };
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng).map_err(|e| bad(format!("generating a key: {e}")))?;
        let mut users = HashMap::new();
        let mut warnings = Vec::new();
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(data);
        for (i, record) in reader.records().enumerate() {
            let record = record.map_err(|e| bad(e.to_string()))?;
            if record.len() < 3 {
                return Err(bad(format!(
                    "must have at least 3 columns (token, user name, user uid), found {}",
                    record.len()
                )));
            }
            let number = i + 1;
            if record[0].is_empty() {
                warnings.push(format!("empty token has been found in token file '{path}', record number '{number}'"));
                continue;
            }
            let user = UserInfo {
                name: record[1].to_owned(),
                uid: record[2].to_owned(),
                groups: record.get(3).map(|g| g.split(',').map(str::to_owned).collect()).unwrap_or_default(),
                extra: Default::default(),
            };
            let digest = digest(&key, &record[0]);
            if users.insert(digest, user).is_some() {
                warnings
                    .push(format!("duplicate token has been found in token file '{path}', record number '{number}'"));
            }
        }
        Ok(TokenFile { key, users, warnings })
    }

    /// How many tokens.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

fn digest(key: &hmac::Key, token: &str) -> [u8; 32] {
    let tag = hmac::sign(key, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

impl TokenAuthenticator for TokenFile {
    fn name(&self) -> &'static str {
        "token-file"
    }

    /// A static token is either known (authenticated) or not this authenticator's (`Ok(None)`):
    /// kube-apiserver's token file never rejects.
    fn authenticate_token(
        &self,
        token: &str,
        _audiences: Option<&[String]>,
        _now: OffsetDateTime,
    ) -> Result<Option<Authenticated>, Rejection> {
        Ok(self.users.get(&digest(&self.key, token)).map(|user| Authenticated::new("token-file", user.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH
    }

    #[test]
    fn reads_records_like_kube_apiserver() {
        let f = TokenFile::parse(
            "tokens.csv",
            b"t1,alice,uid-1,\"dev,ops\"\nt2,bob,uid-2\n,nobody,uid-0\nt1,alice2,uid-3,admins\n",
        )
        .unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f.warnings.len(), 2);
        let alice = f.authenticate_token("t1", None, now()).unwrap().unwrap();
        assert_eq!(alice.user.name, "alice2", "the last duplicate wins");
        assert_eq!(alice.user.groups, ["admins"]);
        let bob = f.authenticate_token("t2", None, now()).unwrap().unwrap();
        assert!(bob.user.groups.is_empty());
        assert_eq!(f.authenticate_token("t3", None, now()), Ok(None));
        assert_eq!(format!("{f:?}"), "TokenFile(2 tokens)");
    }

    #[test]
    fn short_records_and_bad_csv_are_errors() {
        let err = TokenFile::parse("tokens.csv", b"t1,alice\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "token file 'tokens.csv': must have at least 3 columns (token, user name, user uid), found 2"
        );
        assert!(TokenFile::parse("t", b"a,\"b,c\n").is_err());
    }
}
