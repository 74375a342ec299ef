//! Atomic file writes: a temporary file in the same directory, fsync, rename, fsync the directory.
//!
//! A reader (or a crash) sees either the old file or the complete new one, never half of it.
//! Private keys are created with mode 0600 from the start, so no other user can open them even
//! for the instant between create and chmod.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use super::PkiError;

/// The permission a written file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    /// 0600: private keys and kubeconfigs (which embed keys).
    Secret,
    /// 0644: certificates and public keys.
    Public,
}

impl FileMode {
    #[cfg(unix)]
    fn bits(self) -> u32 {
        match self {
            FileMode::Secret => 0o600,
            FileMode::Public => 0o644,
        }
    }
}

/// Writes `contents` to `path` atomically with the given mode, creating parent directories.
pub fn write_atomic(path: &Path, contents: &[u8], mode: FileMode) -> Result<(), PkiError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| PkiError::io(dir, "create directory", e))?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.kauth-tmp-{}", std::process::id()));
    let result = write_new(&tmp, contents, mode)
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| PkiError::io(path, "rename into place", e)));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Make the rename itself durable.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn write_new(tmp: &Path, contents: &[u8], mode: FileMode) -> Result<(), PkiError> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode.bits());
    }
    let mut file = options.open(tmp).map_err(|e| PkiError::io(tmp, "create", e))?;
    #[cfg(unix)]
    {
        // The umask may have narrowed the mode; a pre-existing temp file may have had another.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(mode.bits()))
            .map_err(|e| PkiError::io(tmp, "set permissions", e))?;
    }
    file.write_all(contents).map_err(|e| PkiError::io(tmp, "write", e))?;
    file.sync_all().map_err(|e| PkiError::io(tmp, "sync", e))
}

/// Creates `dir` if needed and proves a file can be created in it, so that a run that cannot
/// write fails before it does any work (and before it writes anything else).
pub fn ensure_writable_dir(dir: &Path) -> Result<(), PkiError> {
    fs::create_dir_all(dir).map_err(|e| PkiError::io(dir, "create directory", e))?;
    let probe = dir.join(format!(".kauth-probe-{}", std::process::id()));
    File::create(&probe).map_err(|e| PkiError::io(dir, "write into directory", e))?;
    fs::remove_file(&probe).map_err(|e| PkiError::io(&probe, "remove", e))
}

/// Reads a whole file, naming it in the error.
pub fn read(path: &Path) -> Result<Vec<u8>, PkiError> {
    fs::read(path).map_err(|e| PkiError::io(path, "read", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_secret_files_0600_and_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/a.key");
        write_atomic(&path, b"one", FileMode::Secret).unwrap();
        write_atomic(&path, b"two", FileMode::Secret).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path().join("sub")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn missing_parent_that_cannot_be_created_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        fs::write(&file, b"x").unwrap();
        let err = write_atomic(&file.join("child.crt"), b"x", FileMode::Public).unwrap_err();
        assert!(matches!(err, PkiError::Io { action: "create directory", .. }), "{err}");
    }
}
