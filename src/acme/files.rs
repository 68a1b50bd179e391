//! Copies under `data_dir/acme/` (folders 0700, private keys 0600), for
//! operators and other software on the machine: `certs/<host>.crt` (the
//! chain, leaf first), `certs/<host>.key`, and `account-<id>.json` per CA
//! directory. Portero itself reads the store, never these. Each file is
//! written beside its place and renamed over it, so a reader never sees
//! half of one.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The folder of the copies.
pub fn folder(data_dir: &Path) -> PathBuf {
    data_dir.join("acme")
}

/// Writes the copies of a host's certificate and key.
pub fn write_certificate(
    data_dir: &Path,
    host: &str,
    chain: &str,
    private_key: &str,
) -> std::io::Result<()> {
    if !safe_name(host) {
        return Err(std::io::Error::other(format!(
            "`{host}` is not a file name"
        )));
    }
    private_dir(&folder(data_dir))?;
    let dir = folder(data_dir).join("certs");
    private_dir(&dir)?;
    write_atomic(&dir.join(format!("{host}.key")), private_key, 0o600)?;
    write_atomic(&dir.join(format!("{host}.crt")), chain, 0o644)
}

/// Writes the copy of the account kept for a CA directory (it holds the
/// account's private key).
pub fn write_account(data_dir: &Path, directory: &str, credentials: &str) -> std::io::Result<()> {
    let dir = folder(data_dir);
    private_dir(&dir)?;
    let digest = ring::digest::digest(&ring::digest::SHA256, directory.as_bytes());
    let id: String = digest.as_ref()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    write_atomic(&dir.join(format!("account-{id}.json")), credentials, 0o600)
}

/// Makes the SQLite store (and its journal files) readable by its owner
/// only, since it holds private keys now; says so when it changed them.
pub fn restrict_store_file(data_dir: &Path) {
    for name in ["portero.db", "portero.db-wal", "portero.db-shm"] {
        let path = data_dir.join(name);
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.permissions().mode() & 0o077 != 0 {
            match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
                Ok(()) => tracing::info!(
                    file = %path.display(),
                    "acme: the store holds private keys; made it readable by its owner only"
                ),
                Err(e) => tracing::warn!(
                    file = %path.display(),
                    "acme: the store holds private keys but cannot be made private: {e}"
                ),
            }
        }
    }
}

/// Host names from the configuration: letters, digits, `-` and `.`.
fn safe_name(host: &str) -> bool {
    !host.is_empty()
        && !host.starts_with('.')
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

fn write_atomic(path: &Path, text: &str, mode: u32) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_private_and_names_that_are_no_host_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        write_certificate(dir.path(), "a.test", "CHAIN", "KEY").unwrap();
        let certs = dir.path().join("acme/certs");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&certs.join("a.test.key")), 0o600);
        assert_eq!(mode(&certs.join("a.test.crt")), 0o644);
        assert_eq!(mode(&dir.path().join("acme")), 0o700);
        assert_eq!(
            std::fs::read_to_string(certs.join("a.test.crt")).unwrap(),
            "CHAIN"
        );
        // Written again: replaced.
        write_certificate(dir.path(), "a.test", "CHAIN2", "KEY2").unwrap();
        assert_eq!(
            std::fs::read_to_string(certs.join("a.test.key")).unwrap(),
            "KEY2"
        );
        assert!(write_certificate(dir.path(), "../x", "C", "K").is_err());
        write_account(dir.path(), "https://ca.test/dir", "{}").unwrap();
        let account = std::fs::read_dir(dir.path().join("acme"))
            .unwrap()
            .filter_map(|e| e.ok())
            .find(|e| e.file_name().to_string_lossy().starts_with("account-"))
            .unwrap();
        assert_eq!(mode(&account.path()), 0o600);
    }

    #[test]
    fn the_store_file_is_made_private() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("portero.db");
        std::fs::write(&db, "").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        restrict_store_file(dir.path());
        assert_eq!(
            std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
