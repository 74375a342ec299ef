//! The registry's change feed: every committed change as an event, kept in a bounded history and
//! broadcast to live watchers.
//!
//! This is kauth's counterpart of kube-apiserver's watch cache. A watch that starts from a
//! resourceVersion replays the history after it, then follows the broadcast; one that asks for a
//! revision older than the history holds is told so (`410 Expired`, "too old resource
//! version"), and the client lists again. History and subscription are taken under one lock, so
//! a watcher neither misses nor repeats an event between the two.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use super::stored::Stored;
use crate::api::resources::ResourceType;

/// How many events the history keeps (kube-apiserver sizes its watch cache per resource, from
/// 100 up to a few thousand events; one shared history of this size covers a few minutes of a
/// busy kauth).
pub const HISTORY: usize = 10_000;

/// How many events a live watcher may fall behind before it is cut off (it then resumes from
/// its last resourceVersion, which the history still holds unless it fell very far behind).
const BROADCAST_CAPACITY: usize = 4096;

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Created.
    Added,
    /// Replaced.
    Modified,
    /// Deleted.
    Deleted,
}

impl EventKind {
    /// The watch event type on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Added => "ADDED",
            EventKind::Modified => "MODIFIED",
            EventKind::Deleted => "DELETED",
        }
    }
}

/// One committed change of one object.
#[derive(Debug, Clone)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The object's resource.
    pub resource: &'static ResourceType,
    /// Its storage key.
    pub key: String,
    /// The object after the change; for a delete, its last state with the delete's
    /// resourceVersion (as kube-apiserver sends it).
    pub object: Arc<Stored>,
    /// The object before the change (updates and deletes), for selector transitions.
    pub previous: Option<Arc<Stored>>,
}

impl Event {
    /// The revision the change was committed at.
    pub fn revision(&self) -> u64 {
        self.object.revision
    }
}

/// Where a new watch starts.
#[derive(Debug)]
pub struct Subscription {
    /// Events after the requested revision, oldest first.
    pub replay: Vec<Arc<Event>>,
    /// Every later event.
    pub live: broadcast::Receiver<Arc<Event>>,
}

/// A watch asked for a revision the history no longer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooOld {
    /// The revision asked for.
    pub requested: u64,
    /// The oldest revision a watch can start from now.
    pub oldest: u64,
}

impl std::fmt::Display for TooOld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // kube-apiserver's text (storage/cacher/watch_cache.go).
        write!(f, "too old resource version: {} ({})", self.requested, self.oldest)
    }
}

struct Inner {
    history: VecDeque<Arc<Event>>,
    /// A watch may start from this revision or later (the store's revision when the feed began,
    /// then the revision before the oldest event still held).
    floor: u64,
    sender: broadcast::Sender<Arc<Event>>,
}

/// The feed. Shared by the registry (which publishes) and the watch handlers (which subscribe).
pub struct EventFeed {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl std::fmt::Debug for EventFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventFeed").field("capacity", &self.capacity).finish_non_exhaustive()
    }
}

impl EventFeed {
    /// A feed starting at `revision`, holding at most `capacity` events.
    pub fn new(revision: u64, capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(BROADCAST_CAPACITY);
        EventFeed {
            inner: Mutex::new(Inner { history: VecDeque::new(), floor: revision, sender }),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes the events of one commit, in order.
    pub fn publish(&self, events: impl IntoIterator<Item = Event>) {
        let mut inner = self.lock();
        for e in events {
            let e = Arc::new(e);
            if inner.history.len() == self.capacity {
                if let Some(dropped) = inner.history.pop_front() {
                    inner.floor = dropped.revision();
                }
            }
            inner.history.push_back(e.clone());
            // No receivers is fine: nobody is watching.
            let _ = inner.sender.send(e);
        }
    }

    /// Subscribes from `after`: the held events with a later revision, then the live ones.
    pub fn subscribe_after(&self, after: u64) -> Result<Subscription, TooOld> {
        let inner = self.lock();
        if after < inner.floor {
            return Err(TooOld { requested: after, oldest: inner.floor });
        }
        let start = inner.history.partition_point(|e| e.revision() <= after);
        let replay = inner.history.range(start..).cloned().collect();
        Ok(Subscription { replay, live: inner.sender.subscribe() })
    }

    /// The held events after `after`, oldest first: what a list reads to see the objects as
    /// they were at `after` (kauth's counterpart of reading etcd at an old revision).
    pub fn events_after(&self, after: u64) -> Result<Vec<Arc<Event>>, TooOld> {
        let inner = self.lock();
        if after < inner.floor {
            return Err(TooOld { requested: after, oldest: inner.floor });
        }
        let start = inner.history.partition_point(|e| e.revision() <= after);
        Ok(inner.history.range(start..).cloned().collect())
    }

    /// Subscribes to live events only; `snapshot` runs under the feed's lock, so what it reads
    /// and the first live event meet without a gap (the registry reads its objects there).
    pub fn subscribe_with<T>(&self, snapshot: impl FnOnce() -> T) -> (T, broadcast::Receiver<Arc<Event>>) {
        let inner = self.lock();
        let t = snapshot();
        (t, inner.sender.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(rev: u64) -> Event {
        let rt = crate::api::resources::by_kind("", "ServiceAccount").unwrap();
        Event {
            kind: EventKind::Added,
            resource: rt,
            key: format!("/registry/serviceaccounts/ns/sa-{rev}"),
            object: Arc::new(Stored::new(rt, json!({}), rev)),
            previous: None,
        }
    }

    #[test]
    fn replays_after_the_requested_revision_then_follows_live() {
        let feed = EventFeed::new(10, 100);
        feed.publish([event(11), event(12)]);
        feed.publish([event(13)]);
        let mut sub = feed.subscribe_after(11).unwrap();
        assert_eq!(sub.replay.iter().map(|e| e.revision()).collect::<Vec<_>>(), [12, 13]);
        assert!(feed.subscribe_after(13).unwrap().replay.is_empty());
        feed.publish([event(14)]);
        assert_eq!(sub.live.try_recv().unwrap().revision(), 14);
        assert!(sub.live.try_recv().is_err());
    }

    #[test]
    fn a_revision_older_than_the_history_is_too_old() {
        let feed = EventFeed::new(10, 2);
        // The feed began at 10: a watch from 10 sees everything after it.
        assert!(feed.subscribe_after(10).is_ok());
        assert_eq!(feed.subscribe_after(9).unwrap_err(), TooOld { requested: 9, oldest: 10 });
        feed.publish([event(11), event(12), event(13)]);
        // 11 fell out: a watch must start at 11 or later to miss nothing.
        assert_eq!(feed.subscribe_after(10).unwrap_err(), TooOld { requested: 10, oldest: 11 });
        assert_eq!(feed.subscribe_after(10).unwrap_err().to_string(), "too old resource version: 10 (11)");
        let sub = feed.subscribe_after(11).unwrap();
        assert_eq!(sub.replay.iter().map(|e| e.revision()).collect::<Vec<_>>(), [12, 13]);
    }
}
