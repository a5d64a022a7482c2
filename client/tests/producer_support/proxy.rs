//! A raw TCP proxy in front of a mini-broker, for what the broker itself cannot show: it logs
//! every request and response frame, holds responses back on demand (backpressure), and cuts
//! connections on the Nth Produce request, before forwarding it or after the broker answered
//! it (the answer is then dropped: written, but never acknowledged).
//!
//! The broker listens on 127.0.0.2 and advertises 127.0.0.1 with the same port, where the
//! proxy listens, so every connection a client opens (bootstrap or from metadata) passes
//! through the proxy.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use ferrokafka_mini_broker::{MiniBroker, When};
use ferrokafka_protocol::header::{encode_response_header, response_header_version, RequestHeader};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::{Decodable, Encodable};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// One frame seen by the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// Which accepted connection (from 0).
    pub connection: usize,
    /// The request's API key; -1 for responses.
    pub api_key: i16,
    pub correlation_id: i32,
}

#[derive(Debug, Default)]
struct Log {
    requests: Vec<Seen>,
    responses: Vec<Seen>,
}

#[derive(Debug)]
struct State {
    upstream: SocketAddr,
    hold: watch::Sender<bool>,
    cut_all: watch::Sender<u64>,
    log: Mutex<Log>,
    produce_count: AtomicU64,
    cuts: Mutex<Vec<(u64, When)>>,
    /// Produce requests (by count) answered here with an error code for every partition.
    answers: Mutex<Vec<(u64, i16)>>,
    /// `(connection, correlation id)` whose response cuts the connection instead.
    cut_on_response: Mutex<HashSet<(usize, i32)>>,
    connections: AtomicUsize,
    cut_count: AtomicUsize,
}

/// The proxy; stops accepting when dropped.
#[derive(Debug)]
pub struct Proxy {
    pub bootstrap: String,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.state.cut_all.send_modify(|g| *g += 1);
    }
}

/// A mini-broker reachable only through a proxy.
pub async fn broker_behind_proxy(partitions: i32) -> (MiniBroker, Proxy) {
    for _ in 0..50 {
        let broker = MiniBroker::builder()
            .listen("127.0.0.2:0".parse().expect("addr"))
            .advertised_host("127.0.0.1")
            .default_partitions(partitions)
            .start()
            .await
            .expect("start mini-broker");
        let port = broker.local_addr().port();
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => {
                let proxy = Proxy::serve(listener, broker.local_addr());
                return (broker, proxy);
            }
            Err(_) => broker.shutdown().await,
        }
    }
    panic!("no port free on both 127.0.0.1 and 127.0.0.2");
}

impl Proxy {
    fn serve(listener: TcpListener, upstream: SocketAddr) -> Proxy {
        let bootstrap = listener.local_addr().expect("addr").to_string();
        let state = Arc::new(State {
            upstream,
            hold: watch::channel(false).0,
            cut_all: watch::channel(0).0,
            log: Mutex::new(Log::default()),
            produce_count: AtomicU64::new(0),
            cuts: Mutex::new(Vec::new()),
            answers: Mutex::new(Vec::new()),
            cut_on_response: Mutex::new(HashSet::new()),
            connections: AtomicUsize::new(0),
            cut_count: AtomicUsize::new(0),
        });
        let accept_state = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let n = accept_state.connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve_connection(n, client, Arc::clone(&accept_state)));
            }
        });
        Proxy {
            bootstrap,
            state,
            task,
        }
    }

    /// While true, responses wait in the proxy.
    pub fn hold_responses(&self, hold: bool) {
        self.state.hold.send_replace(hold);
    }

    /// Cuts the connection of the `nth` Produce request from now (counted over all
    /// connections, from 1): before forwarding it, or after the broker answered it.
    pub fn cut_produce(&self, nth: u64, when: When) {
        let at = self.state.produce_count.load(Ordering::SeqCst) + nth.max(1);
        self.state.cuts.lock().unwrap().push((at, when));
    }

    /// Answers the `nth` Produce request from now itself, with `code` for every partition
    /// (and a log start offset of 0), without forwarding it.
    pub fn answer_produce_with(&self, nth: u64, code: i16) {
        let at = self.state.produce_count.load(Ordering::SeqCst) + nth.max(1);
        self.state.answers.lock().unwrap().push((at, code));
    }

    /// Cuts set but whose request has not come yet.
    pub fn pending_cuts(&self) -> usize {
        self.state.cuts.lock().unwrap().len()
    }

    /// Connections cut by [`Proxy::cut_produce`] so far (a cut after applying does not
    /// happen when its connection was cut before the answer came).
    pub fn cuts(&self) -> usize {
        self.state.cut_count.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.state.log.lock().unwrap().requests.clone()
    }

    pub fn responses(&self) -> Vec<Seen> {
        self.state.log.lock().unwrap().responses.clone()
    }
}

async fn serve_connection(n: usize, client: TcpStream, state: Arc<State>) {
    let Ok(upstream) = TcpStream::connect(state.upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let client_write = Arc::new(tokio::sync::Mutex::new(client_write));
    let (up_read, up_write) = upstream.into_split();
    let mut cut_all = state.cut_all.subscribe();
    cut_all.borrow_and_update();
    tokio::select! {
        () = requests(n, client_read, up_write, &client_write, &state) => {}
        () = responses(n, up_read, &client_write, &state) => {}
        _ = cut_all.changed() => {}
    }
}

async fn read_frame(r: &mut OwnedReadHalf) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await.ok()?;
    let len = usize::try_from(i32::from_be_bytes(len)).ok()?;
    let mut frame = vec![0u8; 4 + len];
    frame[..4].copy_from_slice(&(len as i32).to_be_bytes());
    r.read_exact(&mut frame[4..]).await.ok()?;
    Some(frame)
}

async fn requests(
    n: usize,
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    client: &tokio::sync::Mutex<OwnedWriteHalf>,
    state: &State,
) {
    while let Some(frame) = read_frame(&mut from).await {
        let api_key = i16::from_be_bytes([frame[4], frame[5]]);
        let correlation_id = i32::from_be_bytes([frame[8], frame[9], frame[10], frame[11]]);
        state.log.lock().unwrap().requests.push(Seen {
            connection: n,
            api_key,
            correlation_id,
        });
        if api_key == 0 {
            let count = state.produce_count.fetch_add(1, Ordering::SeqCst) + 1;
            let due = {
                let mut cuts = state.cuts.lock().unwrap();
                let due = cuts.iter().position(|(at, _)| *at == count);
                due.map(|i| cuts.remove(i).1)
            };
            let answer = {
                let mut answers = state.answers.lock().unwrap();
                let due = answers.iter().position(|(at, _)| *at == count);
                due.map(|i| answers.remove(i).1)
            };
            if let Some(code) = answer {
                let reply = error_response(&frame, code);
                if client.lock().await.write_all(&reply).await.is_err() {
                    return;
                }
                continue;
            }
            match due {
                Some(When::BeforeApplying) => {
                    state.cut_count.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                Some(When::AfterApplying) => {
                    state
                        .cut_on_response
                        .lock()
                        .unwrap()
                        .insert((n, correlation_id));
                }
                None => {}
            }
        }
        if to.write_all(&frame).await.is_err() {
            return;
        }
    }
}

async fn responses(
    n: usize,
    mut from: OwnedReadHalf,
    to: &tokio::sync::Mutex<OwnedWriteHalf>,
    state: &State,
) {
    let mut hold = state.hold.subscribe();
    while let Some(frame) = read_frame(&mut from).await {
        let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
        state.log.lock().unwrap().responses.push(Seen {
            connection: n,
            api_key: -1,
            correlation_id,
        });
        if state
            .cut_on_response
            .lock()
            .unwrap()
            .remove(&(n, correlation_id))
        {
            state.cut_count.fetch_add(1, Ordering::SeqCst);
            return;
        }
        if hold.wait_for(|held| !*held).await.is_err() {
            return;
        }
        if to.lock().await.write_all(&frame).await.is_err() {
            return;
        }
    }
}

/// A Produce response frame to the request `frame`, with `code` for every partition.
fn error_response(frame: &[u8], code: i16) -> Vec<u8> {
    let mut body = Bytes::copy_from_slice(&frame[4..]);
    let header = RequestHeader::decode(&mut body).expect("request header");
    let request = ProduceRequest::decode(&mut body, header.api_version).expect("produce request");
    let response = ProduceResponse::default().with_responses(
        request
            .topic_data
            .iter()
            .map(|t| {
                TopicProduceResponse::default()
                    .with_name(t.name.clone())
                    .with_partition_responses(
                        t.partition_data
                            .iter()
                            .map(|p| {
                                PartitionProduceResponse::default()
                                    .with_index(p.index)
                                    .with_error_code(code)
                                    .with_base_offset(-1)
                                    .with_log_start_offset(0)
                            })
                            .collect(),
                    )
            })
            .collect(),
    );
    let mut out = BytesMut::new();
    encode_response_header(
        header.correlation_id,
        response_header_version(0, header.api_version),
        &mut out,
    );
    response
        .encode(&mut out, header.api_version)
        .expect("encode produce response");
    let mut framed = (out.len() as i32).to_be_bytes().to_vec();
    framed.extend_from_slice(&out);
    framed
}
