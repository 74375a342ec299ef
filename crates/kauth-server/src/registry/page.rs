//! One page of a list, read from the mirror at the latest revision or at an earlier one.
//!
//! The mirror holds only the latest state. An earlier state is the latest one with the
//! changes since undone: the first event after the revision of each changed key carries the
//! object as it was (`previous`; none for a create). The change feed's history bounds how far
//! back this reaches, as etcd's compaction bounds kube-apiserver: older than that, the list
//! is `410 Expired`.

use std::collections::BTreeMap;
use std::iter::Peekable;
use std::sync::Arc;

use super::events::{Event, TooOld};
use super::stored::Stored;

/// A page.
#[derive(Debug)]
pub struct Page {
    /// The items, in key order.
    pub items: Vec<Arc<Stored>>,
    /// The revision the page was read at.
    pub revision: u64,
    /// When more keys follow: the last key looked at (the next page starts after it).
    pub last_key: Option<String>,
    /// When more keys follow and the count was asked for: how many.
    pub remaining: Option<u64>,
}

/// A page of a revision the registry cannot read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageError {
    /// Older than the change history reaches.
    TooOld(TooOld),
    /// Newer than the mirror holds.
    Future {
        /// The revision asked for.
        requested: u64,
        /// The mirror's.
        current: u64,
    },
}

/// The keys under `prefix` from `start` (inclusive) as they were before `changes` (events
/// newer than the revision read, oldest first), in key order.
pub fn state_before<'a>(
    objects: &'a BTreeMap<String, Arc<Stored>>,
    changes: &'a [Arc<Event>],
    prefix: &'a str,
    start: &'a str,
) -> impl Iterator<Item = (&'a str, &'a Arc<Stored>)> + 'a {
    let mut undone: BTreeMap<&'a str, Option<&'a Arc<Stored>>> = BTreeMap::new();
    for e in changes.iter().filter(|e| e.key.starts_with(prefix) && e.key.as_str() >= start) {
        undone.entry(e.key.as_str()).or_insert(e.previous.as_ref());
    }
    let latest = objects
        .range::<str, _>((std::ops::Bound::Included(start), std::ops::Bound::Unbounded))
        .take_while(move |(k, _)| k.starts_with(prefix));
    Merge { latest: latest.map(|(k, v)| (k.as_str(), v)).peekable(), undone: undone.into_iter().peekable() }
}

/// The latest objects, with the undone keys' earlier states in their place.
struct Merge<'a, L: Iterator<Item = (&'a str, &'a Arc<Stored>)>> {
    latest: Peekable<L>,
    undone: Peekable<std::collections::btree_map::IntoIter<&'a str, Option<&'a Arc<Stored>>>>,
}

impl<'a, L: Iterator<Item = (&'a str, &'a Arc<Stored>)>> Iterator for Merge<'a, L> {
    type Item = (&'a str, &'a Arc<Stored>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let next_latest = self.latest.peek().map(|(k, _)| *k);
            let next_undone = self.undone.peek().map(|(k, _)| *k);
            match (next_latest, next_undone) {
                (None, None) => return None,
                (Some(l), Some(u)) if u <= l => {
                    if u == l {
                        self.latest.next();
                    }
                    if let Some((k, Some(v))) = self.undone.next() {
                        return Some((k, v));
                    }
                }
                (Some(_), _) => return self.latest.next(),
                (None, Some(_)) => {
                    if let Some((k, Some(v))) = self.undone.next() {
                        return Some((k, v));
                    }
                }
            }
        }
    }
}

/// Takes a page from `keys` as kube-apiserver's etcd3 store does: up to `limit` matching
/// items; more follow when any key (matching or not) is left after the last one looked at.
/// `count_remaining` asks for how many (kube-apiserver counts only for lists without
/// selectors, where every key is an item).
pub fn take<'a>(
    keys: impl Iterator<Item = (&'a str, &'a Arc<Stored>)>,
    revision: u64,
    limit: Option<usize>,
    matches: impl Fn(&Stored) -> bool,
    count_remaining: bool,
) -> Page {
    let mut items = Vec::new();
    let mut last_key = None;
    let mut keys = keys.peekable();
    for (key, object) in keys.by_ref() {
        if matches(object) {
            items.push(object.clone());
        }
        if limit.is_some_and(|l| items.len() >= l) {
            last_key = Some(key);
            break;
        }
    }
    let more = last_key.is_some() && keys.peek().is_some();
    let remaining = (more && count_remaining).then(|| keys.count() as u64);
    Page { items, revision, last_key: last_key.filter(|_| more).map(str::to_owned), remaining }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::registry::events::EventKind;

    fn stored(name: &str, rev: u64) -> Arc<Stored> {
        let sa = crate::api::resources::by_kind("", "ServiceAccount").expect("a kind of the table");
        Arc::new(Stored::new(sa, json!({"metadata": {"name": name}}), rev))
    }

    fn key(name: &str) -> String {
        format!("/registry/serviceaccounts/ns/{name}")
    }

    fn event(kind: EventKind, name: &str, rev: u64, previous: Option<Arc<Stored>>) -> Arc<Event> {
        let rt = crate::api::resources::by_kind("", "ServiceAccount").unwrap();
        Arc::new(Event { kind, resource: rt, key: key(name), object: stored(name, rev), previous })
    }

    fn names<'a>(it: impl Iterator<Item = (&'a str, &'a Arc<Stored>)>) -> Vec<(String, u64)> {
        it.map(|(k, v)| (k.rsplit('/').next().unwrap().to_owned(), v.revision)).collect()
    }

    #[test]
    fn an_earlier_state_is_the_latest_with_later_changes_undone() {
        // At revision 3: a@1, b@2, c@3. Then: d added (4), b modified (5), a deleted (6),
        // b modified again (7), e added then deleted (8, 9).
        let mut latest = BTreeMap::new();
        latest.insert(key("b"), stored("b", 7));
        latest.insert(key("c"), stored("c", 3));
        latest.insert(key("d"), stored("d", 4));
        latest.insert(key("other"), stored("other", 2));
        let changes = vec![
            event(EventKind::Added, "d", 4, None),
            event(EventKind::Modified, "b", 5, Some(stored("b", 2))),
            event(EventKind::Deleted, "a", 6, Some(stored("a", 1))),
            event(EventKind::Modified, "b", 7, Some(stored("b", 5))),
            event(EventKind::Added, "e", 8, None),
            event(EventKind::Deleted, "e", 9, Some(stored("e", 8))),
        ];
        let prefix = "/registry/serviceaccounts/ns/";
        let at3 = names(state_before(&latest, &changes, prefix, prefix));
        assert_eq!(at3, [("a".into(), 1), ("b".into(), 2), ("c".into(), 3), ("other".into(), 2)]);
        // From the middle, as a continued page reads.
        let from = format!("{}\0", key("a"));
        assert_eq!(names(state_before(&latest, &changes, prefix, &from))[0], ("b".into(), 2));
        // At revision 5: only what came after 5 is undone.
        let at5 = names(state_before(&latest, &changes[2..], prefix, prefix));
        assert_eq!(at5, [("a".into(), 1), ("b".into(), 5), ("c".into(), 3), ("d".into(), 4), ("other".into(), 2)]);
        // Nothing undone: the latest state.
        assert_eq!(names(state_before(&latest, &[], prefix, prefix)).len(), 4);
    }

    #[test]
    fn a_page_ends_where_its_last_item_is_and_counts_what_follows() {
        let mut latest = BTreeMap::new();
        for (i, n) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            latest.insert(key(n), stored(n, i as u64 + 1));
        }
        let prefix = "/registry/serviceaccounts/ns/";
        let all = || state_before(&latest, &[], prefix, prefix);
        let page = take(all(), 9, Some(2), |_| true, true);
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.last_key.as_deref(), Some(key("b").as_str()));
        assert_eq!(page.remaining, Some(3));
        // Exactly filled at the end: nothing follows, no token.
        let page = take(all(), 9, Some(5), |_| true, true);
        assert_eq!((page.items.len(), page.last_key, page.remaining), (5, None, None));
        // Filtered: the page fills from later keys; a key left after it means more, even if
        // it does not match (kube-apiserver then returns an empty last page).
        let odd = |s: &Stored| s.revision % 2 == 1;
        let page = take(all(), 9, Some(2), odd, false);
        assert_eq!(page.items.iter().map(|s| s.revision).collect::<Vec<_>>(), [1, 3]);
        assert_eq!((page.last_key.as_deref(), page.remaining), (Some(key("c").as_str()), None));
        let page = take(all(), 9, Some(3), odd, false);
        assert_eq!((page.items.len(), page.last_key), (3, None));
        // No limit: everything.
        assert_eq!(take(all(), 9, None, |_| true, true).items.len(), 5);
    }
}
