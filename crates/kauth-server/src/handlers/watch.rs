//! Watches (`?watch=true`, `kubectl get -w`, client-go informers): a stream of
//! `{"type": ..., "object": ...}` lines, one per change, as kube-apiserver sends them.
//!
//! Where a watch starts, as kube-apiserver decides it (`resourceVersion` semantics):
//! - unset or `"0"`: the current objects as `ADDED` events, then every later change;
//! - `N`: every change after revision `N`, replayed from the registry's history; a revision the
//!   history no longer holds gets a single `ERROR` event carrying a `410 Expired` Status ("too
//!   old resource version"), after which clients list again;
//! - `sendInitialEvents=true` (streaming lists): the current objects, then a `BOOKMARK` annotated
//!   `k8s.io/initial-events-end: "true"`, then every later change.
//!
//! Label and field selectors apply to each change: an object that starts to match arrives as
//! `ADDED`, one that stops matching as `DELETED`. A watch ends after `timeoutSeconds` (default: a
//! random 30–60 minutes, kube-apiserver's `--min-request-timeout` rule), when the client goes
//! away, or when the client falls so far behind that the live feed dropped events for it; it then
//! resumes from the last resourceVersion it saw.
//!
//! With `Accept: ...;as=Table` (kubectl), each event carries a one-row Table; only the first has
//! column definitions, as kube-apiserver saves that bandwidth and kubectl reuses the last ones.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use time::OffsetDateTime;
use tokio::sync::{broadcast, mpsc};

use crate::api::request::wants_table;
use crate::api::request::Request;
use crate::api::request_info::ResourceRequest;
use crate::api::resources::scope_namespace;
use crate::api::resources::ResourceType;
use crate::api::response::Response;
use crate::api::selector::Selector;
use crate::api::status::ApiError;
use crate::registry::events::{Event, EventKind};
use crate::registry::Stored;
use crate::state::State;

/// How often a watch that allows bookmarks is sent one (kube-apiserver: about once a minute).
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);

/// The annotation that ends a streaming list's initial events.
pub const INITIAL_EVENTS_END: &str = "k8s.io/initial-events-end";

/// A started watch: what to send first, then the live feed to follow.
pub struct Watch {
    rt: &'static ResourceType,
    prefix: String,
    selector: Selector,
    table: bool,
    /// Whether the next Table sent is the first (and so carries column definitions).
    first_table: bool,
    clock: Arc<dyn Fn() -> OffsetDateTime + Send + Sync>,
    /// Encoded events to send before the live ones.
    initial: Vec<Bytes>,
    /// The live feed; `None` for a watch that only reports an error.
    live: Option<broadcast::Receiver<Arc<Event>>>,
    /// The last revision this watch has covered (for bookmarks).
    revision: u64,
    bookmarks: bool,
    timeout: Duration,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("resource", &self.rt.plural)
            .field("prefix", &self.prefix)
            .field("revision", &self.revision)
            .finish_non_exhaustive()
    }
}

fn flag(req: &Request, name: &str) -> bool {
    req.param(name).is_some_and(|v| v == "true" || v == "1")
}

/// Where the watch starts.
enum Start {
    /// The current objects, as ADDED events.
    Now,
    /// After this revision.
    After(u64),
}

/// Starts a watch on `rt` (the request is authorized for `watch`).
pub fn start(
    state: &State,
    req: &Request,
    info: &ResourceRequest,
    rt: &'static ResourceType,
) -> Result<Response, ApiError> {
    let selector = Selector::from_request(req)?.with_name(&info.name);
    let timeout = match req.param("timeoutSeconds") {
        Some(t) => Duration::from_secs(
            t.parse::<u64>()
                .map_err(|e| ApiError::bad_request(format!("timeoutSeconds: Invalid value: {t:?}: {e}")))?,
        ),
        None => default_timeout(),
    };
    let send_initial = req.param("sendInitialEvents").map(|v| v == "true" || v == "1");
    let rv = req.param("resourceVersion").unwrap_or("");
    let start_at = match (rv, send_initial) {
        (_, Some(true)) => Start::Now,
        ("" | "0", None) => Start::Now,
        ("" | "0", Some(false)) => Start::After(state.registry.list_at(rt, "").1),
        (n, _) => Start::After(
            n.parse::<u64>()
                .map_err(|e| ApiError::bad_request(format!("resourceVersion: Invalid value: {n:?}: {e}")))?,
        ),
    };
    let namespace = scope_namespace(rt, info);
    let mut watch = Watch {
        rt,
        prefix: rt.prefix(namespace),
        selector,
        table: wants_table(req),
        first_table: true,
        clock: state.clock.clone(),
        initial: Vec::new(),
        live: None,
        revision: 0,
        bookmarks: flag(req, "allowWatchBookmarks"),
        timeout,
    };
    match start_at {
        Start::Now => {
            let (items, revision, live) = state.registry.watch_from_now(rt, namespace);
            watch.revision = revision;
            watch.live = Some(live);
            for o in &items {
                if o.selected_by(&watch.selector) {
                    let line = watch.encode(EventKind::Added.as_str(), o);
                    watch.initial.push(line);
                }
            }
            if send_initial == Some(true) {
                let line = watch.bookmark(true);
                watch.initial.push(line);
            }
        }
        Start::After(after) => match state.registry.watch_after(after) {
            Ok(sub) => {
                watch.revision = after;
                for e in &sub.replay {
                    if let Some(line) = watch.translate(e) {
                        watch.initial.push(line);
                    }
                }
                watch.live = Some(sub.live);
            }
            // Past authentication and authorization, kube-apiserver reports this as a watch
            // event, not an HTTP error: the stream opens with one ERROR and ends.
            Err(too_old) => watch.initial.push(line("ERROR", &ApiError::expired(too_old.to_string()).to_status())),
        },
    }
    Ok(Response::watch(watch))
}

/// kube-apiserver's default: `--min-request-timeout` (1800 s) times a random factor in [1, 2),
/// so that watches of many clients do not all end together.
fn default_timeout() -> Duration {
    let mut b = [0u8; 2];
    let jitter = match aws_lc_rs::rand::fill(&mut b) {
        Ok(()) => u64::from(u16::from_le_bytes(b)) * 1800 / 65536,
        Err(_) => 0,
    };
    Duration::from_secs(1800 + jitter)
}

/// One event of a held object, its JSON copied as it is.
fn object_line(kind: &str, object: &Stored) -> Bytes {
    let mut out = Vec::with_capacity(object.item_json().len() + 96);
    out.extend_from_slice(b"{\"type\":");
    // Writing a `str` to a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut out, kind);
    out.extend_from_slice(b",\"object\":");
    object.write_json(&mut out);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut out = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    out.push(b'\n');
    Bytes::from(out)
}

impl crate::api::response::EventSource for Watch {
    fn run(
        self: Box<Self>,
        tx: mpsc::Sender<Bytes>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin((*self).run(tx))
    }
}

impl Watch {
    /// The wire form of one event for this watch, or `None` when the watch does not see it.
    fn translate(&mut self, e: &Event) -> Option<Bytes> {
        self.revision = self.revision.max(e.revision());
        if !e.key.starts_with(&self.prefix) {
            return None;
        }
        let now_in = e.object.selected_by(&self.selector);
        let was_in = e.previous.as_ref().is_some_and(|p| p.selected_by(&self.selector));
        let kind = match (e.kind, was_in, now_in) {
            (EventKind::Added, _, true) => EventKind::Added,
            (EventKind::Modified, true, true) => EventKind::Modified,
            (EventKind::Modified, false, true) => EventKind::Added,
            (EventKind::Modified, true, false) => EventKind::Deleted,
            (EventKind::Deleted, _, true) => EventKind::Deleted,
            _ => return None,
        };
        Some(self.encode(kind.as_str(), &e.object))
    }

    fn encode(&mut self, kind: &str, object: &Arc<Stored>) -> Bytes {
        if !self.table {
            return object_line(kind, object);
        }
        let mut table = super::discovery::table(self.rt, std::slice::from_ref(object), (self.clock)(), None);
        if !std::mem::take(&mut self.first_table) {
            if let Value::Object(m) = &mut table {
                m.insert("columnDefinitions".into(), Value::Array(Vec::new()));
            }
        }
        line(kind, &table)
    }

    fn bookmark(&self, initial_events_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": self.revision.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({INITIAL_EVENTS_END: "true"});
        }
        line("BOOKMARK", &json!({"kind": self.rt.kind, "apiVersion": self.rt.api_version(), "metadata": metadata}))
    }

    /// Sends the events until the watch ends (timeout, client gone, or fallen behind).
    async fn run(mut self, tx: mpsc::Sender<Bytes>) {
        let deadline = tokio::time::sleep(self.timeout);
        tokio::pin!(deadline);
        for chunk in std::mem::take(&mut self.initial) {
            if tx.send(chunk).await.is_err() {
                return;
            }
        }
        let Some(mut live) = self.live.take() else { return };
        let mut bookmarks = tokio::time::interval_at(tokio::time::Instant::now() + BOOKMARK_EVERY, BOOKMARK_EVERY);
        loop {
            let chunk = tokio::select! {
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                _ = bookmarks.tick(), if self.bookmarks => self.bookmark(false),
                event = live.recv() => match event {
                    Ok(e) => match self.translate(&e) {
                        Some(chunk) => chunk,
                        None => continue,
                    },
                    // Lagged: events were dropped for this watcher; ending the watch makes the
                    // client resume from the last resourceVersion it saw, which loses nothing.
                    Err(_) => return,
                },
            };
            if tx.send(chunk).await.is_err() {
                return;
            }
        }
    }
}
