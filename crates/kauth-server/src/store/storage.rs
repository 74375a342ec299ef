//! The storage contract every backend implements: [`Storage`] (revisions, compare-and-swap,
//! atomic batches, following changes), what it stores ([`KeyValue`]), writes and changes, and
//! its typed errors.

/// One stored object.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// Its key (`/registry/<resource>/<namespace>/<name>`).
    pub key: String,
    /// The serialized object.
    pub value: Vec<u8>,
    /// The revision of its last write.
    pub mod_revision: u64,
}

impl std::fmt::Debug for KeyValue {
    // Values can hold Secrets: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyValue")
            .field("key", &self.key)
            .field("value", &format_args!("<{} bytes>", self.value.len()))
            .field("mod_revision", &self.mod_revision)
            .finish()
    }
}

/// Why a storage operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A create found the key taken.
    #[error("key {key} already exists")]
    Exists {
        /// The key.
        key: String,
    },
    /// An update or delete found no such key.
    #[error("key {key} not found")]
    NotFound {
        /// The key.
        key: String,
    },
    /// An update or delete expected another revision.
    #[error("key {key} is at revision {actual}, not {expected}")]
    Conflict {
        /// The key.
        key: String,
        /// The revision the caller read.
        expected: u64,
        /// The revision stored.
        actual: u64,
    },
    /// The backend failed (I/O, corruption, unreachable).
    #[error("storage: {0}")]
    Backend(String),
}

/// One write of a [`Storage::commit`] batch; all apply or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Create a key that must not exist.
    Create {
        /// The key.
        key: String,
        /// The value.
        value: Vec<u8>,
    },
    /// Replace a key at the given revision.
    Update {
        /// The key.
        key: String,
        /// The value.
        value: Vec<u8>,
        /// The revision the caller read.
        expected: u64,
    },
    /// Delete a key, at a revision if given.
    Delete {
        /// The key.
        key: String,
        /// The revision the caller read, if it must match.
        expected: Option<u64>,
    },
}

/// One key's change in a committed revision.
#[derive(Clone, PartialEq, Eq)]
pub enum KvChange {
    /// Created or replaced.
    Put {
        /// The key.
        key: String,
        /// The new value.
        value: Vec<u8>,
    },
    /// Deleted.
    Delete {
        /// The key.
        key: String,
    },
}

impl KvChange {
    /// The key changed.
    pub fn key(&self) -> &str {
        match self {
            KvChange::Put { key, .. } | KvChange::Delete { key } => key,
        }
    }
}

impl std::fmt::Debug for KvChange {
    // Values can hold Secrets: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvChange::Put { key, value } => write!(f, "Put({key}, <{} bytes>)", value.len()),
            KvChange::Delete { key } => write!(f, "Delete({key})"),
        }
    }
}

/// What following a shared store reports, in revision order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreWatch {
    /// The watch is established: what follows is every change after the revision asked for.
    Started,
    /// Every change of one committed revision.
    Revision {
        /// The revision.
        revision: u64,
        /// Its changes, in order.
        changes: Vec<KvChange>,
    },
    /// The store no longer holds the history asked for (etcd compacted it): list again.
    Compacted {
        /// The oldest revision still held.
        compact_revision: u64,
    },
    /// The watch broke (the store is unreachable); follow again from the last revision applied.
    Broken(String),
}

/// A revision-numbered, compare-and-swap key-value store.
pub trait Storage: Send + Sync {
    /// The current revision (0 for an empty store).
    fn revision(&self) -> Result<u64, StoreError>;

    /// One key.
    fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError>;

    /// Every key under `prefix`, in key order, with the revision they were read at (consistent).
    fn list(&self, prefix: &str) -> Result<(Vec<KeyValue>, u64), StoreError>;

    /// [`Storage::list`] one key at a time, into `each`, with the revision read at: a store
    /// that can read without holding every value at once (the embedded one) does, so that
    /// loading a million objects does not first copy them all.
    fn scan(&self, prefix: &str, each: &mut dyn FnMut(KeyValue) -> Result<(), StoreError>) -> Result<u64, StoreError> {
        let (items, revision) = self.list(prefix)?;
        items.into_iter().try_for_each(each)?;
        Ok(revision)
    }

    /// Applies `writes` atomically at one new revision, returned; durable when this returns.
    fn commit(&self, writes: &[Write]) -> Result<u64, StoreError>;

    /// Creates `key`; fails with [`StoreError::Exists`].
    fn create(&self, key: &str, value: &[u8]) -> Result<u64, StoreError> {
        self.commit(&[Write::Create { key: key.into(), value: value.to_vec() }])
    }

    /// Replaces `key` if it is still at `expected`.
    fn update(&self, key: &str, value: &[u8], expected: u64) -> Result<u64, StoreError> {
        self.commit(&[Write::Update { key: key.into(), value: value.to_vec(), expected }])
    }

    /// Deletes `key` (if still at `expected`, when given).
    fn delete(&self, key: &str, expected: Option<u64>) -> Result<u64, StoreError> {
        self.commit(&[Write::Delete { key: key.into(), expected }])
    }

    /// Follows every change under `prefix` after revision `after`, made by any process, in
    /// revision order, until the receiver is dropped or a [`StoreWatch::Broken`] or
    /// [`StoreWatch::Compacted`] ends it. `None` for a store only this process writes (the
    /// embedded one): the registry then applies its own commits directly.
    fn follow(&self, prefix: &str, after: u64) -> Option<std::sync::mpsc::Receiver<StoreWatch>> {
        let _ = (prefix, after);
        None
    }
}
