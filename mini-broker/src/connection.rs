//! What a handler may know of the connection a request arrived on: the listener's security
//! protocol and advertised address, and the peer.
//!
//! The server keeps one per connection and passes it to [`crate::handlers::dispatch`], so a
//! handler can answer with the address of the listener the client used (as Kafka answers with
//! the endpoint of the same listener name) without holding the socket.

use std::net::SocketAddr;

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
}

impl ConnectionContext {
    /// A connection from `peer` on the listener speaking `protocol` at `endpoint`.
    pub fn new(protocol: SecurityProtocol, endpoint: Endpoint, peer: SocketAddr) -> Self {
        ConnectionContext {
            protocol,
            endpoint,
            peer,
        }
    }
}
