//! Kafka wire-protocol pieces shared by the ferrokafka client and the mini-broker: frames,
//! headers, the versions we speak, the error-code table, record batches, and the SASL mechanisms.
//!
//! Message bodies are the `kafka-protocol` crate's types; everything here that reads bytes from
//! the network bounds each length and count by the bytes actually present.

// Network input must never panic: no unwrap, expect, panic or unchecked indexing outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod error_code;
pub mod frame;
pub mod header;
pub mod record;
pub mod sasl;
pub mod security;
pub mod transport;
pub mod versions;
pub mod wire_check;

pub use error_code::ErrorCode;
pub use kafka_protocol;
