//! The objects kauth serves: durable in the [`Storage`], mirrored in memory for reads.
//!
//! Every write goes through [`Registry::commit`]: it is made durable first, then applied to the
//! in-memory mirror, the RBAC policy and the token-dependency states; readers never see a write
//! the store has not acknowledged. `metadata.resourceVersion` is not stored in values: like
//! kube-apiserver, it is set from the key's revision when an object is read.

mod encoded;
pub mod events;
mod node_graph;
mod owners;
pub mod page;
mod stored;

pub use page::{Page, PageError};
pub use stored::Stored;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, RwLock, Weak};
use std::time::Duration;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kauth::authz::node::NodeGraph;
use kauth::authz::{Attributes, Authorizer, Decision, Explanation, Rules};
use kauth::rbac::RbacIndex;
use kauth::token::validate::{Lookup, LookupError, ObjectState, SecretState, StateRef};
use kauth::user::UserInfo;
use serde_json::Value;

use crate::api::resources::{self, ResourceType};
use crate::api::status::ApiError;
use crate::registry::encoded::Encoded;
use crate::registry::events::{Event, EventFeed, EventKind, Subscription, TooOld};
use crate::store::{KvChange, Storage, StoreError, StoreWatch, Write};

/// One change of a batch.
#[derive(Debug, Clone)]
pub enum Change {
    /// Create an object.
    Create(&'static ResourceType, Value),
    /// Replace an object read at `revision`.
    Update(&'static ResourceType, Value, u64),
    /// Delete an object (at a revision, if given).
    Delete(&'static ResourceType, String, String, Option<u64>),
}

type Hook = Box<dyn Fn() + Send + Sync>;
/// One revision's changes to the mirror: each key with its new object (`None`: deleted).
type Changes = Vec<(String, &'static ResourceType, Option<Arc<Stored>>)>;
type ForeignHook = Box<dyn Fn(&str, &[u8]) + Send + Sync>;

/// The registry. Cheap to share behind an `Arc`.
pub struct Registry {
    storage: Box<dyn Storage>,
    objects: RwLock<BTreeMap<String, Arc<Stored>>>,
    /// The revision the mirror holds; written only under `objects`' write lock, so a reader
    /// holding the read lock sees the revision of exactly what it reads.
    applied: AtomicU64,
    /// Signalled when `applied` grows (a commit waits for its revision on a shared store).
    applied_signal: (Mutex<()>, Condvar),
    /// Embedded store: revisions committed but not yet applied (an earlier one is still on its
    /// way), with their changes. Whoever holds the lock applies every revision next in line.
    pending: Mutex<BTreeMap<u64, Changes>>,
    /// Whether other processes write to the store too: then only the follower applies changes.
    shared: AtomicBool,
    /// Whether the follower is in step with the shared store (false while it is unreachable).
    following: AtomicBool,
    policy: RwLock<RbacIndex>,
    /// The Node authorizer's graph, in step with the pods (written under `objects`' write lock).
    nodes: RwLock<NodeGraph>,
    /// Owner uid → dependents' keys, in step with `objects` (written under its write lock).
    owners: RwLock<owners::OwnerIndex>,
    events: EventFeed,
    on_token_dependency_change: OnceLock<Hook>,
    on_foreign_put: OnceLock<ForeignHook>,
}

/// How long a commit on a shared store waits to see its own revision applied.
const READ_YOUR_WRITES: Duration = Duration::from_secs(10);

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

fn storage_error(rt: &ResourceType, name: &str, e: StoreError) -> ApiError {
    match e {
        StoreError::Exists { .. } => ApiError::already_exists(rt.group, rt.plural, name),
        StoreError::NotFound { .. } => ApiError::not_found(rt.group, rt.plural, name),
        StoreError::Conflict { .. } => ApiError::conflict(rt.group, rt.plural, name),
        StoreError::Backend(m) => ApiError::unavailable(m),
    }
}

impl Registry {
    /// Loads every object from `storage`.
    pub fn open(storage: Box<dyn Storage>) -> Result<Self, StoreError> {
        let mut objects = BTreeMap::new();
        let mut policy = RbacIndex::new();
        let mut owners = owners::OwnerIndex::default();
        let mut nodes = NodeGraph::new();
        let revision = storage.scan("/registry/", &mut |kv| {
            // kauth's own records (key ring, replica heartbeats) are read from the store.
            let Some(rt) = resources::by_key(&kv.key) else { return Ok(()) };
            let value: Value = serde_json::from_slice(&kv.value)
                .map_err(|e| StoreError::Backend(format!("{}: stored object is not JSON: {e}", kv.key)))?;
            let stored = Arc::new(Stored::new(rt, value, kv.mod_revision));
            apply_policy(&mut policy, &kv.key, Some(&stored));
            owners.update(&kv.key, Some(&stored));
            node_graph::apply_node_graph(&mut nodes, &kv.key, Some(&stored));
            objects.insert(kv.key, stored);
            Ok(())
        })?;
        Ok(Registry {
            storage,
            objects: RwLock::new(objects),
            applied: AtomicU64::new(revision),
            applied_signal: (Mutex::new(()), Condvar::new()),
            pending: Mutex::new(BTreeMap::new()),
            shared: AtomicBool::new(false),
            following: AtomicBool::new(true),
            policy: RwLock::new(policy),
            nodes: RwLock::new(nodes),
            owners: RwLock::new(owners),
            events: EventFeed::new(revision, crate::registry::events::HISTORY),
            on_token_dependency_change: OnceLock::new(),
            on_foreign_put: OnceLock::new(),
        })
    }

    /// Sets what runs when an object tokens depend on changes (the token cache's invalidation).
    pub fn on_token_dependency_change(&self, hook: impl Fn() + Send + Sync + 'static) {
        let _ = self.on_token_dependency_change.set(Box::new(hook));
    }

    /// Sets what sees writes, made through the shared store by any replica, to keys outside
    /// every Kubernetes resource (replica heartbeats); called on the follower thread.
    pub fn on_foreign_put(&self, hook: impl Fn(&str, &[u8]) + Send + Sync + 'static) {
        let _ = self.on_foreign_put.set(Box::new(hook));
    }

    /// Reads one of kauth's own records outside the Kubernetes resources, from the store.
    pub fn get_raw(&self, key: &str) -> Result<Option<crate::store::KeyValue>, StoreError> {
        self.storage.get(key)
    }

    /// Creates one of kauth's own records; fails if it exists.
    pub fn create_raw(&self, key: &str, value: &[u8]) -> Result<u64, StoreError> {
        self.storage.create(key, value).inspect(|r| self.sequence_raw(*r))
    }

    /// Replaces one of kauth's own records if it is still at `expected`.
    pub fn update_raw(&self, key: &str, value: &[u8], expected: u64) -> Result<u64, StoreError> {
        self.storage.update(key, value, expected).inspect(|r| self.sequence_raw(*r))
    }

    /// On the embedded store, moves the mirror past a raw write's revision in turn (it holds no
    /// object), so that the commits after it are applied.
    fn sequence_raw(&self, revision: u64) {
        if !self.shared.load(Ordering::SeqCst) {
            self.apply_in_turn(revision, Vec::new());
        }
    }

    /// Writes `value` at `key`, whatever was there: for kauth's own records outside the
    /// Kubernetes resources (replica heartbeats), never for objects.
    pub fn put_raw(&self, key: &str, value: &[u8]) -> Result<u64, StoreError> {
        let mut last = None;
        for _ in 0..3 {
            let write = match self.storage.get(key)? {
                Some(kv) => Write::Update { key: key.to_owned(), value: value.to_vec(), expected: kv.mod_revision },
                None => Write::Create { key: key.to_owned(), value: value.to_vec() },
            };
            match self.storage.commit(&[write]) {
                Err(e @ (StoreError::Conflict { .. } | StoreError::Exists { .. } | StoreError::NotFound { .. })) => {
                    last = Some(e)
                }
                other => return other.inspect(|r| self.sequence_raw(*r)),
            }
        }
        Err(last.unwrap_or_else(|| StoreError::Backend("put_raw: no attempt".into())))
    }

    /// The store's revision.
    pub fn revision(&self) -> Result<u64, ApiError> {
        self.storage.revision().map_err(|e| ApiError::unavailable(e.to_string()))
    }

    /// One object.
    pub fn get(&self, rt: &ResourceType, namespace: &str, name: &str) -> Option<Arc<Stored>> {
        self.read().get(&rt.key(namespace, name)).cloned()
    }

    /// The objects that name `owner_uid` in their `ownerReferences`, with their types, in key
    /// order.
    pub fn dependents(&self, owner_uid: &str) -> Vec<(&'static ResourceType, Arc<Stored>)> {
        let objects = self.read();
        let keys = self.owners.read().unwrap_or_else(|p| p.into_inner()).dependents(owner_uid);
        keys.iter().filter_map(|k| Some((resources::by_key(k)?, objects.get(k)?.clone()))).collect()
    }

    /// Objects of `rt` in `namespace` (all namespaces when empty), in key order.
    pub fn list(&self, rt: &ResourceType, namespace: &str) -> Vec<Arc<Stored>> {
        self.list_at(rt, namespace).0
    }

    /// [`Registry::list`] and the revision it was read at: a watch from that revision misses
    /// nothing and repeats nothing.
    pub fn list_at(&self, rt: &ResourceType, namespace: &str) -> (Vec<Arc<Stored>>, u64) {
        let objects = self.read();
        (in_prefix(&objects, &rt.prefix(namespace)), self.applied.load(Ordering::SeqCst))
    }

    /// One page of the objects under `prefix` from key `start` (inclusive), as they were at
    /// `revision` (the latest when `None` or not older): up to `limit` of those `matches`
    /// accepts; a revision the history or the mirror do not reach is a [`PageError`].
    pub fn list_page(
        &self,
        prefix: &str,
        start: &str,
        revision: Option<u64>,
        limit: Option<usize>,
        matches: impl Fn(&Stored) -> bool,
        count_remaining: bool,
    ) -> Result<Page, PageError> {
        let objects = self.read();
        let current = self.applied.load(Ordering::SeqCst);
        let at = revision.unwrap_or(current);
        if at > current {
            return Err(PageError::Future { requested: at, current });
        }
        // Taken under the mirror's read lock: no revision is applied meanwhile, so the
        // history and the mirror meet exactly.
        let changes = if at < current { self.events.events_after(at).map_err(PageError::TooOld)? } else { Vec::new() };
        let keys = page::state_before(&objects, &changes, prefix, start);
        Ok(page::take(keys, at, limit, matches, count_remaining))
    }

    /// Waits (up to `timeout`) until the mirror holds `revision`; false if it still does not.
    pub fn wait_for_revision(&self, revision: u64, timeout: Duration) -> bool {
        self.applied_revision() >= revision || self.wait_applied(revision, timeout)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Stored>>> {
        self.objects.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `changes` atomically; returns the new objects (`None` for deletes) in order.
    ///
    /// On the embedded store, concurrent commits reach the store together (it makes them
    /// durable in one transaction) and are applied to the mirror in revision order. On a
    /// shared store (etcd) they go to it as they come, each its own transaction: etcd batches
    /// the transactions that arrive together into one raft round and one fsync of its log (its
    /// own group commit), and the follower applies them in revision order. Each waits to see
    /// its revision applied, so a client reads its own write from this replica.
    pub fn commit(&self, changes: Vec<Change>) -> Result<Vec<Option<Arc<Stored>>>, ApiError> {
        let shared = self.shared.load(Ordering::SeqCst);
        let mut writes = Vec::with_capacity(changes.len());
        let mut keys = Vec::with_capacity(changes.len());
        for c in changes {
            match c {
                // Serialized once: the store's bytes (without `resourceVersion`, the key's
                // revision being the object's) and, once committed, the mirror's text.
                Change::Create(rt, v) => {
                    let key = rt.key(resources::meta_str(&v, "namespace"), resources::meta_str(&v, "name"));
                    let name = resources::meta_str(&v, "name").to_owned();
                    let encoded = Encoded::new(v);
                    writes.push(Write::Create { key: key.clone(), value: encoded.store_bytes() });
                    keys.push((key, Some(encoded), rt, name));
                }
                Change::Update(rt, v, rev) => {
                    let key = rt.key(resources::meta_str(&v, "namespace"), resources::meta_str(&v, "name"));
                    let name = resources::meta_str(&v, "name").to_owned();
                    let encoded = Encoded::new(v);
                    writes.push(Write::Update { key: key.clone(), value: encoded.store_bytes(), expected: rev });
                    keys.push((key, Some(encoded), rt, name));
                }
                Change::Delete(rt, ns, name, rev) => {
                    let key = rt.key(&ns, &name);
                    writes.push(Write::Delete { key: key.clone(), expected: rev });
                    keys.push((key, None, rt, name));
                }
            }
        }
        let committed = self.storage.commit(&writes);
        if let (true, Err(StoreError::Conflict { actual, .. })) = (shared, &committed) {
            // Another writer (perhaps a commit of this replica that etcd ordered first) changed
            // the key; the follower may not have applied it yet. Wait until it has, so that the
            // caller's retry (a patch retries a conflict at once) reads the object it lost to.
            self.wait_applied(*actual, READ_YOUR_WRITES);
        }
        let revision = committed.map_err(|e| {
            let failed = match &e {
                StoreError::Exists { key } | StoreError::NotFound { key } | StoreError::Conflict { key, .. } => {
                    keys.iter().find(|(k, ..)| k == key)
                }
                StoreError::Backend(_) => None,
            };
            match failed {
                Some((_, _, rt, name)) => storage_error(rt, name, e),
                None => ApiError::unavailable(e.to_string()),
            }
        })?;
        let mut out: Vec<Option<Arc<Stored>>> = Vec::with_capacity(keys.len());
        let mut applied = Vec::with_capacity(keys.len());
        for (key, v, rt, _) in keys {
            let stored = v.map(|v| Arc::new(Stored::encoded(rt, &v, revision)));
            out.push(stored.clone());
            applied.push((key, rt, stored));
        }
        if shared {
            // Other replicas write too: the follower applies every revision in order, this one
            // included. Wait for it, so that a client reads its own write from this replica.
            if !self.wait_applied(revision, READ_YOUR_WRITES) {
                tracing::warn!(revision, "committed, but not yet seen through the store's watch");
            }
        } else {
            self.apply_in_turn(revision, applied);
        }
        Ok(out)
    }

    /// Applies a revision committed to the embedded store in revision order: every revision of
    /// the store is committed through this registry, so each is applied (raw writes as no
    /// change). The commit queues its changes; whoever holds the queue applies every revision
    /// next in line, its own and those of commits that got here first but had to wait for an
    /// earlier one, in one batch. A group commit's writers are so applied together, without
    /// each waking all the others once per revision (measured: that herd of wake-ups was the
    /// largest cost of concurrent creates on two cores). A commit whose revision someone else
    /// applies waits for it (to read its own write).
    fn apply_in_turn(&self, revision: u64, changes: Changes) {
        self.apply_next_in_line(Some((revision, changes)), None);
        if self.applied_revision() < revision && !self.wait_applied(revision, READ_YOUR_WRITES) {
            // Only a commit that died between the store and the mirror leaves a gap: apply what
            // waits behind it, up to this revision, rather than stall every later write.
            tracing::error!(revision, applied = self.applied_revision(), "an earlier commit never reached memory");
            self.apply_next_in_line(None, Some(revision));
        }
    }

    /// Queues `committed` and applies every queued revision next in line; with `past_gap`, every
    /// queued revision up to it, gaps or not.
    fn apply_next_in_line(&self, committed: Option<(u64, Changes)>, past_gap: Option<u64>) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((revision, changes)) = committed {
            pending.insert(revision, changes);
        }
        let mut next = self.applied_revision() + 1;
        // A commit that arrives after its revision was given up on (see above) is applied late
        // rather than held forever.
        let waiting = pending.split_off(&next);
        let mut batch: Vec<(u64, Changes)> = std::mem::replace(&mut *pending, waiting).into_iter().collect();
        while let Some(changes) = pending.remove(&next) {
            batch.push((next, changes));
            next += 1;
        }
        if let Some(last) = past_gap {
            let rest = pending.split_off(&(last + 1));
            batch.extend(std::mem::replace(&mut *pending, rest));
        }
        if !batch.is_empty() {
            // Still holding the queue: batches are applied in order.
            self.apply_all(batch);
        }
    }

    /// Applies one committed revision ([`Registry::apply_all`]).
    fn apply(&self, revision: u64, changes: Changes) {
        self.apply_all(vec![(revision, changes)]);
    }

    /// Applies committed revisions, in order, to the mirror, the RBAC policy, the Node
    /// authorizer's graph, the owner index, the watch feed and the token-dependency hook, under
    /// one taking of their locks and with one wake-up of those waiting. Revisions are applied in
    /// order, each once. The token-dependency hook runs here, under the embedded store's queue:
    /// it must not write to the registry.
    fn apply_all(&self, revisions: Vec<(u64, Changes)>) {
        let mut token_dependency = false;
        {
            let mut objects = self.objects.write().unwrap_or_else(|p| p.into_inner());
            let mut policy = self.policy.write().unwrap_or_else(|p| p.into_inner());
            let mut owners = self.owners.write().unwrap_or_else(|p| p.into_inner());
            let mut nodes = self.nodes.write().unwrap_or_else(|p| p.into_inner());
            for (revision, changes) in revisions {
                let mut events = Vec::with_capacity(changes.len());
                for (key, rt, stored) in changes {
                    let (old, event) = match stored {
                        Some(stored) => {
                            apply_policy(&mut policy, &key, Some(&stored));
                            node_graph::apply_node_graph(&mut nodes, &key, Some(&stored));
                            let old = objects.insert(key.clone(), stored.clone());
                            owners.update(&key, Some(&stored));
                            let kind = if old.is_some() { EventKind::Modified } else { EventKind::Added };
                            (old.clone(), Some((kind, stored, old)))
                        }
                        None => {
                            apply_policy(&mut policy, &key, None);
                            node_graph::apply_node_graph(&mut nodes, &key, None);
                            let old = objects.remove(&key);
                            owners.update(&key, None);
                            let event = old
                                .as_ref()
                                .map(|o| (EventKind::Deleted, Arc::new(o.at_revision(revision)), Some(o.clone())));
                            (old, event)
                        }
                    };
                    // A token can only lose validity when an object it names goes away, changes uid,
                    // starts deleting, or (legacy Secrets) changes its token or labels.
                    if matches!(rt.kind, "ServiceAccount" | "Secret" | "Pod" | "Node") && old.is_some() {
                        token_dependency = true;
                    }
                    if let Some((kind, object, previous)) = event {
                        events.push(Event { kind, resource: rt, key, object, previous });
                    }
                }
                self.applied.fetch_max(revision, Ordering::SeqCst);
                // Published while the mirror is still locked: a watch that snapshots the mirror
                // (under the same lock order: objects, then feed) sees each change exactly once.
                self.events.publish(events);
            }
        }
        {
            let _signal = self.applied_signal.0.lock().unwrap_or_else(|p| p.into_inner());
            self.applied_signal.1.notify_all();
        }
        if token_dependency {
            if let Some(hook) = self.on_token_dependency_change.get() {
                hook();
            }
        }
    }

    /// Waits until the mirror holds `revision`; false when `timeout` passed first.
    fn wait_applied(&self, revision: u64, timeout: Duration) -> bool {
        let (lock, signal) = &self.applied_signal;
        let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let (_guard, result) = signal
            .wait_timeout_while(guard, timeout, |_| self.applied.load(Ordering::SeqCst) < revision)
            .unwrap_or_else(|p| p.into_inner());
        !result.timed_out()
    }

    /// The revision the mirror holds.
    pub fn applied_revision(&self) -> u64 {
        self.applied.load(Ordering::SeqCst)
    }

    /// Whether other processes write to the store too (etcd), once [`Registry::follow`] ran.
    pub fn is_shared(&self) -> bool {
        self.shared.load(Ordering::SeqCst)
    }

    /// Whether this replica is in step with the store: always for the embedded store; for a
    /// shared one, while its watch of the store is live.
    pub fn is_following(&self) -> bool {
        !self.shared.load(Ordering::SeqCst) || self.following.load(Ordering::SeqCst)
    }

    /// On a store other processes write too (etcd), starts following it: every change, made
    /// here or by another replica, reaches the mirror, the RBAC index, watches and the token
    /// cache in revision order. A no-op on the embedded store.
    pub fn follow(self: &Arc<Self>) {
        let Some(first) = self.storage.follow("/registry/", self.applied_revision()) else { return };
        self.shared.store(true, Ordering::SeqCst);
        let weak = Arc::downgrade(self);
        let spawned = std::thread::Builder::new().name("kauth-follow".into()).spawn(move || follow_store(weak, first));
        if let Err(e) = spawned {
            tracing::error!("cannot start following the store: {e}");
        }
    }

    /// A change from the store's watch, as the mirror holds it; a key of no resource goes to
    /// the foreign hook instead.
    fn decode_change(
        &self,
        revision: u64,
        change: KvChange,
    ) -> Option<(String, &'static ResourceType, Option<Arc<Stored>>)> {
        let Some(rt) = resources::by_key(change.key()) else {
            if let (KvChange::Put { key, value }, Some(hook)) = (&change, self.on_foreign_put.get()) {
                hook(key, value);
            }
            return None;
        };
        match change {
            KvChange::Put { key, value } => match serde_json::from_slice::<Value>(&value) {
                Ok(v) => Some((key, rt, Some(Arc::new(Stored::new(rt, v, revision))))),
                Err(e) => {
                    tracing::error!(%key, "stored object is not JSON, left out: {e}");
                    None
                }
            },
            KvChange::Delete { key } => Some((key, rt, None)),
        }
    }

    /// Reads the whole store again (after a compaction passed the follower by) and applies the
    /// difference as one revision.
    fn resync(&self) -> Result<(), StoreError> {
        let (items, revision) = self.storage.list("/registry/")?;
        let mut changes = Vec::new();
        let mut present = std::collections::BTreeSet::new();
        {
            let objects = self.read();
            for kv in items {
                present.insert(kv.key.clone());
                if objects.get(&kv.key).map(|o| o.revision) != Some(kv.mod_revision) {
                    let put = KvChange::Put { key: kv.key, value: kv.value };
                    if let Some((key, rt, Some(s))) = self.decode_change(kv.mod_revision, put) {
                        changes.push((key, rt, Some(s)));
                    }
                }
            }
            for key in objects.keys().filter(|k| !present.contains(*k)) {
                if let Some(rt) = resources::by_key(key) {
                    changes.push((key.clone(), rt, None));
                }
            }
        }
        self.apply(revision.max(self.applied_revision()), changes);
        Ok(())
    }

    /// Starts a watch after `revision`: the changes since, then every later one.
    pub fn watch_after(&self, revision: u64) -> Result<Subscription, TooOld> {
        self.events.subscribe_after(revision)
    }

    /// Starts a watch from the present: the objects of `rt` in `namespace` (all when empty) and
    /// the revision they were read at, then every later change.
    pub fn watch_from_now(
        &self,
        rt: &ResourceType,
        namespace: &str,
    ) -> (Vec<Arc<Stored>>, u64, tokio::sync::broadcast::Receiver<Arc<Event>>) {
        let objects = self.read();
        let ((items, revision), live) = self
            .events
            .subscribe_with(|| (in_prefix(&objects, &rt.prefix(namespace)), self.applied.load(Ordering::SeqCst)));
        (items, revision, live)
    }

    /// The RBAC policy, kept in step with the store.
    pub fn policy(&self) -> std::sync::RwLockReadGuard<'_, RbacIndex> {
        self.policy.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The Node authorizer's graph, kept in step with the store.
    pub fn node_graph(&self) -> std::sync::RwLockReadGuard<'_, NodeGraph> {
        self.nodes.read().unwrap_or_else(|p| p.into_inner())
    }

    fn object_state(&self, rt: &ResourceType, ns: &str, name: &str) -> Option<Arc<ObjectState>> {
        self.get(rt, ns, name).map(|s| s.object_state())
    }
}

/// The follower thread: applies the store's revisions in order; when the watch breaks (the
/// store unreachable) it tries again at once, then with growing pauses, from the last revision
/// applied; when
/// the store compacted past it, it reads everything again. Ends with the registry.
fn follow_store(registry: Weak<Registry>, first: std::sync::mpsc::Receiver<StoreWatch>) {
    // The first retry is at once (a member died: another answers), then with growing pauses.
    let mut pause = Duration::ZERO;
    let mut watch = Some(first);
    loop {
        let rx = match watch.take() {
            Some(rx) => rx,
            None => {
                let Some(reg) = registry.upgrade() else { return };
                match reg.storage.follow("/registry/", reg.applied_revision()) {
                    Some(rx) => rx,
                    None => return,
                }
            }
        };
        for message in rx {
            let Some(reg) = registry.upgrade() else { return };
            match message {
                StoreWatch::Started => {
                    if !reg.following.swap(true, Ordering::SeqCst) {
                        tracing::info!(revision = reg.applied_revision(), "following the store again");
                    }
                    pause = Duration::ZERO;
                }
                StoreWatch::Revision { revision, changes } => {
                    if revision <= reg.applied_revision() {
                        continue;
                    }
                    // A revision of only foreign keys (heartbeats) still moves the mirror's
                    // revision on: it is the store's state at that revision.
                    let changes = changes.into_iter().filter_map(|c| reg.decode_change(revision, c)).collect();
                    reg.apply(revision, changes);
                }
                StoreWatch::Compacted { compact_revision } => {
                    tracing::warn!(
                        compact_revision,
                        applied = reg.applied_revision(),
                        "the store compacted past this replica: reading it again"
                    );
                    if let Err(e) = reg.resync() {
                        tracing::warn!("reading the store again: {e}");
                    }
                    break;
                }
                StoreWatch::Broken(why) => {
                    if reg.following.swap(false, Ordering::SeqCst) {
                        tracing::warn!("lost the store's watch: {why}; serving from memory until it is back");
                    }
                    break;
                }
            }
        }
        std::thread::sleep(pause);
        pause = (pause * 2).clamp(Duration::from_millis(100), Duration::from_secs(5));
    }
}

fn in_prefix(objects: &BTreeMap<String, Arc<Stored>>, prefix: &str) -> Vec<Arc<Stored>> {
    objects.range(prefix.to_owned()..).take_while(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v.clone()).collect()
}

fn rt(kind: &str) -> &'static ResourceType {
    // The kinds asked for here are all in the table.
    resources::by_kind("", kind).unwrap_or(&resources::RESOURCES[0])
}

impl Lookup for Registry {
    fn service_account(&self, namespace: &str, name: &str) -> Result<Option<StateRef<'_, ObjectState>>, LookupError> {
        Ok(self.object_state(rt("ServiceAccount"), namespace, name).map(StateRef::Shared))
    }

    fn pod(&self, namespace: &str, name: &str) -> Result<Option<StateRef<'_, ObjectState>>, LookupError> {
        Ok(self.object_state(rt("Pod"), namespace, name).map(StateRef::Shared))
    }

    fn node(&self, name: &str) -> Result<Option<StateRef<'_, ObjectState>>, LookupError> {
        Ok(self.object_state(rt("Node"), "", name).map(StateRef::Shared))
    }

    fn secret(&self, namespace: &str, name: &str) -> Result<Option<StateRef<'_, SecretState>>, LookupError> {
        Ok(self.get(rt("Secret"), namespace, name).map(|s| StateRef::Shared(s.secret_state())))
    }
}

/// RBAC over the registry's policy index (kept in step with every commit).
#[derive(Debug, Clone)]
pub struct RegistryPolicy(pub Arc<Registry>);

impl Authorizer for RegistryPolicy {
    fn authorize(&self, a: &Attributes) -> Decision {
        self.0.policy().authorize(a)
    }

    fn rules_for(&self, user: &UserInfo, namespace: &str) -> Rules {
        self.0.policy().rules_for(user, namespace)
    }

    fn explain(&self, a: &Attributes) -> Option<Explanation> {
        Some(self.0.policy().explain(a))
    }
}

/// The Node authorizer over the registry's graph (`--authorization-mode=Node`).
#[derive(Debug, Clone)]
pub struct RegistryNodes(pub Arc<Registry>);

impl Authorizer for RegistryNodes {
    fn authorize(&self, a: &Attributes) -> Decision {
        // Anyone but a node gets no opinion without the graph's lock being taken.
        if kauth::authz::node::node_identity(&a.user).is_none() {
            return Decision::NoOpinion(kauth::authz::Reason::None);
        }
        kauth::authz::node::authorize(&self.0.node_graph(), a)
    }

    fn rules_for(&self, user: &UserInfo, namespace: &str) -> Rules {
        kauth::authz::node::rules_for(&self.0.node_graph(), user, namespace)
    }
}

fn apply_policy(policy: &mut RbacIndex, key: &str, stored: Option<&Stored>) {
    let mut parts = key.trim_start_matches("/registry/").splitn(3, '/');
    let resource = parts.next().unwrap_or_default();
    let (a, b) = (parts.next().unwrap_or_default(), parts.next());
    let (ns, name) = match b {
        Some(name) => (a, name),
        None => ("", a),
    };
    macro_rules! typed {
        ($t:ty) => {
            stored.and_then(|s| s.decode::<$t>().ok())
        };
    }
    match resource {
        "clusterroles" => match typed!(ClusterRole) {
            Some(r) => policy.put_cluster_role(&r),
            None => policy.remove_cluster_role(name),
        },
        "roles" => match typed!(Role) {
            Some(r) => policy.put_role(&r),
            None => policy.remove_role(ns, name),
        },
        "clusterrolebindings" => match typed!(ClusterRoleBinding) {
            Some(b) => policy.put_cluster_role_binding(&b),
            None => policy.remove_cluster_role_binding(name),
        },
        "rolebindings" => match typed!(RoleBinding) {
            Some(b) => policy.put_role_binding(&b),
            None => policy.remove_role_binding(ns, name),
        },
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::RedbStore;

    #[test]
    fn concurrent_commits_reach_memory_in_revision_order() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Arc::new(Registry::open(Box::new(RedbStore::open(&dir.path().join("s.redb")).unwrap())).unwrap());
        let sa = resources::by_kind("", "ServiceAccount").unwrap();
        // A raw write first (as the key ring's): commits after it are still applied.
        let raw = reg.create_raw("/registry/kauth.dev/x", b"{}").unwrap();
        let mut watch = reg.watch_after(raw).unwrap();
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let reg = reg.clone();
                std::thread::spawn(move || {
                    let v = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": format!("a{i}"), "namespace": "ns"}});
                    reg.commit(vec![Change::Create(sa, v)]).unwrap()[0].as_ref().unwrap().revision
                })
            })
            .collect();
        let mut revisions: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        revisions.sort_unstable();
        assert_eq!(revisions, (raw + 1..raw + 17).collect::<Vec<_>>());
        assert_eq!(reg.applied_revision(), raw + 16);
        assert_eq!(reg.list(sa, "ns").len(), 16);
        // Watchers saw every change once, in revision order.
        let seen: Vec<u64> = std::iter::from_fn(|| watch.live.try_recv().ok()).map(|e| e.revision()).collect();
        assert_eq!(seen, revisions);
    }

    #[test]
    fn revisions_queued_out_of_order_are_applied_in_order_and_a_late_one_is_not_held() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(Box::new(RedbStore::open(&dir.path().join("s.redb")).unwrap())).unwrap();
        let sa = resources::by_kind("", "ServiceAccount").unwrap();
        let base = reg.applied_revision();
        let mut watch = reg.watch_after(base).unwrap();
        let changes = |name: &str, revision: u64| -> Changes {
            let v =
                json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": "ns"}});
            let stored = Arc::new(Stored::encoded(sa, &Encoded::new(v), revision));
            vec![(sa.key("ns", name), sa, Some(stored))]
        };
        // The later revision first: it waits for the earlier one, which then brings both.
        reg.apply_next_in_line(Some((base + 2, changes("b", base + 2))), None);
        assert_eq!(reg.applied_revision(), base);
        assert!(reg.list(sa, "ns").is_empty());
        reg.apply_in_turn(base + 1, changes("a", base + 1));
        assert_eq!(reg.applied_revision(), base + 2);
        assert_eq!(reg.list(sa, "ns").len(), 2);
        // A gap (a commit that never arrives) is passed when a commit gives up waiting for it;
        // the missing revision, should it come after all, is applied late, not held.
        reg.apply_next_in_line(Some((base + 4, changes("d", base + 4))), None);
        assert_eq!(reg.applied_revision(), base + 2);
        reg.apply_next_in_line(None, Some(base + 4));
        assert_eq!(reg.applied_revision(), base + 4);
        reg.apply_next_in_line(Some((base + 3, changes("c", base + 3))), None);
        assert_eq!(reg.list(sa, "ns").len(), 4);
        assert!(reg.pending.lock().unwrap().is_empty());
        let seen: Vec<u64> = std::iter::from_fn(|| watch.live.try_recv().ok()).map(|e| e.revision()).collect();
        assert_eq!(seen, vec![base + 1, base + 2, base + 4, base + 3]);
    }

    #[test]
    fn writes_are_durable_then_visible_and_conflicts_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let sa = resources::by_kind("", "ServiceAccount").unwrap();
        {
            let reg = Registry::open(Box::new(RedbStore::open(&path).unwrap())).unwrap();
            let v = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a", "namespace": "ns", "uid": "u1"}});
            let out = reg.commit(vec![Change::Create(sa, v.clone())]).unwrap();
            let rev = out[0].as_ref().unwrap().revision;
            assert_eq!(reg.get(sa, "ns", "a").unwrap().value()["metadata"]["resourceVersion"], rev.to_string());
            let err = reg.commit(vec![Change::Create(sa, v.clone())]).unwrap_err();
            assert_eq!(err.reason, "AlreadyExists");
            let err = reg.commit(vec![Change::Update(sa, v.clone(), rev + 5)]).unwrap_err();
            assert_eq!(err.reason, "Conflict");
            assert_eq!(reg.service_account("ns", "a").unwrap().unwrap().uid, "u1");
        }
        let reg = Registry::open(Box::new(RedbStore::open(&path).unwrap())).unwrap();
        assert_eq!(reg.list(sa, "ns").len(), 1);
        // Token lookups read a state worked out once per stored version: a change is a new
        // version, never a stale cache.
        let secret = resources::by_kind("", "Secret").unwrap();
        let with_token = |t: &str| json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns", "uid": "u2"}, "data": {"token": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, t)}});
        let out = reg.commit(vec![Change::Create(secret, with_token("one"))]).unwrap();
        assert_eq!(reg.secret("ns", "s").unwrap().unwrap().token.as_deref(), Some(&b"one"[..]));
        assert_eq!(reg.secret("ns", "s").unwrap().unwrap().token.as_deref(), Some(&b"one"[..]));
        reg.commit(vec![Change::Update(secret, with_token("two"), out[0].as_ref().unwrap().revision)]).unwrap();
        assert_eq!(reg.secret("ns", "s").unwrap().unwrap().token.as_deref(), Some(&b"two"[..]));
        assert_eq!(reg.secret("ns", "s").unwrap().unwrap().object.uid, "u2");
        assert_eq!(reg.list(sa, "").len(), 1);
        assert!(reg.list(sa, "other").is_empty());
    }
}
