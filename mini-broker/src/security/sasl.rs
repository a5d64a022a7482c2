//! The SASL state of one connection on a SASL_PLAINTEXT or SASL_SSL listener, as Kafka's
//! `SaslServerAuthenticator` keeps it.
//!
//! Before authentication only ApiVersions (once, before the handshake), SaslHandshake and then
//! SaslAuthenticate are admitted; anything else closes the connection. SaslHandshake v1 means
//! the tokens come in SaslAuthenticate requests; v0 means the next frames are bare tokens (a
//! length and the token, no Kafka header), answered the same way, as old clients expect.
//! PLAIN and SCRAM logins are checked against the salted [`UserStore`]; OAUTHBEARER takes
//! unsecured JWTs (principal = `sub`), and a refused token gets Kafka's error challenge, then
//! SASL_AUTHENTICATION_FAILED once the client acknowledges it.
//!
//! Sessions expire (KIP-368) after `connections.max.reauth.ms` or at the token's `exp`,
//! whichever is first: a request other than SaslHandshake after that closes the connection,
//! and a SaslHandshake starts re-authentication with the same mechanism and principal (at most
//! once a second, as Kafka). Failures are told to the client and the connection is then
//! closed by the server, which asks [`SaslSession::failure`] after each answer.
//!
//! Not here: GSSAPI, delegation tokens, OAUTHBEARER with signed tokens (JWKS), custom
//! principal builders. The principal is the user name; nothing authorises it further.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrokafka_protocol::sasl::scram::{ScramCredential, ScramHash, ScramServer, MIN_ITERATIONS};
use ferrokafka_protocol::sasl::{
    invalid_credentials_message, oauthbearer, plain, Mechanism, SaslError,
};
use kafka_protocol::messages::ApiKey;
use tokio::sync::Semaphore;

use super::users::LiveUsers;
use crate::state::now_ms;

/// Kafka's `sasl.server.max.receive.size`: the largest frame accepted before authentication.
pub const MAX_RECEIVE_SIZE: usize = 524_288;

/// Kafka's minimum time between two re-authentications of one connection.
const MIN_REAUTH_INTERVAL: Duration = Duration::from_secs(1);

/// What one SASL listener accepts, shared by its connections.
#[derive(Debug)]
pub struct SaslSettings {
    /// The mechanisms clients may ask for, in the order the handshake lists them.
    pub mechanisms: Vec<Mechanism>,
    /// Who may log in with PLAIN and SCRAM.
    pub users: LiveUsers,
    /// `connections.max.reauth.ms`; `None` when 0 (sessions last, unless a token expires).
    pub max_reauth: Option<Duration>,
    /// How long a client has to authenticate (or re-authenticate) once it starts.
    pub auth_timeout: Duration,
    /// Bounds the PLAIN key derivations running at once, shared by all listeners: each costs
    /// milliseconds of CPU, so a flood of logins queues here (each permit is held for one
    /// derivation) instead of taking every core and the blocking pool.
    pub derivations: Arc<Semaphore>,
}

impl SaslSettings {
    /// One permit per core for PLAIN key derivations.
    pub fn derivation_limit() -> Arc<Semaphore> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Arc::new(Semaphore::new(cores))
    }
}

/// Why the server must close a connection instead of serving a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A request that authentication does not allow at this point.
    Unexpected(String),
    /// The authenticated session has expired (KIP-368).
    Expired(String),
}

/// What a SaslHandshake does to the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeOutcome {
    /// The mechanism is enabled; tokens follow.
    Accepted,
    /// The mechanism is not enabled here; the connection closes after the answer.
    Unsupported,
    /// No handshake is expected now (authenticated, re-authentication not possible).
    NotExpected,
}

/// What a token from the client leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOutcome {
    /// A challenge to send back; more tokens follow.
    Challenge(Vec<u8>),
    /// Authenticated: the last server token and the session lifetime to tell the client
    /// (0 = no expiry).
    Complete {
        /// The final server token (often empty).
        token: Vec<u8>,
        /// `session_lifetime_ms` of SaslAuthenticate v1+.
        session_lifetime_ms: i64,
    },
    /// Refused: the message for the client; the connection closes after the answer.
    Failed(String),
    /// No token is expected now (not after a handshake).
    NotExpected,
}

/// Who authenticated, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The mechanism used.
    pub mechanism: Mechanism,
    /// The user name (PLAIN, SCRAM) or the token's `sub` (OAUTHBEARER).
    pub principal: String,
}

/// The SASL state of one connection.
#[derive(Debug)]
pub struct SaslSession {
    settings: Arc<SaslSettings>,
    stage: Stage,
    /// When (re-)authentication must be done by; set while it is under way.
    deadline: Option<Instant>,
    /// Who the client is, once authenticated; re-authentication must keep it.
    identity: Option<Identity>,
    /// When the session ends, if it does.
    expires_at: Option<Instant>,
    last_reauth_start: Option<Instant>,
    /// Set when an exchange completes, until the server takes note.
    completed: bool,
}

#[derive(Debug)]
enum Stage {
    /// Waiting for SaslHandshake (or, first thing, ApiVersions).
    Start {
        api_versions_seen: bool,
    },
    /// A mechanism was chosen; its tokens are coming.
    Exchange {
        mechanism: Mechanism,
        step: Step,
        /// Tokens come bare (SaslHandshake v0) rather than in SaslAuthenticate.
        raw: bool,
    },
    Authenticated,
    /// Authentication failed; the server closes the connection. Holds the reason, for the log.
    Failed(String),
}

#[derive(Debug)]
enum Step {
    Plain,
    Scram {
        server: Box<ScramServer>,
        answered_first: bool,
    },
    OAuthBearer {
        /// The error challenge sent for a refused token, and why it was refused.
        refused: Option<(String, String)>,
    },
    /// Re-authentication asked for another mechanism: the next token fails with this message.
    Refuse(String),
}

/// One step's result before it is applied to the session.
enum Progress {
    Challenge(Vec<u8>),
    Done {
        token: Vec<u8>,
        principal: String,
        credential_expires_at_ms: Option<i64>,
    },
}

impl SaslSession {
    /// A fresh connection: authentication must be done by `now + auth_timeout`.
    pub fn new(settings: Arc<SaslSettings>, now: Instant) -> Self {
        let deadline = now + settings.auth_timeout;
        SaslSession {
            settings,
            stage: Stage::Start {
                api_versions_seen: false,
            },
            deadline: Some(deadline),
            identity: None,
            expires_at: None,
            last_reauth_start: None,
            completed: false,
        }
    }

    /// The mechanisms this listener offers.
    pub fn enabled_mechanisms(&self) -> &[Mechanism] {
        &self.settings.mechanisms
    }

    /// When the authentication under way must be done by; `None` while authenticated.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether the client is authenticated and no re-authentication is under way.
    pub fn is_authenticated(&self) -> bool {
        matches!(self.stage, Stage::Authenticated)
    }

    /// Who authenticated, if anyone has.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// Whether the next frame is a bare token (after a v0 SaslHandshake).
    pub fn expects_raw_token(&self) -> bool {
        matches!(self.stage, Stage::Exchange { raw: true, .. })
    }

    /// Why authentication failed, once it has: the server closes the connection.
    pub fn failure(&self) -> Option<&str> {
        match &self.stage {
            Stage::Failed(reason) => Some(reason),
            _ => None,
        }
    }

    /// True once after each completed (re-)authentication: for the server's log and counters.
    pub fn take_completed(&mut self) -> bool {
        std::mem::take(&mut self.completed)
    }

    /// Decides whether a request with `api_key` may be served now, as Kafka's authenticator
    /// and `SocketServer` decide. A SaslHandshake on an authenticated connection whose session
    /// can expire starts re-authentication.
    ///
    /// ApiVersions is allowed once before the handshake; one at a version we do not serve does
    /// not count (it is answered with our versions, and the client asks again), as in Kafka.
    pub fn admit(&mut self, api_key: i16, api_version: i16, now: Instant) -> Result<(), Refusal> {
        let name = api_name(api_key);
        match &mut self.stage {
            Stage::Start { api_versions_seen } => {
                if api_key == ApiKey::SaslHandshake as i16 {
                    Ok(())
                } else if api_key == ApiKey::ApiVersions as i16 && !*api_versions_seen {
                    *api_versions_seen = crate::handlers::apis::find(ApiKey::ApiVersions)
                        .is_some_and(|api| (api.min..=api.max).contains(&api_version));
                    Ok(())
                } else {
                    Err(Refusal::Unexpected(format!(
                        "unexpected Kafka request of type {name} during SASL handshake"
                    )))
                }
            }
            Stage::Exchange { raw: false, .. } if api_key == ApiKey::SaslAuthenticate as i16 => {
                Ok(())
            }
            Stage::Exchange { .. } | Stage::Failed(_) => Err(Refusal::Unexpected(format!(
                "unexpected Kafka request of type {name} during SASL authentication"
            ))),
            Stage::Authenticated => {
                if api_key == ApiKey::SaslHandshake as i16 && self.may_reauthenticate(now) {
                    self.stage = Stage::Start {
                        api_versions_seen: true,
                    };
                    self.deadline = Some(now + self.settings.auth_timeout);
                    self.last_reauth_start = Some(now);
                    return Ok(());
                }
                match self.expires_at {
                    Some(at) if now > at => Err(Refusal::Expired(format!(
                        "SASL session expired {} ms ago; {name} arrived before re-authentication",
                        now.duration_since(at).as_millis()
                    ))),
                    _ => Ok(()),
                }
            }
        }
    }

    fn may_reauthenticate(&self, now: Instant) -> bool {
        // Kafka: only sessions that expire can be renewed, and not more than once a second.
        self.expires_at.is_some()
            && self
                .last_reauth_start
                .is_none_or(|at| now.duration_since(at) >= MIN_REAUTH_INTERVAL)
    }

    /// Handles SaslHandshake for `requested` (a v0 handshake means bare tokens follow).
    pub fn handshake(&mut self, requested: &str, version: i16) -> HandshakeOutcome {
        if !matches!(self.stage, Stage::Start { .. }) {
            return HandshakeOutcome::NotExpected;
        }
        let enabled = self
            .settings
            .mechanisms
            .iter()
            .copied()
            .find(|m| m.name() == requested);
        let Some(mechanism) = enabled else {
            self.stage = Stage::Failed(format!(
                "SASL mechanism '{}' is not enabled on this listener",
                requested.escape_debug()
            ));
            return HandshakeOutcome::Unsupported;
        };
        let step = match &self.identity {
            Some(previous) if previous.mechanism != mechanism => Step::Refuse(format!(
                "SASL mechanism '{mechanism}' requested by client is not supported for \
                 re-authentication of mechanism '{}'",
                previous.mechanism
            )),
            _ => match mechanism {
                Mechanism::Plain => Step::Plain,
                Mechanism::ScramSha256 | Mechanism::ScramSha512 => Step::Scram {
                    server: Box::new(ScramServer::new(scram_hash(mechanism))),
                    answered_first: false,
                },
                Mechanism::OAuthBearer => Step::OAuthBearer { refused: None },
            },
        };
        self.stage = Stage::Exchange {
            mechanism,
            step,
            raw: version == 0,
        };
        HandshakeOutcome::Accepted
    }

    /// Handles one client token (from SaslAuthenticate, or bare after a v0 handshake).
    pub async fn token(&mut self, token: Bytes) -> TokenOutcome {
        let Stage::Exchange {
            mechanism, step, ..
        } = &mut self.stage
        else {
            return TokenOutcome::NotExpected;
        };
        let mechanism = *mechanism;
        let progress = match step {
            Step::Plain => plain_login(&self.settings, token).await,
            Step::Scram {
                server,
                answered_first,
            } => scram_step(
                server,
                answered_first,
                &self.settings.users,
                &token,
                mechanism,
            ),
            Step::OAuthBearer { refused } => oauthbearer_step(refused, &token),
            Step::Refuse(message) => Err(SaslError::AuthenticationFailed(message.clone())),
        };
        match progress {
            Ok(Progress::Challenge(challenge)) => TokenOutcome::Challenge(challenge),
            Ok(Progress::Done {
                token,
                principal,
                credential_expires_at_ms,
            }) => self.complete(mechanism, principal, credential_expires_at_ms, token),
            Err(err) => self.fail(mechanism, &err),
        }
    }

    fn complete(
        &mut self,
        mechanism: Mechanism,
        principal: String,
        credential_expires_at_ms: Option<i64>,
        token: Vec<u8>,
    ) -> TokenOutcome {
        if let Some(previous) = &self.identity {
            if previous.principal != principal {
                let message = format!(
                    "Cannot change principals during re-authentication from User.{}: User.{principal}",
                    previous.principal
                );
                self.stage = Stage::Failed(message.clone());
                return TokenOutcome::Failed(message);
            }
        }
        let now = Instant::now();
        let lifetime = self.session_lifetime(credential_expires_at_ms);
        self.expires_at = lifetime.map(|l| now + l);
        self.identity = Some(Identity {
            mechanism,
            principal,
        });
        self.stage = Stage::Authenticated;
        self.deadline = None;
        self.completed = true;
        TokenOutcome::Complete {
            token,
            session_lifetime_ms: lifetime
                .map_or(0, |l| i64::try_from(l.as_millis()).unwrap_or(i64::MAX)),
        }
    }

    /// Kafka's rule: the shorter of `connections.max.reauth.ms` (when set) and the time left
    /// on the credential (when it expires); no expiry when neither applies.
    fn session_lifetime(&self, credential_expires_at_ms: Option<i64>) -> Option<Duration> {
        let credential = credential_expires_at_ms.map(|at| {
            let left = at.saturating_sub(now_ms()).max(0);
            Duration::from_millis(u64::try_from(left).unwrap_or(0))
        });
        match (credential, self.settings.max_reauth) {
            (Some(c), Some(m)) => Some(c.min(m)),
            (c, m) => c.or(m),
        }
    }

    fn fail(&mut self, mechanism: Mechanism, err: &SaslError) -> TokenOutcome {
        let reauthenticating = self.identity.is_some();
        let message = match err {
            SaslError::AuthenticationFailed(message) => message.clone(),
            _ if reauthenticating => format!(
                "Authentication failed during re-authentication due to invalid credentials with \
                 SASL mechanism {mechanism}"
            ),
            _ => invalid_credentials_message(mechanism),
        };
        let what = if reauthenticating {
            "re-authentication"
        } else {
            "authentication"
        };
        self.stage = Stage::Failed(format!("{mechanism} {what} failed: {err}"));
        TokenOutcome::Failed(message)
    }
}

fn scram_hash(mechanism: Mechanism) -> ScramHash {
    match mechanism {
        Mechanism::ScramSha512 => ScramHash::Sha512,
        _ => ScramHash::Sha256,
    }
}

/// Checks a PLAIN message on the blocking pool, a few at a time: a key derivation is
/// milliseconds of CPU.
async fn plain_login(settings: &SaslSettings, token: Bytes) -> Result<Progress, SaslError> {
    let _permit = settings
        .derivations
        .acquire()
        .await
        .map_err(|_| SaslError::Invalid("the PLAIN check is shut down".to_owned()))?;
    let users = settings.users.clone();
    let checked = tokio::task::spawn_blocking(move || {
        let message = plain::parse(&token)?;
        if !message.authzid.is_empty() && message.authzid != message.username {
            return Err(SaslError::AuthenticationFailed(
                "Authentication failed: Client requested an authorization id that is different \
                 from username"
                    .to_owned(),
            ));
        }
        let found = users.read().plain(message.username);
        let valid = match found {
            Some((hash, credential)) => credential.verify_password(hash, message.password),
            None => {
                // Derive anyway, so that an unknown user takes as long as a wrong password.
                if let Some(decoy) = decoy() {
                    let _ = decoy.verify_password(ScramHash::Sha512, message.password);
                }
                false
            }
        };
        if valid {
            Ok(message.username.to_owned())
        } else {
            Err(SaslError::AuthenticationFailed(
                plain::INVALID_USERNAME_OR_PASSWORD.to_owned(),
            ))
        }
    })
    .await
    .map_err(|err| SaslError::Invalid(format!("the PLAIN check did not run: {err}")))?;
    Ok(Progress::Done {
        token: Vec::new(),
        principal: checked?,
        credential_expires_at_ms: None,
    })
}

/// A credential no password matches, made once, for unknown PLAIN users.
fn decoy() -> Option<&'static ScramCredential> {
    static DECOY: OnceLock<Option<ScramCredential>> = OnceLock::new();
    DECOY
        .get_or_init(|| {
            ScramCredential::generate(ScramHash::Sha512, "\u{0}decoy", MIN_ITERATIONS).ok()
        })
        .as_ref()
}

fn scram_step(
    server: &mut ScramServer,
    answered_first: &mut bool,
    users: &LiveUsers,
    token: &[u8],
    mechanism: Mechanism,
) -> Result<Progress, SaslError> {
    if !*answered_first {
        let hash = scram_hash(mechanism);
        let first = server.server_first(token, |name| users.read().scram(name, hash))?;
        *answered_first = true;
        return Ok(Progress::Challenge(first));
    }
    let last = server.server_final(token)?;
    let principal = server
        .username()
        .ok_or_else(|| SaslError::Invalid("SCRAM completed without a user name".to_owned()))?;
    Ok(Progress::Done {
        token: last,
        principal: principal.to_owned(),
        credential_expires_at_ms: None,
    })
}

/// Kafka's OAUTHBEARER server: a refused token gets an error challenge; the client's
/// acknowledgement of it (0x01) ends the exchange with the challenge as the error message.
fn oauthbearer_step(
    refused: &mut Option<(String, String)>,
    token: &[u8],
) -> Result<Progress, SaslError> {
    if let Some((challenge, reason)) = refused.take() {
        if token == oauthbearer::ERROR_ACKNOWLEDGEMENT {
            tracing::debug!(%reason, "OAUTHBEARER token refused");
            return Err(SaslError::AuthenticationFailed(challenge));
        }
        // Anything else is a new first message, as in Kafka.
    }
    let message = oauthbearer::parse_client_message(token)?;
    match oauthbearer::validate_unsecured_jwt(message.token.expose(), now_ms(), 0) {
        Ok(jwt) => {
            message.check_authzid(&jwt.principal)?;
            Ok(Progress::Done {
                token: Vec::new(),
                principal: jwt.principal,
                credential_expires_at_ms: Some(jwt.expires_at_ms),
            })
        }
        Err(err @ (SaslError::Malformed { .. } | SaslError::AuthenticationFailed(_))) => {
            let challenge = oauthbearer::error_challenge("invalid_token");
            *refused = Some((
                String::from_utf8_lossy(&challenge).into_owned(),
                err.to_string(),
            ));
            Ok(Progress::Challenge(challenge))
        }
        Err(err) => Err(err),
    }
}

fn api_name(api_key: i16) -> String {
    match ApiKey::try_from(api_key) {
        Ok(key) => format!("{key:?}"),
        Err(()) => format!("unknown ({api_key})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(max_reauth: Option<Duration>) -> SaslSession {
        let settings = SaslSettings {
            mechanisms: vec![Mechanism::Plain, Mechanism::OAuthBearer],
            users: LiveUsers::default(),
            max_reauth,
            auth_timeout: Duration::from_secs(10),
            derivations: SaslSettings::derivation_limit(),
        };
        SaslSession::new(Arc::new(settings), Instant::now())
    }

    const API_VERSIONS: i16 = ApiKey::ApiVersions as i16;
    const HANDSHAKE: i16 = ApiKey::SaslHandshake as i16;
    const METADATA: i16 = ApiKey::Metadata as i16;

    #[test]
    fn api_versions_once_before_the_handshake_retries_of_unserved_versions_allowed() {
        let mut s = session(None);
        let now = Instant::now();
        assert!(s.admit(API_VERSIONS, 99, now).is_ok());
        assert!(s.admit(API_VERSIONS, 3, now).is_ok());
        assert!(s.admit(API_VERSIONS, 3, now).is_err());
        assert!(s.admit(HANDSHAKE, 1, now).is_ok());
        assert_eq!(s.handshake("PLAIN", 1), HandshakeOutcome::Accepted);
        assert!(s.admit(API_VERSIONS, 3, now).is_err());
    }

    #[test]
    fn nothing_else_before_authentication() {
        let mut s = session(None);
        let refusal = s.admit(METADATA, 12, Instant::now()).unwrap_err();
        assert_eq!(
            refusal,
            Refusal::Unexpected(
                "unexpected Kafka request of type Metadata during SASL handshake".into()
            )
        );
    }

    #[test]
    fn an_unknown_mechanism_fails_the_session() {
        let mut s = session(None);
        assert_eq!(s.handshake("GSSAPI", 1), HandshakeOutcome::Unsupported);
        assert!(s.failure().unwrap().contains("GSSAPI"));
        assert_eq!(
            s.enabled_mechanisms(),
            [Mechanism::Plain, Mechanism::OAuthBearer]
        );
    }

    #[tokio::test]
    async fn oauthbearer_sets_the_session_lifetime_and_expiry_closes() {
        let mut s = session(Some(Duration::from_millis(50)));
        assert_eq!(s.handshake("OAUTHBEARER", 1), HandshakeOutcome::Accepted);
        let jwt = oauthbearer::unsecured_jwt("carol", now_ms(), 3_600_000, &[]);
        let token = Bytes::from(oauthbearer::client_message(&jwt, None, &[]));
        let TokenOutcome::Complete {
            session_lifetime_ms,
            ..
        } = s.token(token).await
        else {
            panic!("not authenticated");
        };
        assert!(session_lifetime_ms > 0 && session_lifetime_ms <= 50);
        assert!(s.take_completed() && !s.take_completed());
        assert_eq!(s.identity().unwrap().principal, "carol");
        let later = Instant::now() + Duration::from_millis(100);
        assert!(matches!(
            s.admit(METADATA, 12, later),
            Err(Refusal::Expired(_))
        ));
        // A handshake then re-authenticates, at most once a second.
        assert!(s.admit(HANDSHAKE, 1, later).is_ok());
        assert!(!s.is_authenticated() && s.deadline().is_some());
    }
}
