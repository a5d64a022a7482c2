//! What a handler may know of the connection a request arrived on: the listener's security
//! protocol and advertised address, the peer, and the SASL session.
//!
//! The server keeps one per connection and passes it to [`crate::handlers::dispatch`], so a
//! handler can answer with the address of the listener the client used (as Kafka answers with
//! the endpoint of the same listener name) without holding the socket.

use std::net::SocketAddr;

use crate::security::sasl::SaslSession;
use crate::security::SecurityProtocol;
use crate::state::Endpoint;

/// One client connection, as the handlers see it.
#[derive(Debug)]
pub struct ConnectionContext {
    /// The security protocol of the listener the connection came in on.
    pub protocol: SecurityProtocol,
    /// That listener's advertised address.
    pub endpoint: Endpoint,
    /// The client's address.
    pub peer: SocketAddr,
    /// The SASL state, on SASL_PLAINTEXT and SASL_SSL listeners.
    pub sasl: Option<SaslSession>,
}

impl ConnectionContext {
    /// A connection from `peer` on the listener speaking `protocol` at `endpoint`, with a
    /// SASL session if the listener authenticates.
    pub fn new(
        protocol: SecurityProtocol,
        endpoint: Endpoint,
        peer: SocketAddr,
        sasl: Option<SaslSession>,
    ) -> Self {
        ConnectionContext {
            protocol,
            endpoint,
            peer,
            sasl,
        }
    }

    /// Whether the client still has to (re-)authenticate before it is served.
    pub fn authenticating(&self) -> bool {
        self.sasl.as_ref().is_some_and(|s| !s.is_authenticated())
    }
}
