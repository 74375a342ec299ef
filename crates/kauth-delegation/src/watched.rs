//! Copies of the cluster's lists kept by list and watch, as client-go's reflector keeps an
//! informer's store: each list is read in pages (`limit`, `continue`), then watched from the
//! list's `resourceVersion`; every event is applied as it comes, and the owner is told so it can
//! rebuild what it derives from the copy (an RBAC index, a map of object states). A watch that
//! ends (the server's `timeoutSeconds`) is started again from the last version seen; one the
//! server refuses with 410 Gone (its history was compacted) starts over with a list.
//!
//! **How old a copy is.** While every list's watch is open the copy is current (age 0). When a
//! watch fails, the copy ages from that moment until a watch is open again; the owner refuses to
//! decide past its maximum age. A connection that died without a word is noticed when its
//! watch outlives the server's `timeoutSeconds` by [`STALL_MARGIN`] (the body read times out).
//!
//! Watching runs on one thread per list: the client is blocking (ureq), and a watch spends its
//! life waiting for the next line.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::cluster::{Cluster, ClusterError};

/// Items per page of a list.
pub const PAGE_SIZE: usize = 500;
/// The `timeoutSeconds` each watch asks for: the server ends it then, and it is started again.
pub const WATCH_SECONDS: u64 = 300;
/// How long past [`WATCH_SECONDS`] a watch may stay silent before its connection counts as dead.
pub const STALL_MARGIN: StdDuration = StdDuration::from_secs(30);
/// The wait before trying again after a failed list or watch, doubled up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: StdDuration = StdDuration::from_millis(500);
/// The longest wait between attempts.
pub const MAX_BACKOFF: StdDuration = StdDuration::from_secs(30);

/// One list's copy.
#[derive(Debug, Default)]
struct Store {
    /// The items by `namespace/name`.
    items: BTreeMap<String, Value>,
    /// The version the copy is at: a watch resumes from it.
    resource_version: String,
    /// The list's `kind` and `apiVersion`, as the server gave them (its items carry none).
    kind: (Value, Value),
    /// Whether the copy is current.
    sync: Current,
}

/// Whether a list's copy is current.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Current {
    /// Never listed.
    #[default]
    Never,
    /// Listed, and its watch is open.
    Watching,
    /// Listed, but its watch failed at this moment; not current since.
    Lost(OffsetDateTime),
}

/// The lists a watch event or a page changed.
pub type OnChange = Arc<dyn Fn() + Send + Sync>;

/// Several lists of one cluster, each copied by list and watch.
pub struct Watched {
    cluster: Cluster,
    paths: Vec<&'static str>,
    stores: Mutex<Vec<Store>>,
    clock: fn() -> OffsetDateTime,
}

impl std::fmt::Debug for Watched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Watched({:?}, {:?})", self.cluster, self.paths)
    }
}

/// How a watch ended.
#[derive(Debug)]
enum Ended {
    /// The server closed it (its timeout): start again from the last version.
    Closed,
    /// 410 Gone: the version is too old; list again.
    Gone,
}

impl Watched {
    /// Copies of `paths` (list URLs: `/api/v1/pods`, or with a selector:
    /// `/api/v1/namespaces/ns/configmaps?fieldSelector=metadata.name%3Dx`) of `cluster`; empty
    /// until listed.
    pub fn new(cluster: Cluster, paths: Vec<&'static str>) -> Arc<Self> {
        let stores = paths.iter().map(|_| Store::default()).collect();
        Arc::new(Watched { cluster, paths, stores: Mutex::new(stores), clock: OffsetDateTime::now_utc })
    }

    /// The cluster copied.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Lists every path now, replacing each copy; how many objects the copies hold.
    pub fn list_all(&self) -> Result<usize, ClusterError> {
        for i in 0..self.paths.len() {
            self.list(i)?;
        }
        Ok(self.objects())
    }

    /// Watches every path on its own thread, forever, calling `changed` after each change to
    /// the copies (a list replaced, an event applied). Lists a path first when it never was.
    pub fn spawn(self: &Arc<Self>, changed: OnChange) {
        for i in 0..self.paths.len() {
            let (me, changed) = (self.clone(), changed.clone());
            let name = format!("watch {}", self.paths[i]);
            let spawned = std::thread::Builder::new().name(name).spawn(move || me.follow(i, changed));
            if let Err(e) = spawned {
                tracing::warn!(path = self.paths[i], "cannot start the watch thread: {e}");
            }
        }
    }

    /// The items of path `i` (in the order given to [`Watched::new`]), as a list object.
    pub fn list_object(&self, i: usize) -> Value {
        let stores = self.stores.lock().unwrap_or_else(|p| p.into_inner());
        let Some(store) = stores.get(i) else { return serde_json::json!({ "items": [] }) };
        let items: Vec<&Value> = store.items.values().collect();
        serde_json::json!({ "kind": store.kind.0, "apiVersion": store.kind.1, "items": items })
    }

    /// How many objects the copies hold.
    pub fn objects(&self) -> usize {
        self.stores.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|s| s.items.len()).sum()
    }

    /// How old the copies are at `now`: zero while every watch is open, else the time since the
    /// first one still failing failed; `None` while some list was never read.
    pub fn age(&self, now: OffsetDateTime) -> Option<Duration> {
        let stores = self.stores.lock().unwrap_or_else(|p| p.into_inner());
        let mut age = Duration::ZERO;
        for s in stores.iter() {
            match s.sync {
                Current::Never => return None,
                Current::Watching => {}
                Current::Lost(at) => age = age.max(now - at),
            }
        }
        Some(age)
    }

    /// Tests: every list read, its watch lost at `at`.
    #[cfg(test)]
    pub(crate) fn set_sync_for_tests(&self, at: OffsetDateTime) {
        for i in 0..self.paths.len() {
            self.set_sync(i, Current::Watching);
            self.set_sync(i, Current::Lost(at));
        }
    }

    fn set_sync(&self, i: usize, sync: Current) {
        let mut stores = self.stores.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = stores.get_mut(i) {
            // A copy already lost keeps the moment it was lost; one never listed stays so (an
            // empty copy must not decide).
            let keep =
                matches!((s.sync, sync), (Current::Lost(_), Current::Lost(_)) | (Current::Never, Current::Lost(_)));
            if !keep {
                s.sync = sync;
            }
        }
    }

    /// Reads path `i` in pages and replaces its copy.
    fn list(&self, i: usize) -> Result<(), ClusterError> {
        let path = self.paths[i];
        let mut items = BTreeMap::new();
        let mut resource_version = String::new();
        let mut kind = (Value::Null, Value::Null);
        let mut next = String::new();
        loop {
            let mut url = format!("{path}{}limit={PAGE_SIZE}", separator(path));
            if !next.is_empty() {
                url.push_str("&continue=");
                url.push_str(
                    &percent_encoding::utf8_percent_encode(&next, percent_encoding::NON_ALPHANUMERIC).to_string(),
                );
            }
            let page: Value = self.cluster.get(&url, "List")?;
            let metadata = page.get("metadata");
            let text = |k: &str| metadata.and_then(|m| m.get(k)).and_then(Value::as_str).unwrap_or_default().to_owned();
            if resource_version.is_empty() {
                resource_version = text("resourceVersion");
                kind = (
                    page.get("kind").cloned().unwrap_or_default(),
                    page.get("apiVersion").cloned().unwrap_or_default(),
                );
            }
            for item in page.get("items").and_then(Value::as_array).into_iter().flatten() {
                items.insert(key(item), item.clone());
            }
            next = text("continue");
            if next.is_empty() {
                break;
            }
        }
        let mut stores = self.stores.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = stores.get_mut(i) {
            s.items = items;
            s.resource_version = resource_version;
            s.kind = kind;
            if s.sync == Current::Never {
                // Listed: current until a watch says otherwise.
                s.sync = Current::Watching;
            }
        }
        Ok(())
    }

    /// List (when needed) and watch path `i`, forever.
    fn follow(&self, i: usize, changed: OnChange) {
        let path = self.paths[i];
        let mut must_list = self.stores.lock().unwrap_or_else(|p| p.into_inner())[i].sync == Current::Never;
        let mut backoff = FIRST_BACKOFF;
        loop {
            if must_list {
                match self.list(i) {
                    Ok(()) => {
                        must_list = false;
                        changed();
                    }
                    Err(e) => {
                        tracing::warn!(path, "listing failed, the copy ages: {e}");
                        self.set_sync(i, Current::Lost((self.clock)()));
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                }
            }
            match self.watch(i, &changed) {
                Ok(Ended::Closed) => backoff = FIRST_BACKOFF,
                Ok(Ended::Gone) => {
                    tracing::info!(path, "the watched version is gone from the server's history: listing again");
                    must_list = true;
                }
                Err(e) => {
                    tracing::warn!(path, "watching failed, the copy ages: {e}");
                    self.set_sync(i, Current::Lost((self.clock)()));
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// One watch of path `i` from its copy's version, applying each event.
    fn watch(&self, i: usize, changed: &OnChange) -> Result<Ended, ClusterError> {
        let path = self.paths[i];
        let from = self.stores.lock().unwrap_or_else(|p| p.into_inner())[i].resource_version.clone();
        let query = format!(
            "{path}{}watch=true&allowWatchBookmarks=true&timeoutSeconds={WATCH_SECONDS}&resourceVersion={}",
            separator(path),
            percent_encoding::utf8_percent_encode(&from, percent_encoding::NON_ALPHANUMERIC)
        );
        let url = format!("{}{query}", self.cluster.server());
        let reader = self.cluster.stream(&query, StdDuration::from_secs(WATCH_SECONDS) + STALL_MARGIN)?;
        self.set_sync(i, Current::Watching);
        let mut lines = std::io::BufReader::new(reader);
        let mut line = String::new();
        loop {
            line.clear();
            let n = lines.read_line(&mut line).map_err(|e| ClusterError::Unreachable {
                url: url.clone(),
                problem: e.to_string(),
                reset: false,
            })?;
            if n == 0 {
                return Ok(Ended::Closed);
            }
            if line.trim().is_empty() {
                continue;
            }
            let event: Value = serde_json::from_str(&line).map_err(|e| ClusterError::Decode {
                url: url.clone(),
                kind: "watch event",
                problem: e.to_string(),
            })?;
            // The lock is let go before `changed` reads the copy.
            let applied = apply(&mut self.stores.lock().unwrap_or_else(|p| p.into_inner())[i], &event);
            match applied {
                Applied::Changed => changed(),
                Applied::Version => {}
                Applied::Gone => return Ok(Ended::Gone),
                Applied::Error(message) => {
                    return Err(ClusterError::Status { url, status: 500, message, retry_after: None });
                }
            }
        }
    }
}

/// What an event did to a copy.
#[derive(Debug, PartialEq, Eq)]
enum Applied {
    /// An object was added, changed or removed.
    Changed,
    /// Only the version moved (a bookmark).
    Version,
    /// The server's history no longer holds the version watched from.
    Gone,
    /// Another error event.
    Error(String),
}

/// What joins a list path and more query parameters: a path may carry a selector already
/// (`...?fieldSelector=metadata.name%3Dx`).
fn separator(path: &str) -> char {
    if path.contains('?') {
        '&'
    } else {
        '?'
    }
}

/// `namespace/name` of an object.
fn key(object: &Value) -> String {
    let m = object.get("metadata");
    let s = |k: &str| m.and_then(|m| m.get(k)).and_then(Value::as_str).unwrap_or_default();
    format!("{}/{}", s("namespace"), s("name"))
}

/// Applies one watch event (`{"type": ..., "object": ...}`) to `store`.
fn apply(store: &mut Store, event: &Value) -> Applied {
    let object = event.get("object").cloned().unwrap_or(Value::Null);
    let version = object.pointer("/metadata/resourceVersion").and_then(Value::as_str).map(str::to_owned);
    match event.get("type").and_then(Value::as_str).unwrap_or_default() {
        "ADDED" | "MODIFIED" => {
            store.items.insert(key(&object), object);
        }
        "DELETED" => {
            store.items.remove(&key(&object));
        }
        "BOOKMARK" => {
            if let Some(v) = version {
                store.resource_version = v;
            }
            return Applied::Version;
        }
        "ERROR" => {
            let code = object.get("code").and_then(Value::as_u64);
            let message = object.get("message").and_then(Value::as_str).unwrap_or("an error event").to_owned();
            return if code == Some(410) { Applied::Gone } else { Applied::Error(message) };
        }
        other => return Applied::Error(format!("an event of unknown type {other:?}")),
    }
    if let Some(v) = version {
        store.resource_version = v;
    }
    Applied::Changed
}

/// Why a copy `age` old (`None`: never read) may not answer when it may be at most `max_age`
/// old: `never` when it was never read, else that the local copy of `copy` (what it holds) has
/// not been current for longer than allowed. `None` when it may answer.
pub fn too_old(age: Option<Duration>, max_age: Duration, never: &str, copy: &str) -> Option<String> {
    match age {
        None => Some(never.to_owned()),
        Some(age) if age > max_age => Some(format!(
            "the local copy of {copy} has not been current for {} s, more than the allowed {} s",
            age.whole_seconds(),
            max_age.whole_seconds()
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_copy_answers_until_it_is_older_than_allowed() {
        let max = Duration::seconds(60);
        assert_eq!(too_old(None, max, "never read", "RBAC").as_deref(), Some("never read"));
        assert_eq!(too_old(Some(Duration::ZERO), max, "never read", "RBAC"), None);
        assert_eq!(too_old(Some(max), max, "never read", "RBAC"), None, "at the limit it still answers");
        assert_eq!(
            too_old(Some(Duration::seconds(61)), max, "never read", "RBAC").as_deref(),
            Some("the local copy of RBAC has not been current for 61 s, more than the allowed 60 s")
        );
    }

    fn object(ns: &str, name: &str, rv: &str) -> Value {
        json!({"metadata": {"namespace": ns, "name": name, "resourceVersion": rv}})
    }

    #[test]
    fn events_change_the_copy_and_move_its_version() {
        let mut s = Store::default();
        assert_eq!(apply(&mut s, &json!({"type": "ADDED", "object": object("a", "x", "5")})), Applied::Changed);
        assert_eq!(apply(&mut s, &json!({"type": "ADDED", "object": object("", "y", "6")})), Applied::Changed);
        assert_eq!(s.items.keys().collect::<Vec<_>>(), ["/y", "a/x"]);
        assert_eq!(s.resource_version, "6");
        let mut changed = object("a", "x", "7");
        changed["data"] = json!(1);
        assert_eq!(apply(&mut s, &json!({"type": "MODIFIED", "object": changed})), Applied::Changed);
        assert_eq!(s.items["a/x"]["data"], 1);
        assert_eq!(apply(&mut s, &json!({"type": "DELETED", "object": object("", "y", "8")})), Applied::Changed);
        assert_eq!(s.items.len(), 1);
        assert_eq!(
            apply(&mut s, &json!({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "12"}}})),
            Applied::Version
        );
        assert_eq!((s.items.len(), s.resource_version.as_str()), (1, "12"));
    }

    #[test]
    fn a_410_lists_again_and_other_errors_are_failures() {
        let mut s = Store::default();
        let gone = json!({"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old resource version: 1 (5)"}});
        assert_eq!(apply(&mut s, &gone), Applied::Gone);
        let other = json!({"type": "ERROR", "object": {"kind": "Status", "code": 500, "message": "boom"}});
        assert_eq!(apply(&mut s, &other), Applied::Error("boom".into()));
        assert!(matches!(apply(&mut s, &json!({"type": "WHAT"})), Applied::Error(_)));
    }

    #[test]
    fn age_is_zero_while_watching_and_grows_from_the_first_failure() {
        let cluster = Cluster::new(crate::cluster::ClusterSettings {
            server: "https://127.0.0.1:1".into(),
            ca_pem: None,
            client_cert: None,
            bearer: None,
            bearer_file: None,
            timeout: StdDuration::from_secs(1),
        })
        .unwrap();
        let w = Watched::new(cluster, vec!["/a", "/b"]);
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::hours(1);
        assert_eq!(w.age(t0), None, "never listed");
        w.set_sync(0, Current::Lost(t0));
        assert_eq!(w.age(t0), None, "a failed first list leaves the copy unlisted");
        w.set_sync(0, Current::Watching);
        assert_eq!(w.age(t0), None, "one list never read");
        w.set_sync(1, Current::Watching);
        assert_eq!(w.age(t0), Some(Duration::ZERO));
        w.set_sync(1, Current::Lost(t0));
        w.set_sync(1, Current::Lost(t0 + Duration::seconds(20)));
        assert_eq!(w.age(t0 + Duration::seconds(30)), Some(Duration::seconds(30)), "aged from the first failure");
        w.set_sync(1, Current::Watching);
        assert_eq!(w.age(t0 + Duration::seconds(31)), Some(Duration::ZERO));
    }
}
