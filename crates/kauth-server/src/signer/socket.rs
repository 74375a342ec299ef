//! The signer's Unix socket, created with its permission bits already set: it is bound under a
//! temporary name, given its mode, then renamed into place, so no one connects while it is
//! more open than asked. A socket file left by a server that is gone is replaced; one another
//! server still answers on is not.

use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why the socket could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// Another process serves on it.
    #[error("{0}: another process serves on this socket")]
    InUse(PathBuf),
    /// The path is a file of another kind.
    #[error("{0}: exists and is not a socket")]
    NotASocket(PathBuf),
    /// The system refused.
    #[error("{path}: {source}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SocketError + '_ {
    move |source| SocketError::Io { path: path.to_owned(), source }
}

/// Binds a Unix socket at `path` with permission bits `mode`; call inside a tokio runtime.
pub fn bind(path: &Path, mode: u32) -> Result<tokio::net::UnixListener, SocketError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => return Err(SocketError::InUse(path.to_owned())),
            // Nobody listens: a socket left by a server that stopped without removing it.
            Err(_) => std::fs::remove_file(path).map_err(io(path))?,
        },
        Ok(_) => return Err(SocketError::NotASocket(path.to_owned())),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(io(path)(e)),
    }
    let mut staged = path.as_os_str().to_owned();
    staged.push(format!(".{}.new", std::process::id()));
    let staged = PathBuf::from(staged);
    let _ = std::fs::remove_file(&staged);
    let listener = std::os::unix::net::UnixListener::bind(&staged).map_err(io(path))?;
    let placed = std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(mode))
        .and_then(|()| std::fs::rename(&staged, path));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&staged);
        return Err(io(path)(e));
    }
    listener.set_nonblocking(true).map_err(io(path))?;
    tokio::net::UnixListener::from_std(listener).map_err(io(path))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn the_socket_has_its_mode_a_stale_one_is_replaced_a_live_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signer.sock");
        let live = bind(&path, 0o600).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(matches!(bind(&path, 0o600), Err(SocketError::InUse(_))));
        drop(live);
        // The file stays behind, with nobody listening: replaced.
        let again = bind(&path, 0o660).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o660);
        drop(again);
        let file = dir.path().join("plain");
        std::fs::write(&file, "x").unwrap();
        assert!(matches!(bind(&file, 0o600), Err(SocketError::NotASocket(_))));
        // Nothing staged is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }
}
