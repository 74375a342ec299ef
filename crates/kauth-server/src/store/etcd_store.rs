//! The etcd v3 store: the store Kubernetes itself uses, shared by several kauth replicas.
//!
//! Keys are kauth's keys as they are (`/registry/<resource>/...`, kube-apiserver's prefix) and
//! values kauth's JSON. A commit is one etcd transaction: a compare for every write (a create
//! needs the key's `create_revision` to be 0, an update or a delete at a revision its
//! `mod_revision` to be that, a delete without one the key to exist), then the puts and deletes.
//! The transaction's revision is the commit's, so resourceVersions are etcd revisions, as in
//! kube-apiserver. When a compare fails, the keys are read to say which write lost and how, so
//! callers get the same errors as from the embedded store.
//!
//! etcd-client is async (tonic); the storage trait is synchronous (the registry commits on the
//! server's blocking pool). The store runs a small runtime of its own: each call hands its future
//! to it and waits for the answer, within a deadline, so a caller never waits on the runtime it
//! runs on, and an unreachable etcd is an error after the deadline, not a hang.
//!
//! When a member fails (its leader gone, a request stuck on a follower until the election is
//! over), reads are tried again until the deadline. A transaction whose answer was lost is
//! ambiguous: it may have been applied. Sent again, it either applies now, or its compares fail
//! because it had applied, which the store tells apart by reading the keys back (each put holds
//! exactly the bytes written, all at one revision); only a write that truly lost is an error.

use std::future::Future;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, Identity, TlsOptions, Txn, TxnOp,
    WatchOptions,
};

use super::storage::{KeyValue, KvChange, Storage, StoreError, StoreWatch, Write};

/// How to reach etcd (kube-apiserver's `--etcd-servers`, `--etcd-cafile`, `--etcd-certfile`,
/// `--etcd-keyfile`).
#[derive(Clone)]
pub struct EtcdConfig {
    /// Client URLs (`https://127.0.0.1:2379`).
    pub endpoints: Vec<String>,
    /// PEM CA bundle that signed etcd's serving certificates.
    pub ca: Option<Vec<u8>>,
    /// PEM client certificate and key (kauth pki's `apiserver-etcd-client`).
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
    /// Deadline of each call.
    pub timeout: Duration,
}

impl std::fmt::Debug for EtcdConfig {
    // The client key never appears in Debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdConfig")
            .field("endpoints", &self.endpoints)
            .field("ca", &self.ca.as_ref().map(|c| format!("<{} bytes>", c.len())))
            .field("identity", &self.identity.as_ref().map(|_| "<client certificate and key>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A [`Storage`] on an etcd v3 cluster.
pub struct EtcdStore {
    runtime: Option<tokio::runtime::Runtime>,
    client: Client,
    endpoints: Vec<String>,
    timeout: Duration,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore").field("endpoints", &self.endpoints).finish_non_exhaustive()
    }
}

impl Drop for EtcdStore {
    fn drop(&mut self) {
        // Dropping a runtime inside another one's worker would panic; let it wind down alone.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("etcd: {e}"))
}

fn revision_of(header: Option<&etcd_client::ResponseHeader>) -> u64 {
    header.map_or(0, |h| u64::try_from(h.revision()).unwrap_or(0))
}

fn key_value(kv: &etcd_client::KeyValue) -> Result<KeyValue, StoreError> {
    Ok(KeyValue {
        key: kv.key_str().map_err(backend)?.to_owned(),
        value: kv.value().to_vec(),
        mod_revision: u64::try_from(kv.mod_revision()).unwrap_or(0),
    })
}

fn signed(revision: u64) -> i64 {
    i64::try_from(revision).unwrap_or(i64::MAX)
}

impl EtcdStore {
    /// Connects (within `config.timeout`).
    pub fn connect(config: EtcdConfig) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kauth-etcd")
            .enable_all()
            .build()
            .map_err(backend)?;
        let mut options = ConnectOptions::new()
            .with_connect_timeout(config.timeout)
            .with_timeout(config.timeout)
            .with_keep_alive(Duration::from_secs(10), config.timeout);
        if config.ca.is_some() || config.identity.is_some() {
            let mut tls = TlsOptions::new();
            if let Some(ca) = &config.ca {
                tls = tls.ca_certificate(Certificate::from_pem(ca));
            }
            if let Some((cert, key)) = &config.identity {
                tls = tls.identity(Identity::from_pem(cert, key));
            }
            options = options.with_tls(tls);
        }
        let endpoints = config.endpoints.clone();
        let (tx, rx) = mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = tx.send(tokio::time::timeout(config.timeout, Client::connect(endpoints, Some(options))).await);
        });
        let client = match rx.recv() {
            Ok(Ok(Ok(c))) => c,
            Ok(Ok(Err(e))) => return Err(backend(format!("connecting to {}: {e}", config.endpoints.join(",")))),
            _ => {
                return Err(backend(format!(
                    "connecting to {}: no answer within {:?}",
                    config.endpoints.join(","),
                    config.timeout
                )))
            }
        };
        let store = EtcdStore { runtime: Some(runtime), client, endpoints: config.endpoints, timeout: config.timeout };
        // Fail at start, not at the first request, when etcd is not there.
        store.revision()?;
        Ok(store)
    }

    fn runtime(&self) -> Result<&tokio::runtime::Runtime, StoreError> {
        self.runtime.as_ref().ok_or_else(|| backend("client stopped"))
    }

    /// Runs `f` on the store's runtime and waits for it, at most `timeout`.
    fn call_within<T: Send + 'static>(
        &self,
        timeout: Duration,
        f: impl Future<Output = Result<T, etcd_client::Error>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.runtime()?.spawn(async move {
            let _ = tx.send(tokio::time::timeout(timeout, f).await);
        });
        match rx.recv() {
            Ok(Ok(r)) => r.map_err(backend),
            Ok(Err(_)) => Err(backend(format!("no answer from {} within {timeout:?}", self.endpoints.join(",")))),
            Err(_) => Err(backend("client stopped")),
        }
    }

    /// One attempt, within the deadline.
    fn call<T: Send + 'static>(
        &self,
        f: impl Future<Output = Result<T, etcd_client::Error>> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.call_within(self.timeout, f)
    }

    /// A read, tried again (each attempt within half the deadline) until the deadline passes:
    /// reads are safe to repeat, and a member's failure costs one election.
    fn read<T: Send + 'static, Fut>(&self, mut attempt: impl FnMut() -> Fut) -> Result<T, StoreError>
    where
        Fut: Future<Output = Result<T, etcd_client::Error>> + Send + 'static,
    {
        let deadline = Instant::now() + self.timeout;
        loop {
            match self.call_within(self.timeout / 2, attempt()) {
                Ok(v) => return Ok(v),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(e) => {
                    tracing::debug!("etcd read failed, trying again: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    /// Whether every write of a transaction is what the store holds now, all at one revision:
    /// the transaction was applied. Returns that revision (the store's, for deletes only).
    fn landed(&self, writes: &[Write]) -> Result<Option<u64>, StoreError> {
        let mut revision = None;
        for w in writes {
            let current = match w {
                Write::Create { key, .. } | Write::Update { key, .. } | Write::Delete { key, .. } => self.get(key)?,
            };
            match (w, current) {
                (Write::Create { value, .. } | Write::Update { value, .. }, Some(kv)) if &kv.value == value => {
                    if let Write::Update { expected, .. } = w {
                        if kv.mod_revision <= *expected {
                            return Ok(None);
                        }
                    }
                    if revision.is_some_and(|r| r != kv.mod_revision) {
                        return Ok(None);
                    }
                    revision = Some(kv.mod_revision);
                }
                (Write::Delete { .. }, None) => {}
                _ => return Ok(None),
            }
        }
        match revision {
            Some(r) => Ok(Some(r)),
            None => self.revision().map(Some),
        }
    }

    /// Says which write of a failed transaction lost, and how (the embedded store's errors).
    fn attribute(&self, writes: &[Write]) -> StoreError {
        for w in writes {
            let (key, expected, must_be_new) = match w {
                Write::Create { key, .. } => (key, None, true),
                Write::Update { key, expected, .. } => (key, Some(*expected), false),
                Write::Delete { key, expected } => (key, *expected, false),
            };
            let current = match self.get(key) {
                Ok(c) => c,
                Err(e) => return e,
            };
            match (current, must_be_new, expected) {
                (Some(_), true, _) => return StoreError::Exists { key: key.clone() },
                (None, false, _) => return StoreError::NotFound { key: key.clone() },
                (Some(kv), false, Some(expected)) if kv.mod_revision != expected => {
                    return StoreError::Conflict { key: key.clone(), expected, actual: kv.mod_revision }
                }
                _ => {}
            }
        }
        // Every compare holds now: another write came and went in between. The caller read a
        // state that no longer is; that is a conflict on the first key.
        let key = writes.first().map(|w| match w {
            Write::Create { key, .. } | Write::Update { key, .. } | Write::Delete { key, .. } => key.clone(),
        });
        StoreError::Conflict { key: key.unwrap_or_default(), expected: 0, actual: 0 }
    }
}

impl Storage for EtcdStore {
    fn revision(&self) -> Result<u64, StoreError> {
        let mut kv = self.client.kv_client();
        let resp = self
            .call(async move { kv.get("/registry/", Some(GetOptions::new().with_prefix().with_count_only())).await })?;
        Ok(revision_of(resp.header()))
    }

    fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        let resp = self.read(|| {
            let mut kv = self.client.kv_client();
            let k = key.to_owned();
            async move { kv.get(k, None).await }
        })?;
        resp.kvs().first().map(key_value).transpose()
    }

    fn list(&self, prefix: &str) -> Result<(Vec<KeyValue>, u64), StoreError> {
        let resp = self.read(|| {
            let mut kv = self.client.kv_client();
            let p = prefix.to_owned();
            async move { kv.get(p, Some(GetOptions::new().with_prefix())).await }
        })?;
        let items = resp.kvs().iter().map(key_value).collect::<Result<Vec<_>, _>>()?;
        Ok((items, revision_of(resp.header())))
    }

    fn commit(&self, writes: &[Write]) -> Result<u64, StoreError> {
        let mut compares = Vec::with_capacity(writes.len());
        let mut ops = Vec::with_capacity(writes.len());
        for w in writes {
            match w {
                Write::Create { key, value } => {
                    compares.push(Compare::create_revision(key.as_str(), CompareOp::Equal, 0));
                    ops.push(TxnOp::put(key.as_str(), value.clone(), None));
                }
                Write::Update { key, value, expected } => {
                    compares.push(Compare::mod_revision(key.as_str(), CompareOp::Equal, signed(*expected)));
                    ops.push(TxnOp::put(key.as_str(), value.clone(), None));
                }
                Write::Delete { key, expected } => {
                    compares.push(match expected {
                        Some(r) => Compare::mod_revision(key.as_str(), CompareOp::Equal, signed(*r)),
                        None => Compare::version(key.as_str(), CompareOp::Greater, 0),
                    });
                    ops.push(TxnOp::delete(key.as_str(), None));
                }
            }
        }
        let txn = Txn::new().when(compares).and_then(ops);
        let send = |txn: Txn| {
            let mut kv = self.client.kv_client();
            self.call_within(self.timeout / 2, async move { kv.txn(txn).await })
        };
        let deadline = Instant::now() + self.timeout;
        let mut answer = send(txn.clone());
        let mut ambiguous = false;
        loop {
            match answer {
                Ok(resp) if resp.succeeded() => return Ok(revision_of(resp.header())),
                Ok(_) => {
                    // Compares failed: a lost write, or (after a lost answer) our own write.
                    if ambiguous {
                        if let Some(revision) = self.landed(writes)? {
                            return Ok(revision);
                        }
                    }
                    return Err(self.attribute(writes));
                }
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(e) => {
                    tracing::debug!("etcd transaction unanswered, sending it again: {e}");
                    ambiguous = true;
                    std::thread::sleep(Duration::from_millis(100));
                    answer = send(txn.clone());
                }
            }
        }
    }

    fn follow(&self, prefix: &str, after: u64) -> Option<mpsc::Receiver<StoreWatch>> {
        let (tx, rx) = mpsc::channel();
        let mut watch = self.client.watch_client();
        let prefix = prefix.to_owned();
        let Ok(runtime) = self.runtime() else {
            let _ = tx.send(StoreWatch::Broken("client stopped".into()));
            return Some(rx);
        };
        runtime.spawn(async move {
            let options = WatchOptions::new().with_prefix().with_start_revision(signed(after.saturating_add(1)));
            let mut stream = match watch.watch(prefix, Some(options)).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(StoreWatch::Broken(format!("etcd watch: {e}")));
                    return;
                }
            };
            loop {
                let resp = match stream.message().await {
                    Ok(Some(r)) => r,
                    Ok(None) => {
                        let _ = tx.send(StoreWatch::Broken("etcd watch: the stream ended".into()));
                        return;
                    }
                    Err(e) => {
                        let _ = tx.send(StoreWatch::Broken(format!("etcd watch: {e}")));
                        return;
                    }
                };
                if resp.compact_revision() > 0 {
                    let compact_revision = u64::try_from(resp.compact_revision()).unwrap_or(0);
                    let _ = tx.send(StoreWatch::Compacted { compact_revision });
                    return;
                }
                if resp.canceled() {
                    let _ = tx.send(StoreWatch::Broken(format!("etcd watch canceled: {}", resp.cancel_reason())));
                    return;
                }
                if resp.created() && tx.send(StoreWatch::Started).is_err() {
                    return;
                }
                // etcd sends a revision's events together, in order; group them by revision.
                let mut batch: Option<(u64, Vec<KvChange>)> = None;
                for event in resp.events() {
                    let Some(kv) = event.kv() else { continue };
                    let Ok(key) = kv.key_str() else { continue };
                    let revision = u64::try_from(kv.mod_revision()).unwrap_or(0);
                    let change = match event.event_type() {
                        EventType::Put => KvChange::Put { key: key.to_owned(), value: kv.value().to_vec() },
                        EventType::Delete => KvChange::Delete { key: key.to_owned() },
                    };
                    match &mut batch {
                        Some((r, changes)) if *r == revision => changes.push(change),
                        _ => {
                            if let Some((revision, changes)) = batch.replace((revision, vec![change])) {
                                if tx.send(StoreWatch::Revision { revision, changes }).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                }
                if let Some((revision, changes)) = batch {
                    if tx.send(StoreWatch::Revision { revision, changes }).is_err() {
                        return;
                    }
                }
            }
        });
        Some(rx)
    }
}
