//! Storage: a revision-numbered key-value store shaped like etcd v3, so an etcd backend can slot in.
//!
//! Every write gets the store's next revision; an object's `resourceVersion` is the revision of
//! its last write (its `mod_revision`). Updates and deletes compare that revision and fail with
//! [`StoreError::Conflict`] when another write came first (optimistic concurrency, as etcd's
//! `Txn(Compare(ModRevision))`). A write is acknowledged only once it is durable.
//!
//! The contract is in `storage.rs`; the backends implement it. This module only names them
//! together, so that neither backend uses the module that re-exports it.

#[cfg(feature = "etcd")]
mod etcd_store;
mod group_commit;
mod redb_store;
mod storage;

#[cfg(feature = "etcd")]
pub use etcd_store::{EtcdConfig, EtcdStore};
pub use redb_store::RedbStore;
pub use storage::{KeyValue, KvChange, Storage, StoreError, StoreWatch, Write};
