//! Who owns whom: every stored object's `metadata.ownerReferences`, indexed by the owner's uid,
//! kept in step with the mirror, so the garbage collector finds an owner's dependents without
//! reading every object.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::Stored;

/// Owner uid → the keys of the objects that name it in `ownerReferences`, and back.
#[derive(Debug, Default)]
pub struct OwnerIndex {
    dependents: HashMap<String, BTreeSet<String>>,
    /// Key → the owner uids it names (only objects that name any), so a change or a deletion
    /// finds what to take back without decoding the old object.
    owners_of: HashMap<String, Vec<String>>,
}

/// The owner uids an object names.
pub fn owner_uids(value: &Value) -> impl Iterator<Item = &str> {
    value
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("uid").and_then(Value::as_str))
        .filter(|uid| !uid.is_empty())
}

/// The owner uids a held object names; decoded only when its text mentions any.
fn stored_owner_uids(stored: &Stored) -> Vec<String> {
    if !stored.mentions("ownerReferences") {
        return Vec::new();
    }
    let value = stored.value();
    let mut uids: Vec<String> = owner_uids(&value).map(str::to_owned).collect();
    uids.sort_unstable();
    uids.dedup();
    uids
}

impl OwnerIndex {
    /// The object at `key` is now `new` (`None`: deleted).
    pub fn update(&mut self, key: &str, new: Option<&Stored>) {
        let uids = new.map(stored_owner_uids).unwrap_or_default();
        if let Some(old) = self.owners_of.remove(key) {
            for uid in old {
                if let Some(set) = self.dependents.get_mut(&uid) {
                    set.remove(key);
                    if set.is_empty() {
                        self.dependents.remove(&uid);
                    }
                }
            }
        }
        if uids.is_empty() {
            return;
        }
        for uid in &uids {
            self.dependents.entry(uid.clone()).or_default().insert(key.to_owned());
        }
        self.owners_of.insert(key.to_owned(), uids);
    }

    /// The keys of the objects that name `owner_uid` as an owner, in key order.
    pub fn dependents(&self, owner_uid: &str) -> Vec<String> {
        self.dependents.get(owner_uid).map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn owned_by(uids: &[&str]) -> Stored {
        let refs: Vec<Value> = uids.iter().map(|u| json!({"uid": u, "kind": "ConfigMap", "name": "x"})).collect();
        let secrets = crate::api::resources::by_kind("", "Secret").unwrap();
        Stored::new(secrets, json!({"metadata": {"ownerReferences": refs}}), 1)
    }

    #[test]
    fn dependents_follow_every_change_of_their_references() {
        let mut index = OwnerIndex::default();
        index.update("/registry/secrets/a/s1", Some(&owned_by(&["u1", "u2"])));
        index.update("/registry/secrets/a/s2", Some(&owned_by(&["u1"])));
        assert_eq!(index.dependents("u1"), ["/registry/secrets/a/s1", "/registry/secrets/a/s2"]);
        assert_eq!(index.dependents("u2"), ["/registry/secrets/a/s1"]);
        index.update("/registry/secrets/a/s1", Some(&owned_by(&["u2"])));
        assert_eq!(index.dependents("u1"), ["/registry/secrets/a/s2"]);
        index.update("/registry/secrets/a/s2", None);
        assert!(index.dependents("u1").is_empty());
        assert!(!index.dependents.contains_key("u1"), "no empty sets are kept");
        // An object that stops naming owners leaves nothing behind.
        index.update("/registry/secrets/a/s1", Some(&owned_by(&[])));
        assert!(index.dependents.is_empty() && index.owners_of.is_empty());
        assert!(index.dependents("nobody").is_empty());
    }
}
