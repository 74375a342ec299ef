//! Identities Kubernetes gives new objects: a uid, and the random suffix of `generateName`.

use super::status::ApiError;

/// The characters of a `generateName` suffix (Kubernetes' alphabet without vowels).
const GENERATE_CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A random `generateName` suffix of five characters.
pub fn generate_suffix() -> Result<String, ApiError> {
    let mut bytes = [0u8; 5];
    aws_lc_rs::rand::fill(&mut bytes).map_err(ApiError::internal)?;
    Ok(bytes.iter().map(|b| GENERATE_CHARS[*b as usize % GENERATE_CHARS.len()] as char).collect())
}

/// A new object's uid.
pub fn new_uid() -> Result<String, ApiError> {
    kauth::token::issue::random_uuid().map_err(ApiError::internal)
}
