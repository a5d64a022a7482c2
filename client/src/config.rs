//! Settings shared by every kind of client: where the cluster is, how long to wait, how to
//! reconnect.
//!
//! Each setting is a typed field with the Java client's default, and can also be set by its
//! Java/librdkafka name through [`ClientConfig::set`], so that users can carry their existing
//! `key=value` configs over. [`ClientConfig::validate`] is the one check of the whole; it runs
//! in [`ClientConfigBuilder::build`] and again in [`crate::Client::connect`].
//!
//! Layering: the producer and consumer configs will embed a `ClientConfig` and try their own
//! keys first, falling back to [`ClientConfig::set`]; [`Error::UnknownConfig`] tells them the
//! key belongs to nobody. Security settings (`security.protocol`, `ssl.*`, `sasl.*`) live in
//! [`SecurityConfig`], embedded here as `security`, and are set through the same
//! [`ClientConfig::set`].

use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::security::{
    is_secret_key, OAuthBearer, OAuthBearerTokenProvider, SecurityConfig, SecurityProtocol,
    REDACTED,
};

/// Settings of the client core. Defaults are the Java client's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// `host:port` of the brokers to bootstrap from; tried in order until one answers.
    /// Java: `bootstrap.servers` (no default; required).
    pub bootstrap_servers: Vec<String>,
    /// Name sent in every request header, for the broker's logs and quotas.
    /// Java: `client.id`, default empty.
    pub client_id: String,
    /// Longest a request may take, from handing it to the connection (waiting for an in-flight
    /// slot included) until its response is decoded. Java: `request.timeout.ms`, default 30 s.
    pub request_timeout: Duration,
    /// Metadata older than this is refreshed even if nothing asked for it.
    /// Java: `metadata.max.age.ms`, default 5 min.
    pub metadata_max_age: Duration,
    /// Wait before reconnecting to a broker after a failure; doubles per consecutive failure.
    /// Java: `reconnect.backoff.ms`, default 50 ms.
    pub reconnect_backoff: Duration,
    /// Upper bound of the reconnect wait. Java: `reconnect.backoff.max.ms`, default 1 s.
    pub reconnect_backoff_max: Duration,
    /// Longest a TCP connect may take. Java: `socket.connection.setup.timeout.ms`,
    /// default 10 s.
    pub connection_setup_timeout: Duration,
    /// Requests one connection may have sent and not yet seen answered; more wait.
    /// Java: `max.in.flight.requests.per.connection`, default 5.
    pub max_in_flight_per_connection: usize,
    /// `security.protocol`, TLS and SASL settings; PLAINTEXT by default.
    pub security: SecurityConfig,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            bootstrap_servers: Vec::new(),
            client_id: String::new(),
            request_timeout: Duration::from_millis(30_000),
            metadata_max_age: Duration::from_millis(300_000),
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_millis(1_000),
            connection_setup_timeout: Duration::from_millis(10_000),
            max_in_flight_per_connection: 5,
            security: SecurityConfig::default(),
        }
    }
}

/// The keys [`ClientConfig::set`] understands, by their Java names.
pub const KEYS: &[&str] = &[
    "bootstrap.servers",
    "client.id",
    "request.timeout.ms",
    "metadata.max.age.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "socket.connection.setup.timeout.ms",
    "max.in.flight.requests.per.connection",
];

impl ClientConfig {
    /// Defaults with `bootstrap.servers` set to `servers` (comma-separated `host:port` list).
    pub fn new(servers: &str) -> Result<Self, Error> {
        let mut config = ClientConfig::default();
        config.set("bootstrap.servers", servers)?;
        Ok(config)
    }

    /// A builder starting from the defaults.
    pub fn builder() -> ClientConfigBuilder {
        ClientConfigBuilder::default()
    }

    /// Sets one setting by its Java/librdkafka name; `security.protocol`, `ssl.*` and
    /// `sasl.*` keys go to [`SecurityConfig::set`].
    ///
    /// A value that does not parse or is out of range is [`Error::InvalidConfig`]. A key no
    /// setting takes is [`Error::UnknownConfig`], with a hint: the closest known key for a
    /// typo (`linger.msx`: did you mean `linger.ms`?), or, for a Java client setting that has
    /// no meaning here, why not. Both errors name the key, and the value unless the key may
    /// hold a secret.
    ///
    /// Java-only settings (the same for the producer's and consumer's `set`): a setting that
    /// asks for what ferrokafka does anyway is accepted and ignored with a warning, so that a
    /// Java properties file carries over: `key.serializer`/`value.serializer` naming
    /// `ByteArraySerializer` (or `ByteBufferSerializer`, `BytesSerializer`), the matching
    /// `*.deserializer`s, and `client.dns.lookup=use_all_dns_ips`. Every other value of those,
    /// and `interceptor.classes`, `metric.reporters`, `metrics.*`, any other `*.class(es)`
    /// key, is refused: the application would silently lose what it asked for.
    ///
    /// ```
    /// use ferrokafka::{ClientConfig, Error};
    ///
    /// let mut config = ClientConfig::new("localhost:9092")?;
    /// config.set(
    ///     "key.serializer",
    ///     "org.apache.kafka.common.serialization.ByteArraySerializer",
    /// )?; // accepted: keys are bytes anyway
    /// let err = config.set("interceptor.classes", "com.example.Audit").unwrap_err();
    /// assert!(matches!(err, Error::UnknownConfig { .. }));
    /// let err = config.set("request.timeout.msx", "100").unwrap_err();
    /// assert!(err.to_string().contains("did you mean `request.timeout.ms`?"));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self, Error> {
        if !self.set_known(key, value)? {
            not_taken(key, value, &[])?;
        }
        Ok(self)
    }

    /// [`set`](Self::set) for the keys of this config and of [`SecurityConfig`]; `Ok(false)`
    /// when the key is neither, for the producer's and consumer's parsers to pass on to
    /// [`not_taken`] with their own keys.
    pub(crate) fn set_known(&mut self, key: &str, value: &str) -> Result<bool, Error> {
        let v = value.trim();
        match key {
            "bootstrap.servers" => self.bootstrap_servers = parse_servers(key, v)?,
            "client.id" => self.client_id = v.to_owned(),
            "request.timeout.ms" => self.request_timeout = parse_ms(key, v, 1)?,
            "metadata.max.age.ms" => self.metadata_max_age = parse_ms(key, v, 0)?,
            "reconnect.backoff.ms" => self.reconnect_backoff = parse_ms(key, v, 0)?,
            "reconnect.backoff.max.ms" => self.reconnect_backoff_max = parse_ms(key, v, 0)?,
            "socket.connection.setup.timeout.ms" => {
                self.connection_setup_timeout = parse_ms(key, v, 1)?
            }
            "max.in.flight.requests.per.connection" => {
                self.max_in_flight_per_connection = parse_number(key, v, 1usize, "an integer")?
            }
            _ => return self.security.set(key, value),
        }
        Ok(true)
    }

    /// Checks the settings as a whole; the error names the offending key.
    pub fn validate(&self) -> Result<(), Error> {
        if self.bootstrap_servers.is_empty() {
            return Err(Error::invalid_config(
                "bootstrap.servers",
                "",
                "at least one host:port is required",
            ));
        }
        for server in &self.bootstrap_servers {
            check_server("bootstrap.servers", server)?;
        }
        if self.request_timeout.is_zero() {
            return Err(Error::invalid_config(
                "request.timeout.ms",
                0,
                "must be at least 1",
            ));
        }
        if self.connection_setup_timeout.is_zero() {
            return Err(Error::invalid_config(
                "socket.connection.setup.timeout.ms",
                0,
                "must be at least 1",
            ));
        }
        if self.max_in_flight_per_connection == 0 {
            return Err(Error::invalid_config(
                "max.in.flight.requests.per.connection",
                0,
                "must be at least 1",
            ));
        }
        self.security.validate()
    }
}

/// Builds a [`ClientConfig`] with typed setters; [`ClientConfigBuilder::build`] validates.
#[derive(Debug, Clone, Default)]
pub struct ClientConfigBuilder {
    config: ClientConfig,
}

impl ClientConfigBuilder {
    /// `bootstrap.servers`: the brokers to start from, each `host:port`; a `PLAINTEXT://`-style
    /// prefix is dropped, as in [`ClientConfig::set`].
    pub fn bootstrap_servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.bootstrap_servers = servers_from(servers);
        self
    }

    /// `client.id`.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.config.client_id = id.into();
        self
    }

    /// `request.timeout.ms`.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout = timeout;
        self
    }

    /// `metadata.max.age.ms`.
    pub fn metadata_max_age(mut self, age: Duration) -> Self {
        self.config.metadata_max_age = age;
        self
    }

    /// `reconnect.backoff.ms` and `reconnect.backoff.max.ms`.
    pub fn reconnect_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.config.reconnect_backoff = initial;
        self.config.reconnect_backoff_max = max;
        self
    }

    /// `socket.connection.setup.timeout.ms`.
    pub fn connection_setup_timeout(mut self, timeout: Duration) -> Self {
        self.config.connection_setup_timeout = timeout;
        self
    }

    /// `max.in.flight.requests.per.connection`.
    pub fn max_in_flight_per_connection(mut self, n: usize) -> Self {
        self.config.max_in_flight_per_connection = n;
        self
    }

    /// `security.protocol`, TLS and SASL settings as a whole.
    pub fn security(mut self, security: SecurityConfig) -> Self {
        self.config.security = security;
        self
    }

    /// `security.protocol`.
    pub fn security_protocol(mut self, protocol: SecurityProtocol) -> Self {
        self.config.security.protocol = protocol;
        self
    }

    /// Where SASL/OAUTHBEARER tokens come from (sets `sasl.mechanism=OAUTHBEARER`).
    pub fn oauthbearer_token_provider(
        mut self,
        provider: Arc<dyn OAuthBearerTokenProvider>,
    ) -> Self {
        self.config.security.sasl.mechanism = Some(crate::security::Mechanism::OAuthBearer);
        self.config.security.sasl.oauthbearer = Some(OAuthBearer::Provider(provider));
        self
    }

    /// Any setting by its Java name; see [`ClientConfig::set`].
    pub fn set(mut self, key: &str, value: &str) -> Result<Self, Error> {
        self.config.set(key, value)?;
        Ok(self)
    }

    /// The validated config.
    pub fn build(self) -> Result<ClientConfig, Error> {
        self.config.validate()?;
        Ok(self.config)
    }
}

/// How a [`JAVA_ONLY`] entry names its keys.
enum Keys {
    Exact(&'static str),
    Prefix(&'static str),
    Suffix(&'static str),
}

impl Keys {
    fn matches(&self, key: &str) -> bool {
        match *self {
            Keys::Exact(k) => key == k,
            Keys::Prefix(p) => key.starts_with(p),
            Keys::Suffix(s) => key.ends_with(s),
        }
    }
}

/// Java client settings with no meaning in ferrokafka: why, and the values that ask for what
/// ferrokafka does anyway (accepted and ignored). One table for every parser; the first
/// matching entry wins, so the catch-all `.class` suffixes come last. Keys a parser takes
/// (`partitioner.class` in the producer, `sasl.*.class` in [`SecurityConfig`]) never get here.
const JAVA_ONLY: &[(Keys, &str, &[&str])] = &[
    (Keys::Exact("key.serializer"), SERIALIZE, BYTE_SERIALIZERS),
    (Keys::Exact("value.serializer"), SERIALIZE, BYTE_SERIALIZERS),
    (
        Keys::Exact("key.deserializer"),
        DESERIALIZE,
        BYTE_DESERIALIZERS,
    ),
    (
        Keys::Exact("value.deserializer"),
        DESERIALIZE,
        BYTE_DESERIALIZERS,
    ),
    (
        Keys::Exact("partitioner.class"),
        "a producer setting: the producer's `partitioner` (also read as `partitioner.class`) \
         takes murmur2_random (Java's default), round_robin or the names of Java's built-in \
         partitioner classes, and `partitioner.ignore.keys`; custom classes cannot be loaded",
        &[],
    ),
    (
        Keys::Exact("client.dns.lookup"),
        "every address of a host name is tried in turn, as Java's default use_all_dns_ips \
         does; no other lookup is offered",
        &["use_all_dns_ips"],
    ),
    (Keys::Exact("metric.reporters"), METRICS, &[]),
    (Keys::Prefix("metrics."), METRICS, &[]),
    (Keys::Exact("auto.include.jmx.reporter"), METRICS, &[]),
    (Keys::Exact("enable.metrics.push"), METRICS, &[]),
    (
        Keys::Exact("interceptor.classes"),
        "Java classes cannot be loaded; wrap send and recv in the application instead",
        &[],
    ),
    (Keys::Suffix(".class"), CLASSES, &[]),
    (Keys::Suffix(".classes"), CLASSES, &[]),
    (Keys::Exact("security.providers"), CLASSES, &[]),
    (Keys::Exact("config.providers"), CLASSES, &[]),
];

const SERIALIZE: &str =
    "ferrokafka takes keys and values as bytes: serialize them in the application";
const DESERIALIZE: &str =
    "ferrokafka returns keys and values as bytes: deserialize them in the application";
const METRICS: &str = "ferrokafka has no metrics registry (no JMX, reporters or metrics push)";
const CLASSES: &str = "Java classes cannot be loaded";
const BYTE_SERIALIZERS: &[&str] = &[
    "org.apache.kafka.common.serialization.ByteArraySerializer",
    "org.apache.kafka.common.serialization.ByteBufferSerializer",
    "org.apache.kafka.common.serialization.BytesSerializer",
];
const BYTE_DESERIALIZERS: &[&str] = &[
    "org.apache.kafka.common.serialization.ByteArrayDeserializer",
    "org.apache.kafka.common.serialization.ByteBufferDeserializer",
    "org.apache.kafka.common.serialization.BytesDeserializer",
];

/// What every parser does with a key none of its settings took: a Java-only setting is
/// accepted with a warning or refused with the reason ([`JAVA_ONLY`]); anything else is
/// [`Error::UnknownConfig`] suggesting the closest of `own` (the calling parser's keys), this
/// config's [`KEYS`] and the security keys.
pub(crate) fn not_taken(key: &str, value: &str, own: &[&str]) -> Result<(), Error> {
    let v = value.trim();
    if let Some((_, why, accepted)) = JAVA_ONLY.iter().find(|(keys, ..)| keys.matches(key)) {
        if accepted.contains(&v) {
            tracing::warn!(key, value = v, "ignored a Java client setting: {why}");
            return Ok(());
        }
        // These keys name classes and options, never secrets: the value helps.
        return Err(Error::UnknownConfig {
            key: key.to_owned(),
            value: v.to_owned(),
            hint: Some(format!(
                "a Java client setting that does not apply here: {why}"
            )),
        });
    }
    // An unknown security key may be a misspelt secret (`sasl.pasword`).
    let secret = is_secret_key(key) || key.starts_with("sasl.") || key.starts_with("ssl.");
    let known = own.iter().chain(KEYS).chain(crate::security::KEYS).copied();
    Err(Error::UnknownConfig {
        key: key.to_owned(),
        value: if secret { REDACTED } else { value }.to_owned(),
        hint: closest(key, known).map(|k| format!("did you mean `{k}`?")),
    })
}

/// The candidate nearest to `key` by edit distance, if it is a likely typo: at most two
/// edits, and fewer than half of `key`'s characters (so that `ab` suggests nothing).
fn closest<'a>(key: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(key, c), c))
        .filter(|&(d, _)| d <= 2 && d.saturating_mul(2) < key.chars().count())
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, by characters, in one row.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = i;
        let mut left = i + 1;
        for (&cb, up) in b.iter().zip(row.iter_mut().skip(1)) {
            let cost = usize::from(ca != cb);
            let next = (diagonal + cost).min(*up + 1).min(left + 1);
            diagonal = *up;
            *up = next;
            left = next;
        }
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
    }
    row.last().copied().unwrap_or(0)
}

/// Milliseconds, at least `min`; shared by every config that takes Java `*.ms` keys.
pub(crate) fn parse_ms(key: &str, value: &str, min: u64) -> Result<Duration, Error> {
    let ms: u64 = value
        .parse()
        .map_err(|_| Error::invalid_config(key, value, "expected milliseconds as an integer"))?;
    if ms < min {
        return Err(Error::invalid_config(
            key,
            value,
            &format!("must be at least {min}"),
        ));
    }
    Ok(Duration::from_millis(ms))
}

/// A number of type `T`, at least `min`; `expected` says what kind of number, for the error.
pub(crate) fn parse_number<T>(key: &str, value: &str, min: T, expected: &str) -> Result<T, Error>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    match value.parse::<T>() {
        Ok(n) if n >= min => Ok(n),
        Ok(_) => Err(Error::invalid_config(
            key,
            value,
            &format!("must be at least {min}"),
        )),
        Err(_) => Err(Error::invalid_config(
            key,
            value,
            &format!("expected {expected}"),
        )),
    }
}

/// `true` or `false`, in any case.
pub(crate) fn parse_bool(key: &str, value: &str) -> Result<bool, Error> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::invalid_config(key, value, "expected true or false")),
    }
}

/// A comma-separated list, as Java and librdkafka accept it; blanks around entries are
/// dropped, and so is a `NAME://` prefix (see [`server_address`]).
fn parse_servers(key: &str, value: &str) -> Result<Vec<String>, Error> {
    let servers: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| server_address(s).to_owned())
        .collect();
    if servers.is_empty() {
        return Err(Error::invalid_config(
            key,
            value,
            "at least one host:port is required",
        ));
    }
    for server in &servers {
        check_server(key, server)?;
    }
    Ok(servers)
}

/// The typed builders' `bootstrap_servers`: each entry without its `NAME://` prefix, so that
/// the builder and [`ClientConfig::set`] store the same thing.
pub(crate) fn servers_from<I, S>(servers: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    servers
        .into_iter()
        .map(|s| {
            let s: String = s.into();
            match server_address(&s) {
                address if address.len() == s.len() => s,
                address => address.to_owned(),
            }
        })
        .collect()
}

/// `server` without a leading `NAME://` (`PLAINTEXT://`, `SASL_SSL://`, a listener name such
/// as `INTERNAL://`): Java keeps only what follows the scheme, and brokers advertise their
/// listeners in that form, so such entries are common in copied configs. `NAME` is letters,
/// digits, `_` and `-`; anything else is left for [`check_server`] to refuse.
pub(crate) fn server_address(server: &str) -> &str {
    match server.split_once("://") {
        Some((name, rest))
            if !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            rest
        }
        _ => server,
    }
}

/// `host:port` or `[v6addr]:port` (after an optional `NAME://`), with a port that fits in 16
/// bits and a non-empty host.
fn check_server(key: &str, server: &str) -> Result<(), Error> {
    let bad = |reason: &str| Err(Error::invalid_config(key, server, reason));
    let address = server_address(server);
    if address.contains('/') {
        return bad("expected host:port, optionally after a listener name such as PLAINTEXT://");
    }
    let Some((host, port)) = address.rsplit_once(':') else {
        return bad("expected host:port");
    };
    if host.is_empty() || host == "[]" {
        return bad("the host is empty");
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => bad("the port must be a number from 1 to 65535"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_javas() {
        let c = ClientConfig::default();
        assert_eq!(c.request_timeout, Duration::from_secs(30));
        assert_eq!(c.metadata_max_age, Duration::from_secs(300));
        assert_eq!(c.reconnect_backoff, Duration::from_millis(50));
        assert_eq!(c.reconnect_backoff_max, Duration::from_secs(1));
        assert_eq!(c.connection_setup_timeout, Duration::from_secs(10));
        assert_eq!(c.max_in_flight_per_connection, 5);
        assert_eq!(c.client_id, "");
        assert!(c.validate().is_err(), "bootstrap.servers is required");
    }

    #[test]
    fn servers_parse_like_java() {
        let c = ClientConfig::new(" a:9092, [::1]:9093,,b.example:1 ").unwrap();
        assert_eq!(c.bootstrap_servers, ["a:9092", "[::1]:9093", "b.example:1"]);
        for bad in ["", "a", "a:0", "a:65536", ":9092", "a:x"] {
            assert_refused_server(bad);
        }
    }

    fn assert_refused_server(bad: &str) {
        let err = ClientConfig::new(bad).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidConfig { key, .. } if key == "bootstrap.servers"),
            "{bad}: {err}"
        );
    }

    #[test]
    fn listener_name_prefixes_are_dropped_as_java_does() {
        let c = ClientConfig::new(
            "PLAINTEXT://a:9092, SASL_SSL://[::1]:9093,my-listener_2://b.example:1,c:2",
        )
        .unwrap();
        assert_eq!(
            c.bootstrap_servers,
            ["a:9092", "[::1]:9093", "b.example:1", "c:2"]
        );
        let built = ClientConfig::builder()
            .bootstrap_servers(["SSL://a:9092", "[::1]:9093"])
            .build()
            .unwrap();
        assert_eq!(built.bootstrap_servers, ["a:9092", "[::1]:9093"]);
        for bad in [
            "://a:9092",
            "PLAIN TEXT://a:9092",
            "PLAINTEXT://",
            "PLAINTEXT://a",
            "PLAINTEXT://:9092",
            "PLAINTEXT://a:0",
            "a:9092/",
            "http://x/a:9092",
        ] {
            assert_refused_server(bad);
        }
    }

    #[test]
    fn a_prefixed_address_set_on_the_field_validates_and_is_stripped_for_connecting() {
        let c = ClientConfig {
            bootstrap_servers: vec!["PLAINTEXT://h:1".to_owned()],
            ..ClientConfig::default()
        };
        assert!(c.validate().is_ok());
        assert_eq!(server_address(&c.bootstrap_servers[0]), "h:1");
        assert_eq!(server_address("[::1]:9092"), "[::1]:9092");
    }

    fn hint_of(err: Error) -> Option<String> {
        match err {
            Error::UnknownConfig { hint, .. } => hint,
            other => panic!("expected UnknownConfig, got {other}"),
        }
    }

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("linger.ms", "linger.ms"), 0);
        assert_eq!(edit_distance("linger.msx", "linger.ms"), 1);
        assert_eq!(edit_distance("lingre.ms", "linger.ms"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn typos_get_the_closest_key_the_parser_knows() {
        let mut client = ClientConfig::default();
        let err = client.set("bootstrap.server", "h:1").unwrap_err();
        assert!(
            err.to_string()
                .ends_with("; did you mean `bootstrap.servers`?"),
            "{err}"
        );
        let hint = hint_of(client.set("sasl.mechanisn", "PLAIN").unwrap_err());
        assert_eq!(hint.as_deref(), Some("did you mean `sasl.mechanism`?"));
        // The client parser does not know producer keys; the producer's does.
        assert_eq!(hint_of(client.set("linger.msx", "5").unwrap_err()), None);
        let mut producer = crate::ProducerConfig::default();
        let hint = hint_of(producer.set("linger.msx", "5").unwrap_err());
        assert_eq!(hint.as_deref(), Some("did you mean `linger.ms`?"));
        let hint = hint_of(producer.set("client.idd", "x").unwrap_err());
        assert_eq!(hint.as_deref(), Some("did you mean `client.id`?"));
        let mut consumer = crate::ConsumerConfig::default();
        let hint = hint_of(consumer.set("group.idd", "g").unwrap_err());
        assert_eq!(hint.as_deref(), Some("did you mean `group.id`?"));
        // Too far from anything, or too short to guess from: no suggestion.
        assert_eq!(
            hint_of(consumer.set("no.such.thing", "1").unwrap_err()),
            None
        );
        assert_eq!(hint_of(consumer.set("ac", "1").unwrap_err()), None);
    }

    #[test]
    fn byte_serializers_and_javas_dns_default_are_accepted_by_every_parser() {
        let accepted = [
            (
                "key.serializer",
                "org.apache.kafka.common.serialization.ByteArraySerializer",
            ),
            (
                "value.serializer",
                " org.apache.kafka.common.serialization.BytesSerializer ",
            ),
            (
                "key.deserializer",
                "org.apache.kafka.common.serialization.ByteArrayDeserializer",
            ),
            (
                "value.deserializer",
                "org.apache.kafka.common.serialization.ByteBufferDeserializer",
            ),
            ("client.dns.lookup", "use_all_dns_ips"),
        ];
        for (key, value) in accepted {
            let before = ClientConfig::default();
            let mut client = before.clone();
            client.set(key, value).unwrap();
            assert_eq!(client, before, "{key} changed something");
            crate::ProducerConfig::default().set(key, value).unwrap();
            crate::ConsumerConfig::default().set(key, value).unwrap();
        }
    }

    #[test]
    fn other_java_only_settings_are_refused_with_the_reason() {
        let refused = [
            (
                "value.serializer",
                "org.apache.kafka.common.serialization.StringSerializer",
                "serialize them in the application",
            ),
            (
                "key.deserializer",
                "org.apache.kafka.common.serialization.ByteArraySerializer",
                "deserialize them in the application",
            ),
            (
                "interceptor.classes",
                "com.example.Audit",
                "cannot be loaded",
            ),
            (
                "metric.reporters",
                "com.example.Reporter",
                "no metrics registry",
            ),
            ("metrics.recording.level", "INFO", "no metrics registry"),
            ("sasl.login.class", "com.example.Login", "cannot be loaded"),
            (
                "ssl.engine.factory.class",
                "com.example.Engine",
                "cannot be loaded",
            ),
            (
                "client.dns.lookup",
                "resolve_canonical_bootstrap_servers_only",
                "use_all_dns_ips",
            ),
        ];
        for (key, value, why) in refused {
            for err in [
                ClientConfig::default()
                    .set(key, value)
                    .map(drop)
                    .unwrap_err(),
                crate::ProducerConfig::default()
                    .set(key, value)
                    .map(drop)
                    .unwrap_err(),
                crate::ConsumerConfig::default()
                    .set(key, value)
                    .map(drop)
                    .unwrap_err(),
            ] {
                let text = err.to_string();
                assert!(
                    text.contains("a Java client setting") && text.contains(why),
                    "{text}"
                );
                assert!(text.contains(value.trim()), "{text}");
            }
        }
        // The producer takes `partitioner.class`; elsewhere it is refused, naming the setting.
        crate::ProducerConfig::default()
            .set(
                "partitioner.class",
                "org.apache.kafka.clients.producer.RoundRobinPartitioner",
            )
            .unwrap();
        let err = crate::ConsumerConfig::default()
            .set("partitioner.class", "x")
            .map(drop)
            .unwrap_err();
        assert!(
            err.to_string().contains("`partitioner.ignore.keys`"),
            "{err}"
        );
    }

    #[test]
    fn misspelt_secrets_stay_redacted() {
        let err = ClientConfig::default()
            .set("sasl.pasword", "hunter2")
            .map(drop)
            .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert_eq!(
            hint_of(err).as_deref(),
            Some("did you mean `sasl.password`?")
        );
    }

    #[test]
    fn every_listed_key_is_accepted() {
        let mut c = ClientConfig::default();
        for key in KEYS {
            let value = if *key == "bootstrap.servers" {
                "h:1"
            } else {
                "7"
            };
            c.set(key, value).unwrap();
        }
        assert_eq!(c.client_id, "7");
        assert_eq!(c.max_in_flight_per_connection, 7);
        assert_eq!(c.reconnect_backoff_max, Duration::from_millis(7));
    }
}
