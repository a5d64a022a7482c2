//! [`ProducerConfig`]: the producer's settings, typed, with the Java names and defaults.
//!
//! The producer embeds a [`ClientConfig`] (bootstrap servers, client id, `request.timeout.ms`,
//! `max.in.flight.requests.per.connection`, reconnect backoff, ...): [`ProducerConfig::set`]
//! tries the producer's keys first and hands every other key to [`ClientConfig::set`].
//! [`ProducerConfig::validate`] checks the whole, and runs in [`ProducerConfigBuilder::build`]
//! and again in [`crate::Producer::connect`].
//!
//! Defaults are the Java client's (4.x). Where librdkafka differs we follow Java, and say so
//! on the field: `batch.size`, `enable.idempotence`, `max.in.flight.requests.per.connection`,
//! `delivery.timeout.ms` (librdkafka's `message.timeout.ms`) and `buffer.memory`
//! (librdkafka's `queue.buffering.max.kbytes`). Two Java subtleties are kept on purpose:
//! idempotence that was not asked for is quietly turned off when `acks`, `retries` or the
//! in-flight limit rule it out (asked for explicitly, the combination is an error), and a
//! `delivery.timeout.ms` left at its default is raised to `linger.ms + request.timeout.ms`
//! (set explicitly below that, it is an error).
//!
//! `transactional.id` and `transaction.timeout.ms` are read here and used by
//! [`crate::TransactionalProducer`] (a plain [`crate::Producer`] ignores them).
//!
//! What not: `max.request.size` per-topic overrides,
//! compression levels, custom partitioner classes.

use crate::config::{parse_bool, parse_ms, parse_number};
use std::time::Duration;

use ferrokafka_protocol::record::Compression;

use crate::config::ClientConfig;
use crate::error::Error;
use crate::partitioner::Partitioner;

/// How many acknowledgements the producer asks the partition leader for (`acks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Acks {
    /// `acks=0`: no response at all; the broker may lose the record silently, and the
    /// producer learns no offset.
    None,
    /// `acks=1`: the leader has written the record.
    Leader,
    /// `acks=all` (`-1`): every in-sync replica has it. Java's default since 3.0, and
    /// librdkafka's.
    #[default]
    All,
}

impl Acks {
    /// The value of the Produce request's `acks` field.
    pub const fn as_i16(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

/// Java's limit on in-flight requests with idempotence: the broker remembers five batches
/// per producer and partition.
pub const MAX_IN_FLIGHT_WITH_IDEMPOTENCE: usize = 5;

/// Settings of a [`crate::Producer`]. Defaults are the Java client's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducerConfig {
    /// Connection settings; `request.timeout.ms` bounds each Produce request and
    /// `max.in.flight.requests.per.connection` (default 5) caps the Produce requests per
    /// broker that await an answer.
    pub client: ClientConfig,
    /// Java: `acks` (`0`, `1`, `all`/`-1`), default `all`. librdkafka also reads
    /// `request.required.acks`.
    pub acks: Acks,
    /// Codec of every batch. Java: `compression.type` (`none`, `gzip`, `snappy`, `lz4`,
    /// `zstd`), default `none`; librdkafka also reads `compression.codec`.
    pub compression: Compression,
    /// How long a batch waits for more records before it is sent. Java: `linger.ms`,
    /// default 5 ms (since Kafka 4.0, KIP-1030; librdkafka also 5 ms).
    pub linger: Duration,
    /// A batch is sent once it holds this many bytes (uncompressed size); a record larger
    /// than this gets a batch of its own. Java: `batch.size`, default 16384 (librdkafka:
    /// 1000000; we follow Java). 0 means one record per batch.
    pub batch_size: usize,
    /// Bytes of records the producer may hold before [`crate::Producer::send`] waits for
    /// room (backpressure). Java: `buffer.memory`, default 33554432 (32 MiB; librdkafka's
    /// `queue.buffering.max.kbytes` is 1 GiB; we follow Java).
    pub buffer_memory: usize,
    /// Longest [`crate::Producer::send`] waits for buffer room or for the topic's metadata.
    /// Java: `max.block.ms`, default 60 s.
    pub max_block: Duration,
    /// Idempotence (KIP-98): a producer id and per-partition sequence numbers, so retries
    /// neither duplicate nor reorder records. Java: `enable.idempotence`, default true
    /// (librdkafka: false; we follow Java). `None` is the default: on, unless `acks`,
    /// `retries` or the in-flight limit rule it out, in which case it is off, as in Java.
    /// `Some(true)` with such a setting fails [`ProducerConfig::validate`].
    pub enable_idempotence: Option<bool>,
    /// Retries of a batch after a retriable error; `delivery.timeout.ms` usually ends
    /// retrying first. Java: `retries`, default `i32::MAX`.
    pub retries: u32,
    /// Upper bound on a record's life from [`crate::Producer::send`] to its outcome,
    /// lingering, retries and backoff included. Java: `delivery.timeout.ms`, default 120 s
    /// (librdkafka's `message.timeout.ms`, 300 s; we follow Java). `None` is the default,
    /// raised to `linger.ms + request.timeout.ms` when that is larger, as in Java.
    pub delivery_timeout: Option<Duration>,
    /// Wait before the first retry of a batch; doubles per attempt up to `retry_backoff_max`.
    /// Java: `retry.backoff.ms`, default 100 ms.
    pub retry_backoff: Duration,
    /// Upper bound of the retry wait. Java: `retry.backoff.max.ms`, default 1 s.
    pub retry_backoff_max: Duration,
    /// Largest Produce request, and so largest record. Java: `max.request.size`, default
    /// 1048576.
    pub max_request_size: usize,
    /// Partition choice for records without an explicit partition. Java: `partitioner.class`
    /// and `partitioner.ignore.keys`; librdkafka: `partitioner` (only `murmur2_random`, which
    /// is Java's default behaviour).
    pub partitioner: Partitioner,
    /// Ask the broker to create the topics records go to when they do not exist, in every
    /// Metadata request of this producer (the broker's `auto.create.topics.enable` must also
    /// allow it): before the first record of a topic and again when a topic disappeared (a
    /// broker that restarted empty). Java's producer always asks; librdkafka:
    /// `allow.auto.create.topics`, default true for producers, as here.
    pub allow_auto_create_topics: bool,
    /// The transactional id (KIP-98): only for [`crate::TransactionalProducer`], which it
    /// makes transactional and idempotent (acks=all). Java: `transactional.id`, default none.
    pub transactional_id: Option<String>,
    /// Longest a transaction may stay open before the coordinator aborts it. Java:
    /// `transaction.timeout.ms`, default 60 s.
    pub transaction_timeout: Duration,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            client: ClientConfig::default(),
            acks: Acks::All,
            compression: Compression::None,
            linger: Duration::from_millis(5),
            batch_size: 16_384,
            buffer_memory: 33_554_432,
            max_block: Duration::from_millis(60_000),
            enable_idempotence: None,
            retries: i32::MAX as u32,
            delivery_timeout: None,
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_millis(1_000),
            max_request_size: 1_048_576,
            partitioner: Partitioner::Default,
            allow_auto_create_topics: true,
            transactional_id: None,
            transaction_timeout: Duration::from_millis(60_000),
        }
    }
}

/// The keys [`ProducerConfig::set`] handles itself; every other key goes to
/// [`ClientConfig::set`].
pub const KEYS: &[&str] = &[
    "acks",
    "request.required.acks",
    "compression.type",
    "compression.codec",
    "linger.ms",
    "queue.buffering.max.ms",
    "batch.size",
    "buffer.memory",
    "max.block.ms",
    "enable.idempotence",
    "retries",
    "message.send.max.retries",
    "delivery.timeout.ms",
    "message.timeout.ms",
    "retry.backoff.ms",
    "retry.backoff.max.ms",
    "max.request.size",
    "partitioner",
    "partitioner.class",
    "partitioner.ignore.keys",
    "allow.auto.create.topics",
    "transactional.id",
    "transaction.timeout.ms",
];

const DEFAULT_DELIVERY_TIMEOUT: Duration = Duration::from_millis(120_000);

impl ProducerConfig {
    /// Defaults with `bootstrap.servers` set to `servers` (comma-separated `host:port`s).
    pub fn new(servers: &str) -> Result<Self, Error> {
        Ok(ProducerConfig {
            client: ClientConfig::new(servers)?,
            ..ProducerConfig::default()
        })
    }

    /// A builder starting from the defaults.
    pub fn builder() -> ProducerConfigBuilder {
        ProducerConfigBuilder::default()
    }

    /// Sets one setting by its Java (or librdkafka) name; keys the producer does not know
    /// go to [`ClientConfig::set`], whose rules for unknown and Java-only keys apply here too
    /// (a typo is told the closest producer or client key). Errors name the key and the
    /// value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self, Error> {
        let v = value.trim();
        match key {
            "acks" | "request.required.acks" => {
                self.acks = match v {
                    "0" => Acks::None,
                    "1" => Acks::Leader,
                    "-1" | "all" => Acks::All,
                    _ => return Err(Error::invalid_config(key, v, "expected 0, 1, all or -1")),
                }
            }
            "compression.type" | "compression.codec" => {
                self.compression = v.parse().map_err(|e: super::ParseCompressionError| {
                    Error::invalid_config(key, v, &e.to_string())
                })?
            }
            "linger.ms" | "queue.buffering.max.ms" => self.linger = parse_ms(key, v, 0)?,
            "batch.size" => self.batch_size = parse_number(key, v, 0, "a non-negative integer")?,
            "buffer.memory" => {
                self.buffer_memory = parse_number(key, v, 1, "a non-negative integer")?
            }
            "max.block.ms" => self.max_block = parse_ms(key, v, 0)?,
            "enable.idempotence" => self.enable_idempotence = Some(parse_bool(key, v)?),
            "retries" | "message.send.max.retries" => {
                self.retries = u32::try_from(parse_number(key, v, 0, "a non-negative integer")?)
                    .ok()
                    .filter(|n| *n <= i32::MAX as u32)
                    .ok_or_else(|| Error::invalid_config(key, v, "must be at most 2147483647"))?
            }
            "delivery.timeout.ms" | "message.timeout.ms" => {
                self.delivery_timeout = Some(parse_ms(key, v, 1)?)
            }
            "retry.backoff.ms" => self.retry_backoff = parse_ms(key, v, 0)?,
            "retry.backoff.max.ms" => self.retry_backoff_max = parse_ms(key, v, 0)?,
            "max.request.size" => {
                self.max_request_size = parse_number(key, v, 1, "a non-negative integer")?
            }
            "partitioner" | "partitioner.class" => {
                self.partitioner = Partitioner::from_name(v).ok_or_else(|| {
                    Error::invalid_config(
                        key,
                        v,
                        "supported: murmur2_random (Java's default partitioner), \
                         org.apache.kafka.clients.producer.UniformStickyPartitioner, \
                         org.apache.kafka.clients.producer.RoundRobinPartitioner",
                    )
                })?
            }
            "partitioner.ignore.keys" => {
                self.partitioner = if parse_bool(key, v)? {
                    Partitioner::IgnoreKeys
                } else {
                    Partitioner::Default
                }
            }
            "allow.auto.create.topics" => self.allow_auto_create_topics = parse_bool(key, v)?,
            "transactional.id" => {
                self.transactional_id = (!v.is_empty()).then(|| v.to_owned());
            }
            "transaction.timeout.ms" => self.transaction_timeout = parse_ms(key, v, 1)?,
            _ => {
                if !self.client.set_known(key, value)? {
                    crate::config::not_taken(key, value, KEYS)?;
                }
            }
        }
        Ok(self)
    }

    /// Whether the producer is idempotent, after Java's rule for an unset
    /// `enable.idempotence`: on unless `acks`, `retries` or the in-flight limit rule it out.
    pub fn idempotent(&self) -> bool {
        match self.enable_idempotence {
            Some(on) => on,
            None => {
                self.acks == Acks::All
                    && self.retries > 0
                    && self.client.max_in_flight_per_connection <= MAX_IN_FLIGHT_WITH_IDEMPOTENCE
            }
        }
    }

    /// The delivery timeout in force: `delivery.timeout.ms`, or, left unset, the default
    /// raised to `linger.ms + request.timeout.ms` when that is larger (as Java does).
    pub fn effective_delivery_timeout(&self) -> Duration {
        self.delivery_timeout.unwrap_or_else(|| {
            DEFAULT_DELIVERY_TIMEOUT.max(self.linger + self.client.request_timeout)
        })
    }

    /// Checks the settings as a whole; the error names the offending key.
    pub fn validate(&self) -> Result<(), Error> {
        self.client.validate()?;
        if self.transactional_id.is_some() {
            if self.enable_idempotence == Some(false) {
                return Err(Error::invalid_config(
                    "enable.idempotence",
                    false,
                    "a transactional.id needs idempotence",
                ));
            }
            if self.acks != Acks::All {
                return Err(Error::invalid_config(
                    "acks",
                    self.acks.as_i16(),
                    "must be all (-1) with a transactional.id",
                ));
            }
        }
        if self.enable_idempotence == Some(true) {
            if self.acks != Acks::All {
                return Err(Error::invalid_config(
                    "acks",
                    self.acks.as_i16(),
                    "must be all (-1) with enable.idempotence=true",
                ));
            }
            let in_flight = self.client.max_in_flight_per_connection;
            if in_flight > MAX_IN_FLIGHT_WITH_IDEMPOTENCE {
                return Err(Error::invalid_config(
                    "max.in.flight.requests.per.connection",
                    in_flight,
                    "must be at most 5 with enable.idempotence=true",
                ));
            }
            if self.retries == 0 {
                return Err(Error::invalid_config(
                    "retries",
                    0,
                    "must be at least 1 with enable.idempotence=true",
                ));
            }
        }
        if let Some(delivery) = self.delivery_timeout {
            let floor = self.linger + self.client.request_timeout;
            if delivery < floor {
                return Err(Error::invalid_config(
                    "delivery.timeout.ms",
                    delivery.as_millis(),
                    &format!(
                        "must be at least linger.ms + request.timeout.ms = {}",
                        floor.as_millis()
                    ),
                ));
            }
        }
        if self.buffer_memory == 0 {
            return Err(Error::invalid_config(
                "buffer.memory",
                0,
                "must be at least 1",
            ));
        }
        if self.max_request_size == 0 {
            return Err(Error::invalid_config(
                "max.request.size",
                0,
                "must be at least 1",
            ));
        }
        if u32::try_from(self.buffer_memory).is_err() {
            return Err(Error::invalid_config(
                "buffer.memory",
                self.buffer_memory,
                "must be at most 4294967295",
            ));
        }
        Ok(())
    }
}

/// Builds a [`ProducerConfig`] with typed setters; [`ProducerConfigBuilder::build`]
/// validates.
#[derive(Debug, Clone, Default)]
pub struct ProducerConfigBuilder {
    config: ProducerConfig,
}

impl ProducerConfigBuilder {
    /// `bootstrap.servers`.
    pub fn bootstrap_servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.client.bootstrap_servers = crate::config::servers_from(servers);
        self
    }

    /// The connection settings as a whole (replaces any set before).
    pub fn client(mut self, client: ClientConfig) -> Self {
        self.config.client = client;
        self
    }

    /// `client.id`.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.config.client.client_id = id.into();
        self
    }

    /// `acks`.
    /// Sets `transactional.id` (for [`crate::TransactionalProducer`]).
    pub fn transactional_id(mut self, id: impl Into<String>) -> Self {
        self.config.transactional_id = Some(id.into());
        self
    }

    /// Sets `transaction.timeout.ms`.
    pub fn transaction_timeout(mut self, timeout: Duration) -> Self {
        self.config.transaction_timeout = timeout;
        self
    }

    pub fn acks(mut self, acks: Acks) -> Self {
        self.config.acks = acks;
        self
    }

    /// `compression.type`. [`Compression`] is re-exported here and at the crate root, so no
    /// dependency on `ferrokafka-protocol` is needed to name it:
    ///
    /// ```
    /// use ferrokafka::producer::{Compression, ProducerConfig};
    ///
    /// let config = ProducerConfig::builder()
    ///     .bootstrap_servers(["localhost:9092"])
    ///     .compression(Compression::Zstd)
    ///     .build()?;
    /// assert_eq!(config.compression, ferrokafka::Compression::Zstd);
    /// # Ok::<(), ferrokafka::Error>(())
    /// ```
    pub fn compression(mut self, compression: Compression) -> Self {
        self.config.compression = compression;
        self
    }

    /// `linger.ms`.
    pub fn linger(mut self, linger: Duration) -> Self {
        self.config.linger = linger;
        self
    }

    /// `batch.size`, in bytes.
    pub fn batch_size(mut self, bytes: usize) -> Self {
        self.config.batch_size = bytes;
        self
    }

    /// `buffer.memory`, in bytes.
    pub fn buffer_memory(mut self, bytes: usize) -> Self {
        self.config.buffer_memory = bytes;
        self
    }

    /// `max.block.ms`.
    pub fn max_block(mut self, max: Duration) -> Self {
        self.config.max_block = max;
        self
    }

    /// `enable.idempotence`, explicitly.
    pub fn enable_idempotence(mut self, on: bool) -> Self {
        self.config.enable_idempotence = Some(on);
        self
    }

    /// `max.in.flight.requests.per.connection`.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.config.client.max_in_flight_per_connection = n;
        self
    }

    /// `retries`.
    pub fn retries(mut self, n: u32) -> Self {
        self.config.retries = n;
        self
    }

    /// `delivery.timeout.ms`, explicitly.
    pub fn delivery_timeout(mut self, timeout: Duration) -> Self {
        self.config.delivery_timeout = Some(timeout);
        self
    }

    /// `request.timeout.ms`.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.client.request_timeout = timeout;
        self
    }

    /// `retry.backoff.ms` and `retry.backoff.max.ms`.
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.config.retry_backoff = initial;
        self.config.retry_backoff_max = max;
        self
    }

    /// `max.request.size`, in bytes.
    pub fn max_request_size(mut self, bytes: usize) -> Self {
        self.config.max_request_size = bytes;
        self
    }

    /// `partitioner` / `partitioner.class`.
    pub fn partitioner(mut self, partitioner: Partitioner) -> Self {
        self.config.partitioner = partitioner;
        self
    }

    /// `allow.auto.create.topics`.
    pub fn allow_auto_create_topics(mut self, on: bool) -> Self {
        self.config.allow_auto_create_topics = on;
        self
    }

    /// Any setting by its Java name; see [`ProducerConfig::set`].
    pub fn set(mut self, key: &str, value: &str) -> Result<Self, Error> {
        self.config.set(key, value)?;
        Ok(self)
    }

    /// The validated config.
    pub fn build(self) -> Result<ProducerConfig, Error> {
        self.config.validate()?;
        Ok(self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(err: &Error) -> &str {
        match err {
            Error::InvalidConfig { key, .. } => key,
            other => panic!("not a config error: {other}"),
        }
    }

    #[test]
    fn defaults_are_javas() {
        let c = ProducerConfig::default();
        assert_eq!(c.acks, Acks::All);
        assert_eq!(c.linger, Duration::from_millis(5));
        assert_eq!(c.batch_size, 16_384);
        assert_eq!(c.buffer_memory, 33_554_432);
        assert_eq!(c.retries, 2_147_483_647);
        assert_eq!(c.effective_delivery_timeout(), Duration::from_secs(120));
        assert_eq!(c.client.request_timeout, Duration::from_secs(30));
        assert_eq!(c.client.max_in_flight_per_connection, 5);
        assert_eq!(c.max_block, Duration::from_secs(60));
        assert_eq!(c.retry_backoff, Duration::from_millis(100));
        assert!(c.idempotent());
    }

    #[test]
    fn set_maps_java_and_librdkafka_names() {
        let mut c = ProducerConfig::new("h:1").unwrap();
        c.set("acks", "1").unwrap();
        assert_eq!(c.acks, Acks::Leader);
        c.set("request.required.acks", "-1").unwrap();
        assert_eq!(c.acks, Acks::All);
        c.set("compression.codec", "ZSTD").unwrap();
        assert_eq!(c.compression, Compression::Zstd);
        c.set("linger.ms", "0").unwrap();
        c.set("max.in.flight.requests.per.connection", "3").unwrap();
        assert_eq!(c.client.max_in_flight_per_connection, 3);
        c.set("client.id", "me").unwrap();
        assert_eq!(c.client.client_id, "me");
        c.set("partitioner", "murmur2_random").unwrap();
        c.set("partitioner.ignore.keys", "true").unwrap();
        assert_eq!(c.partitioner, Partitioner::IgnoreKeys);
        for key in KEYS {
            let value = match *key {
                "acks" | "request.required.acks" => "all",
                "compression.type" | "compression.codec" => "lz4",
                "enable.idempotence" | "partitioner.ignore.keys" | "allow.auto.create.topics" => {
                    "true"
                }
                "partitioner" | "partitioner.class" => "murmur2_random",
                _ => "40000",
            };
            c.set(key, value).unwrap_or_else(|e| panic!("{key}: {e}"));
        }
        assert!(matches!(
            c.set("no.such.key", "1"),
            Err(Error::UnknownConfig { .. })
        ));
        for (key, bad) in [
            ("acks", "2"),
            ("compression.type", "brotli"),
            ("linger.ms", "-1"),
            ("enable.idempotence", "yes"),
            ("retries", "2147483648"),
            ("partitioner", "fnv1a"),
            ("buffer.memory", "0"),
        ] {
            let err = c.set(key, bad).unwrap_err();
            assert_eq!(key_of(&err), key, "{err}");
        }
    }

    #[test]
    fn bad_combinations_name_the_setting() {
        let base = || ProducerConfig::builder().bootstrap_servers(["h:1"]);
        let err = base()
            .enable_idempotence(true)
            .acks(Acks::Leader)
            .build()
            .unwrap_err();
        assert_eq!(key_of(&err), "acks");
        let err = base()
            .enable_idempotence(true)
            .max_in_flight(6)
            .build()
            .unwrap_err();
        assert_eq!(key_of(&err), "max.in.flight.requests.per.connection");
        let err = base()
            .enable_idempotence(true)
            .retries(0)
            .build()
            .unwrap_err();
        assert_eq!(key_of(&err), "retries");
        let err = base()
            .linger(Duration::from_millis(100))
            .request_timeout(Duration::from_secs(30))
            .delivery_timeout(Duration::from_millis(30_050))
            .build()
            .unwrap_err();
        assert_eq!(key_of(&err), "delivery.timeout.ms");
        assert!(err.to_string().contains("30100"), "{err}");

        // Left unset, idempotence yields to acks=1 as in Java; the default delivery timeout
        // is raised instead of refused.
        let c = base()
            .acks(Acks::Leader)
            .max_in_flight(10)
            .request_timeout(Duration::from_secs(200))
            .build()
            .unwrap();
        assert!(!c.idempotent());
        assert_eq!(
            c.effective_delivery_timeout(),
            Duration::from_millis(200_005)
        );
    }
}
