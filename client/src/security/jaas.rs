//! Java's `sasl.jaas.config` line and librdkafka's `sasl.oauthbearer.config`, read into
//! [`SaslConfig`] fields.
//!
//! A JAAS line is `<LoginModule class> <flag> key=value ... ;` with values bare or in double
//! quotes (backslash escapes the next character). Kafka takes exactly one module per line; so
//! do we. Understood: `PlainLoginModule` and `ScramLoginModule` (`username`, `password`), and
//! `OAuthBearerLoginModule` with Kafka's unsecured-token options
//! (`unsecuredLoginStringClaim_sub`, `unsecuredLoginLifetimeSeconds`,
//! `unsecuredLoginListClaim_scope`, `unsecuredLoginExtension_<name>`).
//!
//! Errors never quote a value: the line holds a password.

use std::time::Duration;

use super::{OAuthBearer, SaslConfig, Secret};

const PLAIN: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";
const SCRAM: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";
const OAUTHBEARER: &str = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule";

/// Java's default lifetime of an unsecured token.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// Reads a `sasl.jaas.config` value into `sasl`.
pub(super) fn apply(line: &str, sasl: &mut SaslConfig) -> Result<(), String> {
    let (module, options) = parse(line)?;
    match module.as_str() {
        PLAIN | SCRAM => {
            for (key, value) in options {
                match key.as_str() {
                    "username" => sasl.username = Some(value),
                    "password" => sasl.password = Some(Secret::new(value)),
                    _ => {} // Kafka ignores options its module does not use
                }
            }
            Ok(())
        }
        OAUTHBEARER => {
            if options.iter().any(|(k, _)| k.starts_with("unsecuredLogin")) {
                sasl.oauthbearer = Some(unsecured_from_jaas(&options)?);
            }
            Ok(())
        }
        other => Err(format!(
            "login module {other} is not supported; use {PLAIN}, {SCRAM} or {OAUTHBEARER}"
        )),
    }
}

fn unsecured_from_jaas(options: &[(String, String)]) -> Result<OAuthBearer, String> {
    let mut principal = None;
    let mut lifetime = DEFAULT_LIFETIME;
    let mut scope = Vec::new();
    let mut extensions = Vec::new();
    for (key, value) in options {
        if key == "unsecuredLoginStringClaim_sub" {
            principal = Some(value.clone());
        } else if key == "unsecuredLoginLifetimeSeconds" {
            lifetime = seconds(key, value)?;
        } else if key == "unsecuredLoginListClaim_scope" {
            // Kafka's list syntax: the first character is the separator.
            let mut chars = value.chars();
            if let Some(separator) = chars.next() {
                scope = chars
                    .as_str()
                    .split(separator)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
        } else if let Some(name) = key.strip_prefix("unsecuredLoginExtension_") {
            extensions.push((name.to_owned(), value.clone()));
        }
    }
    let principal = principal
        .filter(|p| !p.is_empty())
        .ok_or("OAuthBearerLoginModule needs unsecuredLoginStringClaim_sub (the principal)")?;
    Ok(OAuthBearer::Unsecured {
        principal,
        lifetime,
        scope,
        extensions,
    })
}

/// librdkafka's `sasl.oauthbearer.config` for unsecured tokens:
/// `principal=<name> [lifeSeconds=<n>] [scope=<a,b>] [extension_<name>=<value>]...`.
pub(super) fn unsecured_from_librdkafka(config: &str) -> Result<OAuthBearer, String> {
    let mut principal = None;
    let mut lifetime = DEFAULT_LIFETIME;
    let mut scope = Vec::new();
    let mut extensions = Vec::new();
    for pair in config.split_whitespace() {
        let (key, value) = pair
            .split_once('=')
            .ok_or("expected space-separated key=value pairs")?;
        match key {
            "principal" => principal = Some(value.to_owned()),
            "lifeSeconds" => lifetime = seconds(key, value)?,
            "scope" => {
                scope = value
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            "principalClaimName" | "scopeClaimName" => {
                return Err(format!("{key} other than the default is not supported"))
            }
            _ => match key.strip_prefix("extension_") {
                Some(name) => extensions.push((name.to_owned(), value.to_owned())),
                None => return Err(format!("unknown key {key}")),
            },
        }
    }
    let principal = principal
        .filter(|p| !p.is_empty())
        .ok_or("unsecured tokens need principal=<name>")?;
    Ok(OAuthBearer::Unsecured {
        principal,
        lifetime,
        scope,
        extensions,
    })
}

fn seconds(key: &str, value: &str) -> Result<Duration, String> {
    match value.parse::<u64>() {
        Ok(s) if s > 0 && s <= 365 * 86_400 => Ok(Duration::from_secs(s)),
        _ => Err(format!(
            "{key} must be a number of seconds from 1 to 31536000"
        )),
    }
}

/// Splits a JAAS line into its module class and options; checks the flag and the `;`.
fn parse(line: &str) -> Result<(String, Vec<(String, String)>), String> {
    let tokens = tokenize(line)?;
    let mut tokens = tokens.into_iter();
    let module = match tokens.next() {
        Some(Token::Word(w)) => w,
        _ => return Err("expected a login module class first".to_owned()),
    };
    match tokens.next() {
        Some(Token::Word(flag))
            if ["required", "requisite", "sufficient", "optional"].contains(&flag.as_str()) => {}
        _ => return Err(format!("expected a control flag (required) after {module}")),
    }
    let mut options = Vec::new();
    loop {
        match tokens.next() {
            Some(Token::Semicolon) => break,
            Some(Token::Word(key)) => {
                if tokens.next() != Some(Token::Equals) {
                    return Err(format!("expected `=` after option {key}"));
                }
                match tokens.next() {
                    Some(Token::Word(value)) | Some(Token::Quoted(value)) => {
                        options.push((key, value))
                    }
                    _ => return Err(format!("expected a value for option {key}")),
                }
            }
            Some(_) => return Err("expected an option name".to_owned()),
            None => return Err("the line must end with `;`".to_owned()),
        }
    }
    if tokens.next().is_some() {
        return Err("exactly one login module is allowed".to_owned());
    }
    Ok((module, options))
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Equals,
    Semicolon,
}

fn tokenize(line: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '=' => {
                chars.next();
                tokens.push(Token::Equals);
            }
            ';' => {
                chars.next();
                tokens.push(Token::Semicolon);
            }
            '"' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(escaped) => value.push(escaped),
                            None => return Err("unterminated quoted value".to_owned()),
                        },
                        Some(other) => value.push(other),
                        None => return Err("unterminated quoted value".to_owned()),
                    }
                }
                tokens.push(Token::Quoted(value));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '=' || c == ';' || c == '"' {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}
