//! The catalog's lookups, built once: by group, version and plural (every API request routes
//! through it), by group and kind, and by store segment (every write reaching the mirror).
//!
//! A linear scan of the table compared strings against every entry; under a cached GET that was
//! a tenth of the server's time. Each map keeps the first entry of the table for its key, as the
//! scan it replaces did.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::LazyLock;

use super::model::ResourceType;
use super::table::RESOURCES;

// foldhash, randomly seeded per process: the plural and group come from request paths, but the
// maps are fixed at start and hold under a hundred keys, so no input can grow a bucket.
type Map<K> = HashMap<K, &'static ResourceType, foldhash::fast::RandomState>;

fn index<K: std::hash::Hash + Eq>(key: impl Fn(&'static ResourceType) -> Option<K>) -> Map<K> {
    let mut map = Map::default();
    for r in RESOURCES {
        if let Some(k) = key(r) {
            if let Entry::Vacant(v) = map.entry(k) {
                v.insert(r);
            }
        }
    }
    map
}

static BY_PLURAL: LazyLock<Map<(&'static str, &'static str, &'static str)>> =
    LazyLock::new(|| index(|r| Some((r.group, r.version, r.plural))));
static BY_KIND: LazyLock<Map<(&'static str, &'static str)>> =
    LazyLock::new(|| index(|r| r.stored.then_some((r.group, r.kind))));
static BY_STORE: LazyLock<Map<&'static str>> = LazyLock::new(|| index(|r| r.stored.then_some(r.store)));

pub(super) fn by_plural(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    // The maps are covariant in their key: a map of `'static` keys is one of shorter-lived keys.
    let map: &Map<(&str, &str, &str)> = &BY_PLURAL;
    map.get(&(group, version, plural)).copied()
}

pub(super) fn by_kind(group: &str, kind: &str) -> Option<&'static ResourceType> {
    let map: &Map<(&str, &str)> = &BY_KIND;
    map.get(&(group, kind)).copied()
}

pub(super) fn by_store(segment: &str) -> Option<&'static ResourceType> {
    BY_STORE.get(segment).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lookup_answers_as_a_scan_of_the_table_would() {
        for r in RESOURCES {
            let scan = RESOURCES.iter().find(|s| s.group == r.group && s.version == r.version && s.plural == r.plural);
            assert_eq!(by_plural(r.group, r.version, r.plural), scan, "{}/{}/{}", r.group, r.version, r.plural);
            let scan = RESOURCES.iter().find(|s| s.group == r.group && s.kind == r.kind && s.stored);
            assert_eq!(by_kind(r.group, r.kind), scan, "{}/{}/{}", r.group, r.version, r.plural);
            let scan = RESOURCES.iter().find(|s| s.store == r.store && s.stored);
            assert_eq!(by_store(r.store), scan, "{}/{}/{}", r.group, r.version, r.plural);
        }
        assert!(by_plural("", "v1", "serviceaccount").is_none());
        assert!(by_plural("apps", "v1", "serviceaccounts").is_none());
        assert!(by_kind("", "Binding").is_none(), "bindings are not stored");
        assert!(by_store("nosuch").is_none());
    }
}
