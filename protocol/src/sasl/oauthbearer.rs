//! SASL/OAUTHBEARER (RFC 7628) as Kafka uses it, plus Kafka's unsecured JWTs for tests.
//!
//! The client sends one message: a gs2 header, then `auth=Bearer <token>` and optional
//! extensions, each followed by `0x01`, and a final `0x01`. A server that accepts answers
//! with an empty challenge. One that refuses sends a JSON error challenge
//! ([`error_challenge`]); the client acknowledges with [`ERROR_ACKNOWLEDGEMENT`], and the
//! server then fails the exchange (Kafka's broker puts the same JSON in its error message).
//!
//! Tokens are bearer credentials: they are held as [`Secret`] and never quoted in errors.
//! Everything is bounded before it is parsed: a token by [`MAX_TOKEN_LEN`], a client message
//! by [`MAX_CLIENT_MESSAGE_LEN`].
//!
//! What not: signed JWTs (no JWKS, no signature check); only Kafka's unsecured tokens
//! (`alg: none`) can be validated here, which is only fit for tests and development. No
//! `nbf` claim, as Kafka's unsecured validator ignores it too.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde_json::{Map, Value};

use super::{escape_saslname, unescape_saslname, Mechanism, SaslError, Secret};

/// The longest token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// The longest client message accepted: a token plus room for the header and extensions.
pub const MAX_CLIENT_MESSAGE_LEN: usize = MAX_TOKEN_LEN + 4 * 1024;

/// What a client sends after the server's error challenge.
pub const ERROR_ACKNOWLEDGEMENT: &[u8] = b"\x01";

/// The key RFC 7628 reserves for the token.
const AUTH_KEY: &str = "auth";

const SEPARATOR: char = '\x01';

/// JWT parts are base64url without padding; padding is tolerated, as some encoders add it.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn malformed(reason: impl Into<String>) -> SaslError {
    SaslError::malformed(Mechanism::OAuthBearer, reason)
}

/// The client's message: `n,a=<authzid>,\x01auth=Bearer <token>\x01k=v\x01\x01`, or with
/// `n,,` when there is no authorization id.
///
/// Builds what it is given; check configured extensions once with [`validate_extensions`].
pub fn client_message(
    token: &str,
    authzid: Option<&str>,
    extensions: &[(String, String)],
) -> Vec<u8> {
    let authzid = authzid
        .filter(|a| !a.is_empty())
        .map(|a| format!("a={}", escape_saslname(a)))
        .unwrap_or_default();
    let mut out = format!("n,{authzid},{SEPARATOR}{AUTH_KEY}=Bearer {token}");
    for (key, value) in extensions {
        out.push(SEPARATOR);
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out.push(SEPARATOR);
    out.push(SEPARATOR);
    out.into_bytes()
}

/// Checks extensions as the server will: keys are letters, values printable ASCII (space,
/// tab, CR and LF allowed), `auth` is reserved, no key twice.
pub fn validate_extensions(extensions: &[(String, String)]) -> Result<(), SaslError> {
    for (i, (key, value)) in extensions.iter().enumerate() {
        if !is_extension_key(key) {
            return Err(SaslError::Invalid(format!(
                "OAUTHBEARER extension name {key:?} is not letters only"
            )));
        }
        if key == AUTH_KEY {
            return Err(SaslError::Invalid(
                "OAUTHBEARER extension name \"auth\" is reserved for the token".into(),
            ));
        }
        if !is_extension_value(value) {
            return Err(SaslError::Invalid(format!(
                "OAUTHBEARER extension {key}: the value must be non-empty printable ASCII"
            )));
        }
        if extensions.iter().take(i).any(|(k, _)| k == key) {
            return Err(SaslError::Invalid(format!(
                "OAUTHBEARER extension {key} given twice"
            )));
        }
    }
    Ok(())
}

fn is_extension_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphabetic())
}

fn is_extension_value(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) || matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// RFC 6750's `b64token`: what may follow `Bearer `.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// A parsed client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMessage {
    /// The bearer token.
    pub token: Secret,
    /// The authorization id of the gs2 header, if one was given.
    pub authzid: Option<String>,
    /// Extensions other than `auth`, in the order sent.
    pub extensions: Vec<(String, String)>,
}

impl ClientMessage {
    /// Kafka's rule for the authorization id: absent, or the token's principal.
    pub fn check_authzid(&self, principal: &str) -> Result<(), SaslError> {
        match &self.authzid {
            Some(authzid) if authzid != principal => Err(SaslError::AuthenticationFailed(
                "Authentication failed: Client requested an authorization id that is different from the token's principal name"
                    .into(),
            )),
            _ => Ok(()),
        }
    }
}

/// Parses the client's message. The reserved "auth" key is required, with the "Bearer "
/// scheme (any case, as RFC 7628 says) and a `b64token`; extension keys are letters, values
/// printable. Anything else, or more than [`MAX_CLIENT_MESSAGE_LEN`] bytes:
/// [`SaslError::Malformed`].
pub fn parse_client_message(message: &[u8]) -> Result<ClientMessage, SaslError> {
    if message.len() > MAX_CLIENT_MESSAGE_LEN {
        return Err(malformed(format!(
            "the client message is {} bytes; at most {MAX_CLIENT_MESSAGE_LEN} are accepted",
            message.len()
        )));
    }
    let text =
        std::str::from_utf8(message).map_err(|_| malformed("the client message is not UTF-8"))?;
    let after_flag = text
        .strip_prefix("n,")
        .ok_or_else(|| malformed("the client message must start with gs2 header \"n,\""))?;
    let (authzid, pairs) = after_flag
        .split_once(',')
        .ok_or_else(|| malformed("the client message has an incomplete gs2 header"))?;
    let authzid = if authzid.is_empty() {
        None
    } else {
        let name = authzid
            .strip_prefix("a=")
            .and_then(unescape_saslname)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| malformed("the gs2 header's authorization id is not a=<saslname>"))?;
        Some(name)
    };
    // 0x01, then (key=value 0x01)*, then 0x01.
    let pairs = pairs
        .strip_prefix(SEPARATOR)
        .and_then(|p| p.strip_suffix(SEPARATOR))
        .ok_or_else(|| malformed("key/value pairs must be framed by 0x01"))?;
    if !pairs.is_empty() && !pairs.ends_with(SEPARATOR) {
        return Err(malformed("every key/value pair must end with 0x01"));
    }

    let mut token = None;
    let mut extensions: Vec<(String, String)> = Vec::new();
    for pair in pairs.split_terminator(SEPARATOR) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| malformed("a key/value pair has no '='"))?;
        if !is_extension_key(key) {
            return Err(malformed("a key is not letters only"));
        }
        if !is_extension_value(value) {
            return Err(malformed(format!(
                "the value of {key} is not non-empty printable ASCII"
            )));
        }
        if key == AUTH_KEY {
            if token.replace(bearer_token(value)?).is_some() {
                return Err(malformed("auth given twice"));
            }
        } else if extensions.iter().any(|(k, _)| k == key) {
            return Err(malformed(format!("extension {key} given twice")));
        } else {
            extensions.push((key.to_owned(), value.to_owned()));
        }
    }
    let token = token.ok_or_else(|| malformed("no auth=Bearer <token> pair"))?;
    Ok(ClientMessage {
        token: Secret::new(token),
        authzid,
        extensions,
    })
}

/// The token of `Bearer <token>`.
fn bearer_token(auth: &str) -> Result<&str, SaslError> {
    let (scheme, token) = auth
        .split_once(' ')
        .ok_or_else(|| malformed("auth is not \"Bearer <token>\""))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(malformed("the auth scheme is not Bearer"));
    }
    let token = token.trim_start_matches(' ');
    if token.len() > MAX_TOKEN_LEN {
        return Err(malformed(format!(
            "the token is {} bytes; at most {MAX_TOKEN_LEN} are accepted",
            token.len()
        )));
    }
    if !is_b64token(token) {
        return Err(malformed(
            "the token is empty or has characters a bearer token may not",
        ));
    }
    Ok(token)
}

/// {"status":"invalid_token"} JSON, as Kafka's server sends
pub fn error_challenge(status: &str) -> Vec<u8> {
    let mut body = Map::new();
    body.insert("status".into(), Value::String(status.to_owned()));
    Value::Object(body).to_string().into_bytes()
}

/// The `status` of a server's error challenge, for the client to report.
pub fn parse_error_challenge(challenge: &[u8]) -> Result<String, SaslError> {
    if challenge.len() > MAX_TOKEN_LEN {
        return Err(malformed("the error challenge is too long"));
    }
    let body: Map<String, Value> = serde_json::from_slice(challenge)
        .map_err(|_| malformed("the error challenge is not a JSON object"))?;
    match body.get("status") {
        Some(Value::String(status)) => Ok(status.clone()),
        _ => Err(malformed("the error challenge has no status string")),
    }
}

/// Kafka's unsecured JWT (alg "none"), for tests: header `{"alg":"none"}`, claims `sub`,
/// `iat`, `exp` (NumericDate seconds) and `scope` when not empty; the signature part is empty.
///
/// Times are milliseconds since the epoch, written as seconds (with a fraction when not
/// whole); `exp` is `issued_at_ms + lifetime_ms`.
pub fn unsecured_jwt(
    principal: &str,
    issued_at_ms: i64,
    lifetime_ms: i64,
    scope: &[String],
) -> String {
    let header = r#"{"alg":"none"}"#;
    let mut claims = Map::new();
    claims.insert("sub".into(), Value::String(principal.to_owned()));
    claims.insert("iat".into(), numeric_date(issued_at_ms));
    claims.insert(
        "exp".into(),
        numeric_date(issued_at_ms.saturating_add(lifetime_ms)),
    );
    if !scope.is_empty() {
        claims.insert(
            "scope".into(),
            Value::Array(scope.iter().cloned().map(Value::String).collect()),
        );
    }
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string())
    )
}

/// Milliseconds as a JWT NumericDate (seconds).
fn numeric_date(ms: i64) -> Value {
    if ms % 1000 == 0 {
        return Value::from(ms / 1000);
    }
    serde_json::Number::from_f64(ms as f64 / 1000.0)
        .map(Value::Number)
        .unwrap_or_else(|| Value::from(ms / 1000))
}

/// The claims of a valid unsecured JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsecuredJwt {
    /// The `sub` claim.
    pub principal: String,
    /// The `iat` claim in milliseconds, if present.
    pub issued_at_ms: Option<i64>,
    /// The `exp` claim in milliseconds.
    pub expires_at_ms: i64,
    /// The `scope` claim: a string (one scope) or a list, trimmed, blanks and repeats dropped.
    pub scope: Vec<String>,
}

/// Validates like Kafka's unsecured validator: three base64url parts, alg "none", `sub` a
/// non-empty string, `exp` a number after now (allowing `clock_skew_ms`), `iat` (if present)
/// not in the future beyond the skew and before `exp`. NumericDates may be fractional.
///
/// A token that does not have that shape (too long, not three parts, a signature, not
/// base64url JSON objects, no `alg`, `sub` or `exp`, a claim of the wrong type) is
/// [`SaslError::Malformed`]. A well-formed token refused on its merits (signed, expired,
/// issued in the future, expiring before it was issued) is
/// [`SaslError::AuthenticationFailed`]. A negative skew is [`SaslError::Invalid`].
pub fn validate_unsecured_jwt(
    token: &str,
    now_ms: i64,
    clock_skew_ms: i64,
) -> Result<UnsecuredJwt, SaslError> {
    if clock_skew_ms < 0 {
        return Err(SaslError::Invalid(format!(
            "allowed clock skew must not be negative: {clock_skew_ms} ms"
        )));
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(malformed(format!(
            "the token is {} bytes; at most {MAX_TOKEN_LEN} are accepted",
            token.len()
        )));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(format!(
            "a JWT has 3 dot-separated parts, this one has {}",
            token.split('.').count()
        )));
    };
    if !signature.is_empty() {
        return Err(malformed(
            "an unsecured JWT must have an empty signature part",
        ));
    }
    let header = json_object("header", header)?;
    let claims = json_object("claims", claims)?;

    match header.get("alg") {
        Some(Value::String(alg)) if alg == "none" => {}
        Some(Value::String(_)) => {
            return Err(SaslError::AuthenticationFailed(
                "OAUTHBEARER: only unsecured tokens (alg \"none\") are accepted".into(),
            ))
        }
        _ => return Err(malformed("the JWT header has no alg string")),
    }
    let principal = match claims.get("sub") {
        Some(Value::String(sub)) if !sub.trim().is_empty() => sub.clone(),
        Some(Value::String(_)) | None => {
            return Err(malformed("no principal name in the 'sub' claim"))
        }
        Some(_) => return Err(malformed("the 'sub' claim is not a string")),
    };
    let expires_at_ms =
        time_claim(&claims, "exp")?.ok_or_else(|| malformed("no expiration time ('exp' claim)"))?;
    let issued_at_ms = time_claim(&claims, "iat")?;
    let scope = scope_claim(&claims)?;

    if now_ms.saturating_sub(clock_skew_ms) >= expires_at_ms {
        return Err(SaslError::AuthenticationFailed(format!(
            "OAUTHBEARER: the token expired at {expires_at_ms} ms; now is {now_ms} ms, allowed clock skew {clock_skew_ms} ms"
        )));
    }
    if let Some(issued_at_ms) = issued_at_ms {
        if issued_at_ms > now_ms.saturating_add(clock_skew_ms) {
            return Err(SaslError::AuthenticationFailed(format!(
                "OAUTHBEARER: the token was issued at {issued_at_ms} ms, in the future; now is {now_ms} ms, allowed clock skew {clock_skew_ms} ms"
            )));
        }
        if expires_at_ms <= issued_at_ms {
            return Err(SaslError::AuthenticationFailed(
                "OAUTHBEARER: the token expires before it was issued".into(),
            ));
        }
    }
    Ok(UnsecuredJwt {
        principal,
        issued_at_ms,
        expires_at_ms,
        scope,
    })
}

fn json_object(part: &str, encoded: &str) -> Result<Map<String, Value>, SaslError> {
    let bytes = BASE64URL
        .decode(encoded)
        .map_err(|_| malformed(format!("the JWT {part} is not base64url")))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| malformed(format!("the JWT {part} is not a JSON object")))
}

/// A NumericDate claim (seconds, maybe fractional) in milliseconds, rounded as Kafka does.
fn time_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, SaslError> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    let seconds = value
        .as_f64()
        .ok_or_else(|| malformed(format!("the '{name}' claim is not a number")))?;
    let ms = (seconds * 1000.0).round();
    // i64 milliseconds reach about 292 million years; anything beyond is not a date.
    if !ms.is_finite() || ms.abs() >= 9.2e18 {
        return Err(malformed(format!("the '{name}' claim is out of range")));
    }
    Ok(Some(ms as i64))
}

fn scope_claim(claims: &Map<String, Value>) -> Result<Vec<String>, SaslError> {
    let items: Vec<&str> = match claims.get("scope") {
        None => Vec::new(),
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(list)) => list
            .iter()
            .map(|item| {
                item.as_str()
                    .ok_or_else(|| malformed("a 'scope' entry is not a string"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(malformed(
                "the 'scope' claim is neither a string nor a list",
            ))
        }
    };
    let mut scope: Vec<String> = Vec::new();
    for item in items.into_iter().map(str::trim).filter(|s| !s.is_empty()) {
        if !scope.iter().any(|s| s == item) {
            scope.push(item.to_owned());
        }
    }
    Ok(scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_message_has_kafkas_layout() {
        assert_eq!(
            client_message("tok", None, &[]),
            b"n,,\x01auth=Bearer tok\x01\x01"
        );
        let ext = [("traceId".to_owned(), "abc=1".to_owned())];
        assert_eq!(
            client_message("tok", Some("a,b"), &ext),
            b"n,a=a=2Cb,\x01auth=Bearer tok\x01traceId=abc=1\x01\x01"
        );
    }

    #[test]
    fn error_challenge_is_kafkas_json() {
        assert_eq!(
            error_challenge("invalid_token"),
            br#"{"status":"invalid_token"}"#
        );
        assert_eq!(error_challenge("a\"b"), br#"{"status":"a\"b"}"#);
        assert_eq!(
            parse_error_challenge(&error_challenge("invalid_token")).unwrap(),
            "invalid_token"
        );
        assert!(parse_error_challenge(b"[]").is_err());
        assert!(parse_error_challenge(b"{\"status\":1}").is_err());
    }

    #[test]
    fn numeric_dates_are_whole_seconds_when_they_can_be() {
        assert_eq!(numeric_date(1_700_000_000_000).to_string(), "1700000000");
        assert_eq!(numeric_date(1_700_000_000_500).to_string(), "1700000000.5");
    }
}
