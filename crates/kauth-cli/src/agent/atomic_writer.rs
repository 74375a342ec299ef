//! The kubelet's atomic writer (`pkg/volume/util/atomic_writer.go`), for a directory of token
//! files: readers never see a half-written or missing file.
//!
//! Layout, as in a projected volume:
//!
//! ```text
//! DIR/token                          -> ..data/token
//! DIR/..data                         -> ..2026_12_05_21_50_00.123456789
//! DIR/..2026_12_05_21_50_00.123456789/token   (mode 0600 or as configured)
//! ```
//!
//! A write puts every file, complete and synced, in a new timestamped directory, points a
//! temporary symlink `..data_tmp` at it and renames that over `..data` (rename is atomic), then
//! adds the user-visible symlinks that are missing and removes those of files no longer written.
//! Unlike the kubelet, which deletes the previous directory at once, a replaced directory is
//! kept until a write at least [`RETIRED_GRACE`] later (and always until the next write): a
//! reader that resolved `..data` just before a swap, and was then descheduled, still finds its
//! file. (A reader stalled in the middle of `open` across two swaps is no theory: the test below,
//! which swaps in a tight loop, saw it when the previous directory alone was kept.)

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::secret::Secret;

/// The symlink to the current timestamped directory.
pub const DATA_DIR: &str = "..data";
/// The symlink renamed over [`DATA_DIR`].
pub const NEW_DATA_DIR: &str = "..data_tmp";

/// How long a replaced timestamped directory is kept, by the writes' clock.
pub const RETIRED_GRACE: time::Duration = time::Duration::seconds(30);

/// One file to write.
#[derive(Debug, Clone)]
pub struct FileProjection {
    /// Its content.
    pub data: Secret,
    /// Its mode.
    pub mode: u32,
}

/// Why a write failed; the previous content stays in place.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A file-system call failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A user-visible name is taken by something the writer did not make.
    #[error("{path} exists and is not a symlink into {DATA_DIR}: move it away, the agent owns this directory")]
    NotOurs {
        /// The path.
        path: PathBuf,
    },
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> WriteError + 'a {
    move |source| WriteError::Io { op, path: path.to_owned(), source }
}

/// Writes one directory atomically.
#[derive(Debug, Clone)]
pub struct AtomicWriter {
    dir: PathBuf,
    /// Replaced directories and when they were replaced, oldest first; `None` before the first
    /// write (then directories a previous process left are removed, but the current one).
    retired: Option<VecDeque<(String, OffsetDateTime)>>,
}

impl AtomicWriter {
    /// A writer for `dir` (created on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        AtomicWriter { dir: dir.into(), retired: None }
    }

    /// Makes `payload` (file name → content and mode) the directory's content; `now` names the
    /// new timestamped directory.
    pub fn write(&mut self, payload: &BTreeMap<String, FileProjection>, now: OffsetDateTime) -> Result<(), WriteError> {
        std::fs::create_dir_all(&self.dir).map_err(io("creating", &self.dir))?;
        let data_link = self.dir.join(DATA_DIR);
        let old = std::fs::read_link(&data_link).ok().and_then(|p| p.to_str().map(str::to_owned));

        let (ts_name, ts_path) = self.new_timestamped_dir(now)?;
        if let Err(e) = self.fill(&ts_path, payload) {
            let _ = std::fs::remove_dir_all(&ts_path);
            return Err(e);
        }
        let tmp_link = self.dir.join(NEW_DATA_DIR);
        let _ = std::fs::remove_file(&tmp_link);
        let swapped = std::os::unix::fs::symlink(&ts_name, &tmp_link)
            .map_err(io("linking", &tmp_link))
            .and_then(|()| std::fs::rename(&tmp_link, &data_link).map_err(io("renaming over", &data_link)));
        if let Err(e) = swapped {
            let _ = std::fs::remove_file(&tmp_link);
            let _ = std::fs::remove_dir_all(&ts_path);
            return Err(e);
        }

        for name in payload.keys() {
            let visible = self.dir.join(name);
            match std::fs::symlink_metadata(&visible) {
                Ok(m) if m.file_type().is_symlink() => {}
                Ok(_) => return Err(WriteError::NotOurs { path: visible }),
                Err(_) => std::os::unix::fs::symlink(Path::new(DATA_DIR).join(name), &visible)
                    .map_err(io("linking", &visible))?,
            }
        }
        if let Some(old) = &old {
            self.remove_dropped(old, payload);
        }
        self.retire(&ts_name, old, now);
        Ok(())
    }

    fn new_timestamped_dir(&self, now: OffsetDateTime) -> Result<(String, PathBuf), WriteError> {
        let stamp = format!(
            "..{:04}_{:02}_{:02}_{:02}_{:02}_{:02}",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        let mut last = None;
        for _ in 0..16 {
            let name = format!("{stamp}.{:09}", super::random::u64() % 1_000_000_000);
            let path = self.dir.join(&name);
            match std::fs::create_dir(&path) {
                Ok(()) => {
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                        .map_err(io("setting the mode of", &path))?;
                    return Ok((name, path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(io("creating", &path)(e)),
            }
        }
        let e = last.unwrap_or_else(|| std::io::Error::other("no free name"));
        Err(io("creating a timestamped directory in", &self.dir)(e))
    }

    fn fill(&self, ts_path: &Path, payload: &BTreeMap<String, FileProjection>) -> Result<(), WriteError> {
        for (name, f) in payload {
            let path = ts_path.join(name);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(f.mode)
                .open(&path)
                .map_err(io("creating", &path))?;
            // The umask may have taken bits the config asked for.
            file.set_permissions(std::fs::Permissions::from_mode(f.mode)).map_err(io("setting the mode of", &path))?;
            file.write_all(f.data.expose().as_bytes()).map_err(io("writing", &path))?;
            file.sync_all().map_err(io("syncing", &path))?;
        }
        Ok(())
    }

    /// Removes the user-visible links of files the old directory had and the payload has not.
    fn remove_dropped(&self, old: &str, payload: &BTreeMap<String, FileProjection>) {
        let Ok(entries) = std::fs::read_dir(self.dir.join(old)) else { return };
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if payload.contains_key(name) {
                continue;
            }
            let visible = self.dir.join(name);
            if std::fs::symlink_metadata(&visible).is_ok_and(|m| m.file_type().is_symlink()) {
                let _ = std::fs::remove_file(&visible);
            }
        }
    }

    /// Records `previous` as replaced at `now` and removes the directories replaced at least
    /// [`RETIRED_GRACE`] ago, but the one just replaced. On the first write, removes every
    /// timestamped directory but the current and the previous one.
    fn retire(&mut self, current: &str, previous: Option<String>, now: OffsetDateTime) {
        let remove = |name: &str| {
            let path = self.dir.join(name);
            if let Err(err) = std::fs::remove_dir_all(&path) {
                tracing::warn!("removing the old directory {}: {err}", path.display());
            }
        };
        let retired = match &mut self.retired {
            Some(r) => r,
            None => {
                let entries = std::fs::read_dir(&self.dir).into_iter().flatten().flatten();
                for e in entries {
                    let name = e.file_name();
                    let Some(name) = name.to_str() else { continue };
                    let timestamped = name.starts_with("..") && name != DATA_DIR && name != NEW_DATA_DIR;
                    if timestamped
                        && name != current
                        && Some(name) != previous.as_deref()
                        && e.file_type().is_ok_and(|t| t.is_dir())
                    {
                        remove(name);
                    }
                }
                self.retired.insert(VecDeque::new())
            }
        };
        while let Some((name, at)) = retired.front() {
            if *at > now - RETIRED_GRACE {
                break;
            }
            remove(name);
            retired.pop_front();
        }
        if let Some(p) = previous.filter(|p| p != current) {
            retired.push_back((p, now));
        }
    }
}

#[cfg(test)]
mod tests;
