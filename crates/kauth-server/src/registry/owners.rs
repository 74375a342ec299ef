//! Who owns whom: every stored object's `metadata.ownerReferences`, indexed by the owner's uid,
//! kept in step with the mirror, so the garbage collector finds an owner's dependents without
//! reading every object.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

/// Owner uid → the keys of the objects that name it in `ownerReferences`.
#[derive(Debug, Default)]
pub struct OwnerIndex {
    dependents: HashMap<String, BTreeSet<String>>,
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

impl OwnerIndex {
    /// The object at `key` changed from `old` to `new` (`None`: absent).
    pub fn update(&mut self, key: &str, old: Option<&Value>, new: Option<&Value>) {
        if let Some(old) = old {
            for uid in owner_uids(old) {
                if let Some(set) = self.dependents.get_mut(uid) {
                    set.remove(key);
                    if set.is_empty() {
                        self.dependents.remove(uid);
                    }
                }
            }
        }
        if let Some(new) = new {
            for uid in owner_uids(new) {
                self.dependents.entry(uid.to_owned()).or_default().insert(key.to_owned());
            }
        }
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

    fn owned_by(uids: &[&str]) -> Value {
        let refs: Vec<Value> = uids.iter().map(|u| json!({"uid": u, "kind": "ConfigMap", "name": "x"})).collect();
        json!({"metadata": {"ownerReferences": refs}})
    }

    #[test]
    fn dependents_follow_every_change_of_their_references() {
        let mut index = OwnerIndex::default();
        index.update("/registry/secrets/a/s1", None, Some(&owned_by(&["u1", "u2"])));
        index.update("/registry/secrets/a/s2", None, Some(&owned_by(&["u1"])));
        assert_eq!(index.dependents("u1"), ["/registry/secrets/a/s1", "/registry/secrets/a/s2"]);
        assert_eq!(index.dependents("u2"), ["/registry/secrets/a/s1"]);
        index.update("/registry/secrets/a/s1", Some(&owned_by(&["u1", "u2"])), Some(&owned_by(&["u2"])));
        assert_eq!(index.dependents("u1"), ["/registry/secrets/a/s2"]);
        index.update("/registry/secrets/a/s2", Some(&owned_by(&["u1"])), None);
        assert!(index.dependents("u1").is_empty());
        assert!(!index.dependents.contains_key("u1"), "no empty sets are kept");
        assert!(index.dependents("nobody").is_empty());
    }
}
