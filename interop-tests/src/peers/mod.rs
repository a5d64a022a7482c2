//! Third-party clients driven by the scenarios: librdkafka (the `rdkafka` crate, with group
//! consumers in [`rdkafka_group`]), kcat, the Java `kafka-clients` library (a group member in
//! [`java_group`]; a Kafka Streams application in [`java_streams`]), and kafka-python
//! ([`python`]).

pub mod java;
pub mod java_group;
pub mod java_streams;
pub mod kcat;
pub mod python;
pub mod rdkafka;
pub mod rdkafka_group;

/// Producer settings a scenario varies: `(key, value)` pairs with Java/librdkafka names,
/// which all three peers share (`acks`, `compression.type`, `enable.idempotence`, ...).
pub type Settings<'a> = &'a [(&'a str, &'a str)];

/// Where a produced record landed.
pub type Delivered = (i32, i64);
