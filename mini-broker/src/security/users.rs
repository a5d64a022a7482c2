//! The SASL users a broker knows, kept only as salted SCRAM credentials.
//!
//! A password given on the command line, in a users file or through the builder is salted at
//! once for both SCRAM hashes ([`MIN_ITERATIONS`] rounds of PBKDF2) and then dropped: SCRAM
//! logins use the credential of their hash, and PLAIN logins are checked against the same
//! store with [`ScramCredential::verify_password`]. A user given in Kafka's stored form
//! (`SCRAM-SHA-256 NAME salt=…,stored_key=…,server_key=…,iterations=N`) has that one
//! credential: SCRAM works for that hash only, and PLAIN checks against it.
//!
//! While the broker runs the store is [`LiveUsers`]: shared by the SASL listeners and the
//! credential APIs (DescribeUserScramCredentials, AlterUserScramCredentials), so a credential
//! added over the wire is the one the next login is checked against.
//!
//! Not here: delegation tokens.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use ferrokafka_protocol::sasl::scram::{ScramCredential, ScramHash, MIN_ITERATIONS};
use ferrokafka_protocol::sasl::Mechanism;

/// The users and their salted credentials. `Debug` shows the names only.
#[derive(Clone, Default)]
pub struct UserStore {
    users: BTreeMap<String, Credentials>,
}

#[derive(Clone, Default)]
struct Credentials {
    sha256: Option<ScramCredential>,
    sha512: Option<ScramCredential>,
}

impl Credentials {
    fn slot(&mut self, hash: ScramHash) -> &mut Option<ScramCredential> {
        match hash {
            ScramHash::Sha256 => &mut self.sha256,
            ScramHash::Sha512 => &mut self.sha512,
        }
    }

    fn get(&self, hash: ScramHash) -> Option<&ScramCredential> {
        match hash {
            ScramHash::Sha256 => self.sha256.as_ref(),
            ScramHash::Sha512 => self.sha512.as_ref(),
        }
    }
}

impl fmt::Debug for UserStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.users.keys()).finish()
    }
}

/// The users of a running broker, shared by its listeners and its credential APIs.
#[derive(Debug, Clone, Default)]
pub struct LiveUsers(Arc<RwLock<UserStore>>);

impl LiveUsers {
    /// Starts from `store`.
    pub fn new(store: UserStore) -> Self {
        LiveUsers(Arc::new(RwLock::new(store)))
    }

    /// The store to read. A panic while it was written left a consistent map (every change
    /// is one insert or remove), so keep serving.
    pub fn read(&self) -> RwLockReadGuard<'_, UserStore> {
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The store to change.
    pub fn write(&self) -> RwLockWriteGuard<'_, UserStore> {
        self.0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Why a user could not be added. Never carries the password.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UserError {
    /// `NAME:PASSWORD` without the colon.
    #[error("a user is given as NAME:PASSWORD, and this has no ':'")]
    NoColon,
    /// An empty name.
    #[error("the user name is empty")]
    EmptyName,
    /// An empty password.
    #[error("the password of user '{0}' is empty")]
    EmptyPassword(String),
    /// A second credential for the same user and mechanism.
    #[error("user '{name}' has a {mechanism} credential already")]
    Duplicate {
        /// The user.
        name: String,
        /// The mechanism given twice.
        mechanism: Mechanism,
    },
    /// The password could not be salted, or a stored credential is not usable.
    #[error("user '{name}': {reason}")]
    Credential {
        /// The user.
        name: String,
        /// What is wrong (never the password).
        reason: String,
    },
}

/// Why a users file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum UsersFileError {
    /// The file could not be read.
    #[error("cannot read SASL users file {path}: {err}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        err: std::io::Error,
    },
    /// One line is wrong.
    #[error("{path}:{line}: {reason}")]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it (never the password).
        reason: String,
    },
}

/// Splits `NAME:PASSWORD` at the first colon (so a password may contain colons).
pub fn parse_login(text: &str) -> Result<(&str, &str), UserError> {
    let (name, password) = text.split_once(':').ok_or(UserError::NoColon)?;
    if name.is_empty() {
        return Err(UserError::EmptyName);
    }
    if password.is_empty() {
        return Err(UserError::EmptyPassword(name.to_owned()));
    }
    Ok((name, password))
}

impl UserStore {
    /// No users.
    pub fn new() -> Self {
        UserStore::default()
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The user names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(String::as_str)
    }

    /// Salts `password` for SCRAM-SHA-256 and SCRAM-SHA-512 and stores only the results. Costs
    /// two key derivations of [`MIN_ITERATIONS`] rounds.
    pub fn add_password(&mut self, name: &str, password: &str) -> Result<(), UserError> {
        if name.is_empty() {
            return Err(UserError::EmptyName);
        }
        if password.is_empty() {
            return Err(UserError::EmptyPassword(name.to_owned()));
        }
        for hash in [ScramHash::Sha256, ScramHash::Sha512] {
            let credential =
                ScramCredential::generate(hash, password, MIN_ITERATIONS).map_err(|err| {
                    UserError::Credential {
                        name: name.to_owned(),
                        reason: err.to_string(),
                    }
                })?;
            self.add_credential(name, hash, credential)?;
        }
        Ok(())
    }

    /// Stores a credential already salted for `hash` (Kafka's stored form).
    pub fn add_credential(
        &mut self,
        name: &str,
        hash: ScramHash,
        credential: ScramCredential,
    ) -> Result<(), UserError> {
        if name.is_empty() {
            return Err(UserError::EmptyName);
        }
        let slot = self.users.entry(name.to_owned()).or_default().slot(hash);
        if slot.is_some() {
            return Err(UserError::Duplicate {
                name: name.to_owned(),
                mechanism: hash.mechanism(),
            });
        }
        *slot = Some(credential);
        Ok(())
    }

    /// Adds the users of a file: one per line, `NAME:PASSWORD` or
    /// `SCRAM-SHA-256|SCRAM-SHA-512 NAME salt=…,stored_key=…,server_key=…,iterations=N`;
    /// blank lines and lines starting with `#` are skipped. Errors name the file and line.
    pub fn load_file(&mut self, path: &Path) -> Result<(), UsersFileError> {
        let text = std::fs::read_to_string(path).map_err(|err| UsersFileError::Read {
            path: path.to_owned(),
            err,
        })?;
        for (index, line) in text.lines().enumerate() {
            self.add_line(line.trim())
                .map_err(|reason| UsersFileError::Line {
                    path: path.to_owned(),
                    line: index + 1,
                    reason,
                })?;
        }
        Ok(())
    }

    fn add_line(&mut self, line: &str) -> Result<(), String> {
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        let stored = [ScramHash::Sha256, ScramHash::Sha512]
            .into_iter()
            .find_map(|hash| Some((hash, line.strip_prefix(hash.mechanism().name())?)));
        let Some((hash, rest)) = stored.filter(|(_, rest)| rest.starts_with(char::is_whitespace))
        else {
            let (name, password) = parse_login(line).map_err(|err| err.to_string())?;
            return self
                .add_password(name, password)
                .map_err(|err| err.to_string());
        };
        let mut fields = rest.split_whitespace();
        let (Some(name), Some(text), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(format!(
                "expected '{} NAME salt=…,stored_key=…,server_key=…,iterations=N'",
                hash.mechanism()
            ));
        };
        let credential = ScramCredential::from_kafka_string(hash, text).map_err(|err| {
            format!(
                "the {} credential of user '{name}' is not usable: {err}",
                hash.mechanism()
            )
        })?;
        self.add_credential(name, hash, credential)
            .map_err(|err| err.to_string())
    }

    /// The credential a SCRAM login with `hash` is checked against.
    pub fn scram(&self, name: &str, hash: ScramHash) -> Option<ScramCredential> {
        self.users.get(name)?.get(hash).cloned()
    }

    /// The credential a PLAIN login is checked against: SCRAM-SHA-512's, else SCRAM-SHA-256's.
    pub fn plain(&self, name: &str) -> Option<(ScramHash, ScramCredential)> {
        let user = self.users.get(name)?;
        [ScramHash::Sha512, ScramHash::Sha256]
            .into_iter()
            .find_map(|hash| Some((hash, user.get(hash)?.clone())))
    }

    /// Each user's mechanisms with their iteration counts, sorted by name.
    pub fn credentials(&self) -> impl Iterator<Item = (&str, Vec<(ScramHash, u32)>)> {
        self.users.iter().map(|(name, c)| {
            let infos = [ScramHash::Sha256, ScramHash::Sha512]
                .into_iter()
                .filter_map(|hash| Some((hash, c.get(hash)?.iterations)))
                .collect();
            (name.as_str(), infos)
        })
    }

    /// Sets (adds or replaces) `name`'s credential for `hash`.
    pub fn set_credential(&mut self, name: &str, hash: ScramHash, credential: ScramCredential) {
        *self.users.entry(name.to_owned()).or_default().slot(hash) = Some(credential);
    }

    /// Removes `name`'s credential for `hash` (and the user with its last one); false if
    /// there was none.
    pub fn remove_credential(&mut self, name: &str, hash: ScramHash) -> bool {
        let Some(user) = self.users.get_mut(name) else {
            return false;
        };
        let had = user.slot(hash).take().is_some();
        if user.sha256.is_none() && user.sha512.is_none() {
            self.users.remove(name);
        }
        had
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_salted_for_both_hashes_and_checked_for_plain() {
        let mut users = UserStore::new();
        users.add_password("alice", "s3cret:with:colons").unwrap();
        for hash in [ScramHash::Sha256, ScramHash::Sha512] {
            let cred = users.scram("alice", hash).unwrap();
            assert!(cred.verify_password(hash, "s3cret:with:colons"));
            assert!(!cred.verify_password(hash, "wrong"));
        }
        let (hash, cred) = users.plain("alice").unwrap();
        assert!(cred.verify_password(hash, "s3cret:with:colons"));
        assert!(users.plain("bob").is_none());
        let debug = format!("{users:?}");
        assert!(
            debug.contains("alice") && !debug.contains("s3cret"),
            "{debug}"
        );
    }

    #[test]
    fn logins_split_at_the_first_colon_and_never_echo_the_password() {
        assert_eq!(parse_login("a:b:c").unwrap(), ("a", "b:c"));
        for bad in ["nocolon", ":pw", "name:"] {
            let err = parse_login(bad).unwrap_err().to_string();
            assert!(!err.contains("nocolon") && !err.contains("pw"), "{err}");
        }
    }

    #[test]
    fn a_users_file_takes_passwords_stored_forms_and_comments() {
        let stored = ScramCredential::generate(ScramHash::Sha256, "pw256", MIN_ITERATIONS)
            .unwrap()
            .to_kafka_string();
        let dir = std::env::temp_dir().join(format!("mb-users-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("users");
        std::fs::write(
            &path,
            format!("# users\n\nalice:pw\n  SCRAM-SHA-256 carol {stored}\n"),
        )
        .unwrap();
        let mut users = UserStore::new();
        users.load_file(&path).unwrap();
        assert_eq!(users.names().collect::<Vec<_>>(), ["alice", "carol"]);
        assert!(users.scram("carol", ScramHash::Sha256).is_some());
        assert!(users.scram("carol", ScramHash::Sha512).is_none());
        let (hash, cred) = users.plain("carol").unwrap();
        assert!(cred.verify_password(hash, "pw256"));

        std::fs::write(&path, "alice:pw\nbob-without-password-secretvalue\n").unwrap();
        let err = UserStore::new().load_file(&path).unwrap_err().to_string();
        assert!(
            err.ends_with(":2: a user is given as NAME:PASSWORD, and this has no ':'"),
            "{err}"
        );
        assert!(!err.contains("secretvalue"), "{err}");

        std::fs::write(&path, "SCRAM-SHA-512 dave salt=AAAA,iterations=1\n").unwrap();
        let err = UserStore::new().load_file(&path).unwrap_err().to_string();
        assert!(
            err.contains(":1: the SCRAM-SHA-512 credential of user 'dave'"),
            "{err}"
        );

        std::fs::write(&path, "alice:pw\nalice:other\n").unwrap();
        let err = UserStore::new().load_file(&path).unwrap_err().to_string();
        assert!(
            err.contains(":2: user 'alice' has a SCRAM-SHA-256 credential already"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
