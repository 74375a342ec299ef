//! The audit log file, rotated as kube-apiserver rotates it (its `lumberjack` settings):
//! `--audit-log-maxsize` megabytes per file (0: never rotate), then the file is renamed
//! `<name>-<UTC time as 2006-01-02T15-04-05.000><.ext>` beside it and a new one started;
//! `--audit-log-maxbackup` keeps at most that many old files (0: all), `--audit-log-maxage`
//! removes those older than that many days (0: none). Times come from the server's clock.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use time::OffsetDateTime;

/// Rotation settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Bytes per file before it is rotated; 0: never.
    pub max_size: u64,
    /// Old files kept; 0: all.
    pub max_backups: usize,
    /// Days an old file is kept; 0: forever.
    pub max_age_days: u32,
}

/// An append-only file that rotates itself (see the module docs).
pub struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: Rotation,
    clock: Arc<dyn Fn() -> OffsetDateTime + Send + Sync>,
}

impl std::fmt::Debug for RotatingFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotatingFile").field("path", &self.path).field("rotation", &self.rotation).finish()
    }
}

/// Opens for appending; a new file is readable by its owner only (0600), as kube-apiserver
/// creates its audit files: events name users, groups and credential ids.
fn open(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new().create(true).append(true).mode(0o600).open(path)
}

/// The stem and extension lumberjack splits a file name into (`audit.log` → `audit`, `.log`).
fn split(path: &Path) -> (String, String) {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match path.extension() {
        Some(ext) => {
            let ext = format!(".{}", ext.to_string_lossy());
            (name.trim_end_matches(&ext).to_owned(), ext)
        }
        None => (name, String::new()),
    }
}

/// The backup name for a rotation at `at`.
pub fn backup_name(path: &Path, at: OffsetDateTime) -> PathBuf {
    let (stem, ext) = split(path);
    let stamp = format!(
        "{:04}-{:02}-{:02}T{:02}-{:02}-{:02}.{:03}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    );
    path.with_file_name(format!("{stem}-{stamp}{ext}"))
}

impl RotatingFile {
    /// Opens (appends to) `path`.
    pub fn open(
        path: &Path,
        rotation: Rotation,
        clock: Arc<dyn Fn() -> OffsetDateTime + Send + Sync>,
    ) -> io::Result<Self> {
        let file = open(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile { path: path.to_owned(), file, size, rotation, clock })
    }

    fn rotate(&mut self) -> io::Result<()> {
        let now = (self.clock)();
        self.file.flush()?;
        std::fs::rename(&self.path, backup_name(&self.path, now))?;
        self.file = open(&self.path)?;
        self.size = 0;
        // An old file that cannot be removed must not cost the event being written.
        if let Err(e) = self.prune(now) {
            tracing::warn!(path = %self.path.display(), "audit log: removing old files: {e}");
        }
        Ok(())
    }

    /// The old files, newest first.
    fn backups(&self) -> io::Result<Vec<PathBuf>> {
        let (stem, ext) = split(&self.path);
        let dir = self.path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let prefix = format!("{stem}-");
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                name.len() == prefix.len() + 23 + ext.len() && name.starts_with(&prefix) && name.ends_with(&ext)
            })
            .collect();
        // The timestamp sorts as text.
        found.sort();
        found.reverse();
        Ok(found)
    }

    /// When an old file was rotated, read from its name (as lumberjack reads it).
    fn rotated_at(&self, backup: &Path) -> Option<OffsetDateTime> {
        let (stem, ext) = split(&self.path);
        let name = backup.file_name()?.to_string_lossy().into_owned();
        let stamp = name.strip_prefix(&format!("{stem}-"))?.strip_suffix(ext.as_str())?.to_owned();
        let format =
            time::macros::format_description!("[year]-[month]-[day]T[hour]-[minute]-[second].[subsecond digits:3]");
        time::PrimitiveDateTime::parse(&stamp, &format).ok().map(time::PrimitiveDateTime::assume_utc)
    }

    fn prune(&self, now: OffsetDateTime) -> io::Result<()> {
        let backups = self.backups()?;
        for (i, b) in backups.iter().enumerate() {
            let too_many = self.rotation.max_backups > 0 && i >= self.rotation.max_backups;
            let too_old = self.rotation.max_age_days > 0
                && self
                    .rotated_at(b)
                    .is_some_and(|t| now - t > time::Duration::days(i64::from(self.rotation.max_age_days)));
            if too_many || too_old {
                std::fs::remove_file(b)?;
            }
        }
        Ok(())
    }
}

impl Write for RotatingFile {
    /// Each call is expected to be one whole event line; a line never spans two files.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.rotation.max_size > 0 && self.size > 0 && self.size + buf.len() as u64 > self.rotation.max_size {
            self.rotate()?;
        }
        self.file.write_all(buf)?;
        self.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn clock_at(t: &Arc<Mutex<OffsetDateTime>>) -> Arc<dyn Fn() -> OffsetDateTime + Send + Sync> {
        let t = t.clone();
        Arc::new(move || *t.lock().unwrap_or_else(|p| p.into_inner()))
    }

    #[test]
    fn backups_are_named_as_lumberjack_names_them() {
        let at =
            OffsetDateTime::from_unix_timestamp_nanos(1_800_000_000_123_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(
            backup_name(Path::new("/var/log/audit.log"), at),
            Path::new("/var/log/audit-2027-01-15T08-00-00.123.log")
        );
        assert_eq!(backup_name(Path::new("audit"), at), Path::new("audit-2027-01-15T08-00-00.123"));
    }

    #[test]
    fn a_full_file_is_rotated_and_old_files_pruned_by_count() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("audit.log");
        let t = Arc::new(Mutex::new(
            OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        ));
        let mut f =
            RotatingFile::open(&path, Rotation { max_size: 20, max_backups: 2, max_age_days: 0 }, clock_at(&t))?;
        for i in 0..5 {
            *t.lock().unwrap_or_else(|p| p.into_inner()) += time::Duration::seconds(1);
            f.write_all(format!("line {i} of twelve\n").as_bytes())?;
        }
        f.flush()?;
        // Each 17-byte line fills a file: 4 rotations, 2 backups kept, the newest.
        assert_eq!(std::fs::read_to_string(&path)?, "line 4 of twelve\n");
        let mut names: Vec<String> = std::fs::read_dir(dir.path())?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "audit.log")
            .collect();
        names.sort();
        assert_eq!(names, ["audit-2027-01-15T08-00-04.000.log", "audit-2027-01-15T08-00-05.000.log"]);
        let kept = std::fs::read_to_string(dir.path().join("audit-2027-01-15T08-00-05.000.log"))?;
        assert_eq!(kept, "line 3 of twelve\n");
        Ok(())
    }

    #[test]
    fn old_files_are_pruned_by_the_age_in_their_names() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("audit.log");
        let start = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let t = Arc::new(Mutex::new(start));
        let mut f =
            RotatingFile::open(&path, Rotation { max_size: 10, max_backups: 0, max_age_days: 1 }, clock_at(&t))?;
        f.write_all(b"first line\n")?;
        f.write_all(b"second one\n")?; // rotated now: a backup stamped at the start
        *t.lock().unwrap_or_else(|p| p.into_inner()) += time::Duration::days(2);
        f.write_all(b"third line\n")?; // rotated two days later: the first backup is too old
        let backups = f.backups()?;
        assert_eq!(backups.len(), 1, "{backups:?}");
        assert!(backups[0].to_string_lossy().ends_with("audit-2027-01-17T08-00-00.000.log"));
        Ok(())
    }

    #[test]
    fn new_files_are_readable_by_their_owner_only() -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("audit.log");
        let t = Arc::new(Mutex::new(OffsetDateTime::UNIX_EPOCH));
        let mut f = RotatingFile::open(&path, Rotation { max_size: 5, ..Rotation::default() }, clock_at(&t))?;
        f.write_all(b"one line\n")?;
        f.write_all(b"two line\n")?; // rotated: a new file
        assert_eq!(std::fs::metadata(&path)?.permissions().mode() & 0o777, 0o600);
        Ok(())
    }

    #[test]
    fn without_a_size_nothing_rotates() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("audit.log");
        let t = Arc::new(Mutex::new(OffsetDateTime::UNIX_EPOCH));
        let mut f = RotatingFile::open(&path, Rotation::default(), clock_at(&t))?;
        for _ in 0..100 {
            f.write_all(b"0123456789\n")?;
        }
        assert_eq!(std::fs::read_dir(dir.path())?.count(), 1);
        Ok(())
    }
}
