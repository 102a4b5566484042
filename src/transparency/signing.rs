//! The log's Ed25519 signing key and the signed checkpoints it makes. One key per log, the
//! same for every instance: its name is the log's origin, and verifiers pin its verifier key
//! (`<origin>+<8 hex key id>+<base64(0x01 ‖ public key)>`, C2SP signed-note).
//!
//! Where the key comes from, first match wins: `MUTUA_LOG_SIGNING_KEY` (a signed-note
//! private key string); on SQLite an owner-only file `log-signing-key` in the data folder,
//! generated on first start; on PostgreSQL the `log_signing_keys` table, generated once by
//! whichever instance starts first, so instances on separate machines sign alike.

use std::path::Path;

use base64::prelude::*;
use diesel::prelude::*;
use secrecy::{ExposeSecret, SecretString};
use signed_note::{Note, StandardSigner};
use tlog_tiles::{Checkpoint, Hash};

use crate::db::schema::log_signing_keys;
use crate::db::DbConnection;
use crate::models::now;

/// The origin (and key name) of a log that configures none.
pub const DEFAULT_ORIGIN: &str = crate::settings::DEFAULT_LOG_ORIGIN;

/// The file in the data folder that keeps a generated key on SQLite.
pub const KEY_FILE: &str = "log-signing-key";

/// Longest accepted origin; checkpoints carry it on every line one reads.
pub const MAX_ORIGIN_LEN: usize = 200;

/// Signs the log's checkpoints.
#[derive(Clone)]
pub struct LogSigner {
    signer: StandardSigner,
    origin: String,
    verifier_key: String,
}

impl std::fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_struct("LogSigner")
            .field("verifier_key", &self.verifier_key)
            .finish()
    }
}

/// Checks that an origin can name a signed-note key and head a checkpoint: 1–200
/// characters, none of them a space, a control character or `+`.
pub fn check_origin(origin: &str) -> Result<(), String> {
    if !signed_note::is_key_name_valid(origin)
        || origin.chars().any(char::is_control)
        || origin.chars().count() > MAX_ORIGIN_LEN
    {
        return Err(format!(
            "MUTUA_LOG_ORIGIN `{}` is not a valid log origin: it needs 1 to {MAX_ORIGIN_LEN} \
             characters without spaces, control characters or `+` (e.g. `{DEFAULT_ORIGIN}`)",
            origin.escape_debug()
        ));
    }
    Ok(())
}

impl LogSigner {
    /// The signer of a signed-note private key string (`PRIVATE+KEY+<name>+<id>+<key>`),
    /// which must be an Ed25519 key named `origin`.
    pub fn from_private_key(key: &str, origin: &str) -> Result<LogSigner, String> {
        let key = key.trim();
        let signer = StandardSigner::new(key)
            .map_err(|_| "is not a valid signed-note Ed25519 private key".to_owned())?;
        let name = signed_note::Signer::name(&signer).to_owned();
        if name != origin {
            return Err(format!(
                "is the key of origin `{name}`, but the log's origin (MUTUA_LOG_ORIGIN) is \
                 `{origin}`"
            ));
        }
        // `StandardSigner` keeps its public key to itself; the key text it has just checked
        // (id included) is `PRIVATE+KEY+name+id+base64(0x01 ‖ 32-byte seed)`.
        // The base64 part may itself hold `+`, so split off exactly four fields.
        let encoded = key.splitn(5, '+').nth(4).unwrap_or_default();
        let bytes = BASE64_STANDARD
            .decode(encoded)
            .map_err(|_| "is not a valid signed-note Ed25519 private key".to_owned())?;
        let seed = bytes
            .get(1..)
            .and_then(|s| ed25519_dalek::SigningKey::try_from(s).ok())
            .ok_or_else(|| "is not a valid signed-note Ed25519 private key".to_owned())?;
        let verifier_key = signed_note::new_ed25519_verifier_key(&name, &seed.verifying_key());
        Ok(LogSigner {
            signer,
            origin: name,
            verifier_key,
        })
    }

    /// A new random key for `origin`, with its private key string to keep.
    pub fn generate(origin: &str) -> Result<(LogSigner, SecretString), String> {
        check_origin(origin)?;
        let (private, _) = signed_note::generate_key(&mut rand::rngs::OsRng, origin);
        let signer = LogSigner::from_private_key(&private, origin)
            .map_err(|e| format!("the generated log-signing key {e}"))?;
        Ok((signer, SecretString::from(private)))
    }

    /// The log's origin, which is also the key's name.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The verifier key string verifiers pin.
    pub fn verifier_key(&self) -> &str {
        &self.verifier_key
    }

    /// The C2SP checkpoint of a tree of `size` leaves with root `root`, as a signed note.
    pub fn sign_checkpoint(&self, size: u64, root: Hash) -> Result<String, String> {
        let checkpoint = Checkpoint::new(&self.origin, size, root, "")
            .map_err(|e| format!("cannot build checkpoint: {e}"))?;
        let mut note = Note::new(&checkpoint.to_bytes(), &[])
            .map_err(|e| format!("cannot build checkpoint note: {e}"))?;
        note.add_sigs(&[&self.signer])
            .map_err(|e| format!("cannot sign checkpoint: {e}"))?;
        String::from_utf8(note.to_bytes()).map_err(|e| format!("checkpoint is not UTF-8: {e}"))
    }
}

/// Finds the log's signer as the module documentation describes; the error is a one-line
/// reason to refuse start.
pub fn resolve(
    configured: Option<&SecretString>,
    origin: &str,
    data_dir: &Path,
    conn: &mut DbConnection,
) -> Result<LogSigner, String> {
    check_origin(origin)?;
    if let Some(key) = configured {
        return LogSigner::from_private_key(key.expose_secret(), origin)
            .map_err(|e| format!("MUTUA_LOG_SIGNING_KEY {e}"));
    }
    match conn {
        DbConnection::Sqlite(_) => from_file(&data_dir.join(KEY_FILE), origin),
        DbConnection::Pg(_) => from_database(conn, origin),
    }
}

/// The key kept in `path`, generated there first if the file does not exist. The new key
/// is written to a private temporary file and linked into place, which fails if another
/// process got there first: then that one's key is read, so both use the same.
fn from_file(path: &Path, origin: &str) -> Result<LogSigner, String> {
    let read = |path: &Path| -> Result<LogSigner, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        LogSigner::from_private_key(&text, origin)
            .map_err(|e| format!("the log-signing key in {} {e}", path.display()))
    };
    if path.exists() {
        return read(path);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let (signer, private) = LogSigner::generate(origin)?;
    let temporary = dir.join(format!(
        ".{KEY_FILE}.{}",
        crate::auth::tokens::random_token(12)
    ));
    crate::settings::write_private(&temporary, &format!("{}\n", private.expose_secret()))
        .map_err(|e| format!("cannot write {}: {e}", temporary.display()))?;
    let linked = std::fs::hard_link(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(signer),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(path),
        Err(e) => Err(format!("cannot write {}: {e}", path.display())),
    }
}

/// The key kept in `log_signing_keys`, generated there first if the origin has none.
/// Insert-if-absent and then read back, so instances starting together agree on one key.
fn from_database(conn: &mut DbConnection, origin: &str) -> Result<LogSigner, String> {
    let failed = |e: diesel::result::Error| format!("cannot read the log-signing key: {e}");
    let other: Option<String> = log_signing_keys::table
        .filter(log_signing_keys::origin.ne(origin))
        .select(log_signing_keys::origin)
        .first(conn)
        .optional()
        .map_err(failed)?;
    if let Some(other) = other {
        return Err(format!(
            "the database keeps the log-signing key of origin `{other}`, but the log's origin \
             (MUTUA_LOG_ORIGIN) is `{origin}`; a log keeps its origin for life"
        ));
    }
    let stored = |conn: &mut DbConnection| -> Result<Option<String>, String> {
        log_signing_keys::table
            .find(origin)
            .select(log_signing_keys::signing_key)
            .first(conn)
            .optional()
            .map_err(failed)
    };
    let key = match stored(conn)? {
        Some(key) => key,
        None => {
            let (_, private) = LogSigner::generate(origin)?;
            if let DbConnection::Pg(pg) = &mut *conn {
                // `on_conflict` does not compile through the `MultiConnection` enum.
                diesel::insert_into(log_signing_keys::table)
                    .values((
                        log_signing_keys::origin.eq(origin),
                        log_signing_keys::signing_key.eq(private.expose_secret()),
                        log_signing_keys::created_at.eq(now()),
                    ))
                    .on_conflict_do_nothing()
                    .execute(pg)
                    .map_err(|e| format!("cannot store the log-signing key: {e}"))?;
            }
            stored(conn)?.ok_or_else(|| "the log-signing key was not stored".to_owned())?
        }
    };
    LogSigner::from_private_key(&key, origin)
        .map_err(|e| format!("the log-signing key in the database {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use signed_note::{StandardVerifier, VerifierList};

    #[test]
    fn a_checkpoint_is_a_signed_note_that_the_verifier_key_accepts() {
        let (signer, private) = LogSigner::generate("example.org/log").unwrap();
        assert!(private
            .expose_secret()
            .starts_with("PRIVATE+KEY+example.org/log+"));
        let vkey = signer.verifier_key();
        assert!(vkey.starts_with("example.org/log+"), "{vkey}");
        let root = tlog_tiles::record_hash(b"x");
        let note = signer.sign_checkpoint(7, root).unwrap();
        let expected_body = format!("example.org/log\n7\n{}\n\n— example.org/log ", root);
        assert!(note.starts_with(&expected_body), "{note}");
        let verifier = StandardVerifier::new(vkey).unwrap();
        let parsed = Note::from_bytes(note.as_bytes()).unwrap();
        parsed
            .verify(&VerifierList::new(vec![Box::new(verifier)]))
            .unwrap();
        let checkpoint = Checkpoint::from_bytes(parsed.text()).unwrap();
        assert_eq!((checkpoint.size(), *checkpoint.hash()), (7, root));
        // Ed25519 is deterministic: the same key signs the same tree alike.
        let again = LogSigner::from_private_key(private.expose_secret(), "example.org/log")
            .unwrap()
            .sign_checkpoint(7, root)
            .unwrap();
        assert_eq!(again, note);
    }

    #[test]
    fn every_generated_key_reads_back() {
        // Keys whose base64 holds `+` once failed to read back.
        for _ in 0..200 {
            let (signer, private) = LogSigner::generate("example.org/log").unwrap();
            let again = LogSigner::from_private_key(private.expose_secret(), "example.org/log");
            assert_eq!(again.unwrap().verifier_key(), signer.verifier_key());
        }
    }

    #[test]
    fn keys_of_another_origin_and_bad_origins_are_refused() {
        let (_, private) = LogSigner::generate("a.example/log").unwrap();
        let reason =
            LogSigner::from_private_key(private.expose_secret(), "b.example/log").unwrap_err();
        assert!(reason.contains("a.example/log"), "{reason}");
        assert!(LogSigner::from_private_key("PRIVATE+KEY+x+00000000+AAAA", "x").is_err());
        assert!(LogSigner::from_private_key("", "x").is_err());
        for bad in ["", "has space", "a+b", "tab\there", &"x".repeat(201)] {
            assert!(check_origin(bad).is_err(), "{bad:?}");
        }
        check_origin(DEFAULT_ORIGIN).unwrap();
    }

    #[test]
    fn the_key_file_is_generated_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(KEY_FILE);
        let first = from_file(&path, "example.org/log").unwrap();
        let second = from_file(&path, "example.org/log").unwrap();
        assert_eq!(first.verifier_key(), second.verifier_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let reason = from_file(&path, "other.org/log").unwrap_err();
        assert!(reason.contains("example.org/log"), "{reason}");
        assert_eq!(reason.lines().count(), 1);
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }
}
