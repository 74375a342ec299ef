//! The embedded store: one redb file, fsync'd on every commit.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::storage::{KeyValue, Storage, StoreError, Write};

/// key -> (mod_revision, value).
const OBJECTS: TableDefinition<&str, (u64, &[u8])> = TableDefinition::new("objects");
/// "revision" -> the store's revision.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const REVISION: &str = "revision";

/// A [`Storage`] in one redb file. Every commit is durable (redb's `Durability::Immediate`,
/// the default): a write acknowledged before a SIGKILL or power loss is there after restart.
pub struct RedbStore {
    db: Database,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedbStore")
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl RedbStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(|e| StoreError::Backend(format!("{}: {e}", path.display())))?;
        let txn = db.begin_write().map_err(backend)?;
        {
            txn.open_table(OBJECTS).map_err(backend)?;
            txn.open_table(META).map_err(backend)?;
        }
        txn.commit().map_err(backend)?;
        Ok(RedbStore { db })
    }
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
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(OBJECTS).map_err(backend)?;
        let meta = txn.open_table(META).map_err(backend)?;
        let revision = meta.get(REVISION).map_err(backend)?.map(|v| v.value()).unwrap_or(0);
        let mut out = Vec::new();
        for entry in table.range(prefix..).map_err(backend)? {
            let (k, v) = entry.map_err(backend)?;
            let key = k.value();
            if !key.starts_with(prefix) {
                break;
            }
            let (mod_revision, value) = v.value();
            out.push(KeyValue { key: key.to_owned(), value: value.to_vec(), mod_revision });
        }
        Ok((out, revision))
    }

    fn commit(&self, writes: &[Write]) -> Result<u64, StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        let revision;
        {
            let mut table = txn.open_table(OBJECTS).map_err(backend)?;
            let mut meta = txn.open_table(META).map_err(backend)?;
            revision = meta.get(REVISION).map_err(backend)?.map(|v| v.value()).unwrap_or(0) + 1;
            for w in writes {
                match w {
                    Write::Create { key, value } => {
                        if table.get(key.as_str()).map_err(backend)?.is_some() {
                            return Err(StoreError::Exists { key: key.clone() });
                        }
                        table.insert(key.as_str(), (revision, value.as_slice())).map_err(backend)?;
                    }
                    Write::Update { key, value, expected } => {
                        let actual = table.get(key.as_str()).map_err(backend)?.map(|v| v.value().0);
                        match actual {
                            None => return Err(StoreError::NotFound { key: key.clone() }),
                            Some(a) if a != *expected => {
                                return Err(StoreError::Conflict { key: key.clone(), expected: *expected, actual: a })
                            }
                            Some(_) => {}
                        }
                        table.insert(key.as_str(), (revision, value.as_slice())).map_err(backend)?;
                    }
                    Write::Delete { key, expected } => {
                        let actual = table.get(key.as_str()).map_err(backend)?.map(|v| v.value().0);
                        match (actual, expected) {
                            (None, _) => return Err(StoreError::NotFound { key: key.clone() }),
                            (Some(a), Some(e)) if a != *e => {
                                return Err(StoreError::Conflict { key: key.clone(), expected: *e, actual: a })
                            }
                            _ => {}
                        }
                        table.remove(key.as_str()).map_err(backend)?;
                    }
                }
            }
            meta.insert(REVISION, revision).map_err(backend)?;
        }
        // Dropping `txn` without commit (the early returns above) aborts every write of the batch.
        txn.commit().map_err(backend)?;
        Ok(revision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
