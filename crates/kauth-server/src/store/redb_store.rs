//! The embedded store: one redb file. Concurrent commits share one write transaction and one
//! fsync (group commit, as etcd batches its writes); none is acknowledged before it is durable.

use std::collections::HashMap;
use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::group_commit::GroupCommit;
use super::storage::{KeyValue, Storage, StoreError, Write};

/// key -> (mod_revision, value).
const OBJECTS: TableDefinition<&str, (u64, &[u8])> = TableDefinition::new("objects");
/// "revision" -> the store's revision.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const REVISION: &str = "revision";

/// A [`Storage`] in one redb file. Every commit is durable (redb's `Durability::Immediate`,
/// the default): a write acknowledged before a SIGKILL or power loss is there after restart.
///
/// Group commit (`group_commit.rs`): a commit queues its batch; the caller that leads takes
/// every queued batch and writes them in one transaction, each batch atomic at its own revision
/// (a batch that fails its checks changes nothing and takes no revision), then makes the
/// transaction durable and hands each batch its result. While one transaction is being made
/// durable, the next one fills up.
pub struct RedbStore {
    db: Database,
    group: GroupCommit<Vec<Write>, Result<u64, StoreError>>,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedbStore")
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// redb's page cache. Its default is 1 GiB, which a store of a million objects fills (the
/// cold start reads every object once, and writes walk the B-tree): resident memory that
/// duplicates what the registry already holds decoded. kauth never reads objects back from the
/// store after the start, so the cache only serves the B-tree's upper pages on writes; the rest
/// comes from the operating system's page cache when needed.
pub const CACHE_BYTES: usize = 64 << 20;

impl RedbStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| StoreError::Backend(format!("{}: {e}", path.display())))?;
        let txn = db.begin_write().map_err(backend)?;
        {
            txn.open_table(OBJECTS).map_err(backend)?;
            txn.open_table(META).map_err(backend)?;
        }
        txn.commit().map_err(backend)?;
        Ok(RedbStore { db, group: GroupCommit::default() })
    }

    /// Writes `batches` in one durable transaction; each batch's result in order.
    fn commit_group(&self, batches: &[Vec<Write>]) -> Result<Vec<Result<u64, StoreError>>, StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        let mut results = Vec::with_capacity(batches.len());
        {
            let mut table = txn.open_table(OBJECTS).map_err(backend)?;
            let mut meta = txn.open_table(META).map_err(backend)?;
            let mut revision = meta.get(REVISION).map_err(backend)?.map(|v| v.value()).unwrap_or(0);
            for batch in batches {
                match check(&table, batch)? {
                    Err(refused) => results.push(Err(refused)),
                    Ok(()) => {
                        revision += 1;
                        for w in batch {
                            match w {
                                Write::Create { key, value } | Write::Update { key, value, .. } => {
                                    table.insert(key.as_str(), (revision, value.as_slice())).map_err(backend)?;
                                }
                                Write::Delete { key, .. } => {
                                    table.remove(key.as_str()).map_err(backend)?;
                                }
                            }
                        }
                        results.push(Ok(revision));
                    }
                }
            }
            meta.insert(REVISION, revision).map_err(backend)?;
        }
        txn.commit().map_err(backend)?;
        Ok(results)
    }
}

/// Whether `writes` may all apply, in order, to `table`: `Ok(Err(_))` names the first that may
/// not (the batch then changes nothing); `Err` is the backend failing.
fn check(table: &redb::Table<'_, &str, (u64, &[u8])>, writes: &[Write]) -> Result<Result<(), StoreError>, StoreError> {
    // Keys this batch already wrote: present (Some) or deleted (None). Their revision is the
    // batch's own, which no caller can expect.
    let mut written: HashMap<&str, Option<u64>> = HashMap::new();
    for w in writes {
        let key = match w {
            Write::Create { key, .. } | Write::Update { key, .. } | Write::Delete { key, .. } => key.as_str(),
        };
        let actual = match written.get(key) {
            Some(state) => *state,
            None => table.get(key).map_err(backend)?.map(|v| v.value().0),
        };
        let refused = match (w, actual) {
            (Write::Create { .. }, Some(_)) => Some(StoreError::Exists { key: key.to_owned() }),
            (Write::Update { .. } | Write::Delete { .. }, None) => Some(StoreError::NotFound { key: key.to_owned() }),
            (Write::Update { expected, .. }, Some(a)) | (Write::Delete { expected: Some(expected), .. }, Some(a))
                if a != *expected =>
            {
                Some(StoreError::Conflict { key: key.to_owned(), expected: *expected, actual: a })
            }
            _ => None,
        };
        if let Some(e) = refused {
            return Ok(Err(e));
        }
        written.insert(key, if matches!(w, Write::Delete { .. }) { None } else { Some(u64::MAX) });
    }
    Ok(Ok(()))
}

impl Storage for RedbStore {
    fn revision(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let meta = txn.open_table(META).map_err(backend)?;
        Ok(meta.get(REVISION).map_err(backend)?.map(|v| v.value()).unwrap_or(0))
    }

    fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(OBJECTS).map_err(backend)?;
        Ok(table.get(key).map_err(backend)?.map(|v| {
            let (mod_revision, value) = v.value();
            KeyValue { key: key.to_owned(), value: value.to_vec(), mod_revision }
        }))
    }

    fn list(&self, prefix: &str) -> Result<(Vec<KeyValue>, u64), StoreError> {
        let mut out = Vec::new();
        let revision = self.scan(prefix, &mut |kv| {
            out.push(kv);
            Ok(())
        })?;
        Ok((out, revision))
    }

    fn scan(&self, prefix: &str, each: &mut dyn FnMut(KeyValue) -> Result<(), StoreError>) -> Result<u64, StoreError> {
        // One read transaction: a consistent snapshot, whatever commits meanwhile.
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(OBJECTS).map_err(backend)?;
        let meta = txn.open_table(META).map_err(backend)?;
        let revision = meta.get(REVISION).map_err(backend)?.map(|v| v.value()).unwrap_or(0);
        for entry in table.range(prefix..).map_err(backend)? {
            let (k, v) = entry.map_err(backend)?;
            let key = k.value();
            if !key.starts_with(prefix) {
                break;
            }
            let (mod_revision, value) = v.value();
            each(KeyValue { key: key.to_owned(), value: value.to_vec(), mod_revision })?;
        }
        Ok(revision)
    }

    fn commit(&self, writes: &[Write]) -> Result<u64, StoreError> {
        self.group.submit(
            writes.to_vec(),
            |batches| match self.commit_group(&batches) {
                Ok(results) => results,
                Err(e) => vec![Err(e); batches.len()],
            },
            || Err(backend("commit: batch lost from the group")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn store() -> (tempfile::TempDir, RedbStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = RedbStore::open(&dir.path().join("kauth.redb")).unwrap();
        (dir, s)
    }

    #[test]
    fn revisions_grow_and_compare_and_swap_holds() {
        let (_d, s) = store();
        assert_eq!(s.revision().unwrap(), 0);
        let r1 = s.create("/registry/a/x", b"1").unwrap();
        assert_eq!(r1, 1);
        assert_eq!(s.create("/registry/a/x", b"2"), Err(StoreError::Exists { key: "/registry/a/x".into() }));
        let r2 = s.update("/registry/a/x", b"2", r1).unwrap();
        assert_eq!(r2, 2);
        assert_eq!(
            s.update("/registry/a/x", b"3", r1),
            Err(StoreError::Conflict { key: "/registry/a/x".into(), expected: 1, actual: 2 })
        );
        assert_eq!(s.get("/registry/a/x").unwrap().unwrap().value, b"2");
        assert!(matches!(s.delete("/registry/a/x", Some(1)), Err(StoreError::Conflict { .. })));
        s.delete("/registry/a/x", Some(2)).unwrap();
        assert_eq!(s.get("/registry/a/x").unwrap(), None);
        assert!(matches!(s.delete("/registry/a/x", None), Err(StoreError::NotFound { .. })));
        assert_eq!(s.revision().unwrap(), 3);
    }

    #[test]
    fn list_is_by_prefix_and_batches_are_atomic() {
        let (_d, s) = store();
        s.create("/registry/a/1", b"x").unwrap();
        s.create("/registry/ab/1", b"y").unwrap();
        s.create("/registry/a/2", b"z").unwrap();
        let (items, rev) = s.list("/registry/a/").unwrap();
        assert_eq!(items.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(), ["/registry/a/1", "/registry/a/2"]);
        assert_eq!(rev, 3);
        // The second write fails: the first must not be applied either.
        let err = s
            .commit(&[
                Write::Delete { key: "/registry/a/1".into(), expected: None },
                Write::Create { key: "/registry/a/2".into(), value: b"w".to_vec() },
            ])
            .unwrap_err();
        assert!(matches!(err, StoreError::Exists { .. }));
        assert!(s.get("/registry/a/1").unwrap().is_some());
        assert_eq!(s.revision().unwrap(), 3);
    }

    #[test]
    fn concurrent_commits_share_transactions_and_each_is_atomic_at_its_own_revision() {
        let (_d, s) = store();
        let s = Arc::new(s);
        s.create("/registry/a/taken", b"x").unwrap();
        let threads: Vec<_> = (0..32)
            .map(|i| {
                let s = s.clone();
                std::thread::spawn(move || {
                    // Every fourth batch fails on its second write: its first must not apply.
                    let second = if i % 4 == 0 { "/registry/a/taken".to_owned() } else { format!("/registry/b/{i}") };
                    s.commit(&[
                        Write::Create { key: format!("/registry/c/{i}"), value: b"v".to_vec() },
                        Write::Create { key: second, value: b"v".to_vec() },
                    ])
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let mut revisions: Vec<u64> = results.iter().filter_map(|r| r.as_ref().ok().copied()).collect();
        revisions.sort_unstable();
        // 24 batches applied, each at its own revision, one after another.
        assert_eq!(revisions, (2..26).collect::<Vec<_>>());
        assert!(results.iter().filter(|r| r.is_err()).all(|r| matches!(r, Err(StoreError::Exists { .. }))));
        assert_eq!(s.list("/registry/c/").unwrap().0.len(), 24);
        assert_eq!(s.revision().unwrap(), 25);
        // A batch sees its own earlier writes.
        let r = s.commit(&[
            Write::Create { key: "/registry/d/1".into(), value: b"1".to_vec() },
            Write::Delete { key: "/registry/d/1".into(), expected: None },
            Write::Create { key: "/registry/d/1".into(), value: b"2".to_vec() },
        ]);
        assert_eq!(r, Ok(26));
        assert_eq!(s.get("/registry/d/1").unwrap().unwrap().value, b"2");
    }

    #[test]
    fn reopening_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kauth.redb");
        {
            let s = RedbStore::open(&path).unwrap();
            s.create("/registry/k", b"v").unwrap();
        }
        let s = RedbStore::open(&path).unwrap();
        assert_eq!(s.get("/registry/k").unwrap().unwrap().mod_revision, 1);
        assert_eq!(s.revision().unwrap(), 1);
    }
}
