//! The socket side of one broker connection: a writer task, a reader task, and the table of
//! requests waiting for their responses.
//!
//! Why two tasks: the socket must never see half a frame. Callers hand the writer task a fully
//! encoded frame over a channel, so dropping a caller's future can only ever drop a whole frame
//! (before the hand-over) or nothing (after it); the writer task is the only code that writes,
//! and it is never cancelled except when the connection is already dead. The reader task owns
//! the read half and routes each response to its caller by correlation id, so any number of
//! requests (up to the in-flight cap) are pipelined on the one socket.
//!
//! Timeouts: the caller's future enforces `request.timeout.ms` over the whole request, and the
//! reader task enforces it on every request the broker has not answered, including those whose
//! caller gave up: otherwise abandoned requests to a silent broker would hold the in-flight
//! slots forever and starve the connection without ever killing it.
//!
//! Death: on an I/O error, an unknown correlation id, a malformed response, a request timeout
//! or an explicit close, [`PipelineState::kill`] marks the connection dead once, fails every
//! pending request with [`Error::Disconnected`] (retriable), closes the in-flight semaphore so
//! that waiters wake, and stops both tasks. A dead pipeline is never revived; the pool opens a
//! new connection.
//!
//! Re-authentication (KIP-368) needs the socket to itself: between SaslHandshake and the last
//! SaslAuthenticate no other request may reach the broker. On SASL connections a gate (a fair
//! read-write lock) guards the hand-over to the writer: requests take it shared for the
//! instant of the hand-over, a re-authentication takes it exclusively for its whole exchange.
//! Requests handed over before it are written before it, and those that wait queue in order,
//! so nothing in flight is lost or reordered. Plaintext-only connections have no gate.
//!
//! What not: no retries, no knowledge of TLS (the stream is [`Transport`], either kind).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferrokafka_protocol::frame::{FrameReader, FrameWriter, DEFAULT_MAX_FRAME_SIZE};
use ferrokafka_protocol::header::{decode_response_header, response_header_version, RequestHeader};
use ferrokafka_protocol::transport::{ReadHalf, WriteHalf};
use ferrokafka_protocol::wire_check;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Decodable, Encodable};
use tokio::net::TcpStream;
use tokio::sync::{
    mpsc, oneshot, watch, Notify, OwnedSemaphorePermit, RwLock, RwLockWriteGuard, Semaphore,
};
use tokio::task::JoinHandle;
use tokio::time::{timeout_at, Instant};

use super::transport::Transport;
use crate::error::Error;

type TlsStream = tokio_rustls::client::TlsStream<TcpStream>;

/// Whether a request passes the re-authentication gate, or its caller holds the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// An ordinary request: waits while a re-authentication holds the gate.
    Pass,
    /// A request of the re-authentication that holds the gate.
    Held,
}

/// Most frames the writer gathers into one flush.
const MAX_BATCH: usize = 64;

/// Why a request was refused when the writer task had stopped before the table said so.
const WRITER_GONE: &str = "the writer task has stopped";

/// A response body that passed the shape check, with the version it is to be decoded at.
#[derive(Debug)]
pub(crate) struct Response {
    /// Usually the request's version; 0 for an ApiVersions answer in the v0 fallback format.
    pub version: i16,
    /// The bytes after the response header.
    pub body: Bytes,
}

/// A request that was handed to the writer and awaits its response.
struct Pending {
    api: ApiKey,
    version: i16,
    /// Handed over at this instant plus `request.timeout.ms`: later than this, the broker is
    /// presumed gone even if nobody waits for the answer any more.
    expires: Instant,
    reply: oneshot::Sender<Result<Response, Error>>,
    /// Held until the response arrives (or the connection dies), even if the caller gave up:
    /// the cap is on requests the broker still has to answer.
    _permit: OwnedSemaphorePermit,
}

/// One encoded frame for the writer task.
struct WriteJob {
    frame: Bytes,
    /// For requests that get no response: told once the frame is flushed.
    written: Option<(oneshot::Sender<()>, OwnedSemaphorePermit)>,
}

impl WriteJob {
    // A method rather than a closure: a closure here trips the compiler's inference of
    // higher-ranked lifetimes in the spawned future.
    fn bytes(&self) -> &[u8] {
        &self.frame
    }
}

#[derive(Default)]
struct Table {
    pending: HashMap<i32, Pending>,
    /// Why the connection died; `Some` is final.
    dead: Option<Arc<str>>,
}

/// What the caller side and both tasks share.
pub(crate) struct PipelineState {
    broker: Arc<str>,
    request_timeout: Duration,
    table: Mutex<Table>,
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    dead: watch::Sender<bool>,
    /// Wakes the reader to re-arm its expiry timer after a request is registered.
    registered: Notify,
}

impl PipelineState {
    fn table(&self) -> MutexGuard<'_, Table> {
        // No code panics while holding the lock; if one ever did, the table is still
        // consistent (each operation is a single insert or remove), so keep going.
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Marks the connection dead (first reason wins) and fails everything pending.
    pub(crate) fn kill(&self, reason: &str) {
        let (reason, drained) = {
            let mut table = self.table();
            if table.dead.is_some() {
                return;
            }
            let reason: Arc<str> = Arc::from(reason);
            table.dead = Some(Arc::clone(&reason));
            (reason, std::mem::take(&mut table.pending))
        };
        tracing::debug!(broker = %self.broker, %reason, failed = drained.len(), "connection dead");
        self.in_flight.close();
        self.dead.send_replace(true);
        for (_, pending) in drained {
            let _ = pending.reply.send(Err(self.disconnected_because(&reason)));
        }
    }

    fn dead_reason(&self) -> Option<Arc<str>> {
        self.table().dead.clone()
    }

    fn disconnected_because(&self, reason: &str) -> Error {
        Error::Disconnected {
            broker: self.broker.to_string(),
            reason: reason.to_owned(),
        }
    }

    /// The error for a request that found (or left) the connection dead.
    fn disconnected(&self) -> Error {
        let reason = self.dead_reason();
        self.disconnected_because(reason.as_deref().unwrap_or("connection closed"))
    }

    /// The pending request that expires first, as `(when, correlation id, api, version)`.
    fn next_expiry(&self) -> Option<(Instant, i32, ApiKey, i16)> {
        self.table()
            .pending
            .iter()
            .min_by_key(|(id, p)| (p.expires, **id))
            .map(|(id, p)| (p.expires, *id, p.api, p.version))
    }

    /// Routes one response frame to its caller. `Err` is the reason to kill the connection.
    fn deliver(&self, frame: Bytes) -> Result<(), String> {
        let id = frame
            .get(..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(i32::from_be_bytes)
            .ok_or_else(|| format!("response frame of {} bytes has no header", frame.len()))?;
        let pending = self.table().pending.remove(&id);
        let Some(pending) = pending else {
            return Err(format!("response with unknown correlation id {id}"));
        };
        match parse_response(pending.api, pending.version, frame) {
            Ok(response) => {
                // The caller may have given up (timeout or dropped future); that is fine.
                let _ = pending.reply.send(Ok(response));
                Ok(())
            }
            Err(reason) => {
                let _ = pending.reply.send(Err(Error::MalformedResponse {
                    broker: self.broker.to_string(),
                    api: pending.api,
                    version: pending.version,
                    reason: reason.clone(),
                }));
                Err(format!(
                    "malformed response to correlation id {id}: {reason}"
                ))
            }
        }
    }
}

/// Strips the response header and checks the body's shape before anyone decodes it.
fn parse_response(api: ApiKey, version: i16, mut frame: Bytes) -> Result<Response, String> {
    let header_version = response_header_version(api as i16, version);
    decode_response_header(&mut frame, header_version).map_err(|e| e.to_string())?;
    match wire_check::check_response(api as i16, version, &frame) {
        Ok(()) => Ok(Response {
            version,
            body: frame,
        }),
        // A broker that does not speak our ApiVersions version answers in v0 (KIP-511).
        Err(err) if api == ApiKey::ApiVersions && version > 0 => {
            wire_check::check_response(api as i16, 0, &frame).map_err(|_| err.to_string())?;
            Ok(Response {
                version: 0,
                body: frame,
            })
        }
        Err(err) => Err(err.to_string()),
    }
}

/// The caller-facing half: encodes, submits, waits.
pub(crate) struct Pipeline {
    state: Arc<PipelineState>,
    writes: mpsc::UnboundedSender<WriteJob>,
    client_id: String,
    next_correlation: AtomicI32,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// SASL connections only: see the module docs.
    gate: Option<RwLock<()>>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("broker", &self.state.broker)
            .field("dead", &self.state.dead_reason())
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// Spawns the reader and writer tasks on `stream`; `sasl` gives it the re-authentication
    /// gate.
    pub(crate) fn start(
        stream: Transport,
        broker: &str,
        client_id: &str,
        max_in_flight: usize,
        request_timeout: Duration,
        sasl: bool,
    ) -> Pipeline {
        let (read, write) = stream.into_split();
        let state = Arc::new(PipelineState {
            broker: Arc::from(broker),
            request_timeout,
            table: Mutex::new(Table::default()),
            in_flight: Arc::new(Semaphore::new(max_in_flight.max(1))),
            max_in_flight: max_in_flight.max(1),
            dead: watch::channel(false).0,
            registered: Notify::new(),
        });
        let (writes, jobs) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_loop(
            Arc::clone(&state),
            FrameWriter::new(write),
            jobs,
        ));
        let reader = tokio::spawn(read_loop(
            Arc::clone(&state),
            FrameReader::new(read, DEFAULT_MAX_FRAME_SIZE),
        ));
        Pipeline {
            state,
            writes,
            client_id: client_id.to_owned(),
            next_correlation: AtomicI32::new(0),
            tasks: Mutex::new(vec![writer, reader]),
            gate: sasl.then(|| RwLock::new(())),
        }
    }

    /// Holds back every other request until the guard is dropped: for re-authentication.
    /// `None` on a connection without SASL.
    pub(crate) async fn exclusive(&self) -> Option<RwLockWriteGuard<'_, ()>> {
        match &self.gate {
            Some(gate) => Some(gate.write().await),
            None => None,
        }
    }

    /// A whole request: encode, send, wait, decode. A response that does not decode kills
    /// the connection, as its next answer cannot be trusted either.
    pub(crate) async fn call<M: Encodable, T: Decodable>(
        &self,
        api: ApiKey,
        version: i16,
        body: &M,
        gate: Gate,
    ) -> Result<T, Error> {
        let frame = self.encode(api, version, body)?;
        let response = self.round_trip(api, version, frame, gate).await?;
        self.decode(api, response)
    }

    /// Decodes a response body; see [`Pipeline::call`].
    pub(crate) fn decode<T: Decodable>(&self, api: ApiKey, response: Response) -> Result<T, Error> {
        let mut body = response.body;
        T::decode(&mut body, response.version).map_err(|err| {
            let reason = err.to_string();
            // The shape was right but the content was not (bad UTF-8, a null where none is
            // allowed): a broker that says this cannot be trusted with the next answer.
            self.kill(&format!("malformed {api:?} response: {reason}"));
            Error::MalformedResponse {
                broker: self.broker().to_owned(),
                api,
                version: response.version,
                reason,
            }
        })
    }

    pub(crate) fn broker(&self) -> &str {
        &self.state.broker
    }

    pub(crate) fn kill(&self, reason: &str) {
        self.state.kill(reason);
    }

    pub(crate) fn is_dead(&self) -> bool {
        *self.state.dead.borrow()
    }

    /// Requests holding an in-flight slot now (waiting to be written or for their answer).
    pub(crate) fn in_flight(&self) -> usize {
        self.state
            .max_in_flight
            .saturating_sub(self.state.in_flight.available_permits())
    }

    /// A future that resolves once the connection is dead, holding no borrow of it.
    pub(crate) fn dead_signal(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut dead = self.state.dead.subscribe();
        async move {
            let _ = dead.wait_for(|dead| *dead).await;
        }
    }

    /// Resolves once the connection is dead, with the reason.
    pub(crate) async fn closed(&self) -> String {
        let mut dead = self.state.dead.subscribe();
        // The sender lives in `state`, which we hold, so this cannot fail.
        let _ = dead.wait_for(|dead| *dead).await;
        self.state
            .dead_reason()
            .map_or_else(|| "connection closed".to_owned(), |r| r.to_string())
    }

    /// Kills the connection and waits for both tasks to finish.
    pub(crate) async fn close(&self, reason: &str) {
        self.kill(reason);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for task in tasks {
            let _ = task.await;
        }
    }

    /// Encodes header and body into one frame, with a fresh correlation id.
    pub(crate) fn encode<M: Encodable>(
        &self,
        api: ApiKey,
        version: i16,
        body: &M,
    ) -> Result<(i32, Bytes), Error> {
        // Non-negative ids, as the Java client uses; wrapping after 2^31 requests is harmless
        // since ids are only compared with the few requests in flight.
        let correlation_id = self.next_correlation.fetch_add(1, Ordering::Relaxed) & i32::MAX;
        // Sized up front: a Produce body is whole batches, and growing by doubling would copy
        // them again on each step.
        let body_size = body.compute_size(version).unwrap_or(0);
        let mut buf = BytesMut::with_capacity(body_size.saturating_add(64));
        RequestHeader {
            api_key: api as i16,
            api_version: version,
            correlation_id,
            client_id: Some(self.client_id.clone()),
        }
        .encode(&mut buf);
        body.encode(&mut buf, version)
            .map_err(|err| Error::Encode {
                api,
                version,
                reason: err.to_string(),
            })?;
        Ok((correlation_id, buf.freeze()))
    }

    /// Sends an encoded request and waits for its response, all within `request.timeout.ms`.
    ///
    /// Cancel-safe: dropped before the hand-over, nothing was sent; dropped after, the whole
    /// frame is sent and its response is discarded when it arrives. A timeout after the
    /// hand-over kills the connection, as the Java client does: a broker that does not answer
    /// in `request.timeout.ms` is presumed gone, and its late answers would only confuse.
    pub(crate) async fn round_trip(
        &self,
        api: ApiKey,
        version: i16,
        (correlation_id, frame): (i32, Bytes),
        gate: Gate,
    ) -> Result<Response, Error> {
        let timeout = self.state.request_timeout;
        let deadline = Instant::now() + timeout;
        let timed_out = || Error::Timeout {
            operation: format!("{api:?} v{version} request to {}", self.state.broker),
            after: timeout,
            last_error: None,
        };
        let submitted = timeout_at(
            deadline,
            self.submit(api, version, correlation_id, frame, gate),
        );
        let reply = submitted.await.map_err(|_| timed_out())??;
        match timeout_at(deadline, reply).await {
            Ok(Ok(result)) => result,
            // The pending entry was dropped without an answer: only happens on death.
            Ok(Err(_)) => Err(self.state.disconnected()),
            Err(_) => {
                self.kill(&no_response(api, version, correlation_id, timeout));
                Err(timed_out())
            }
        }
    }

    /// Takes an in-flight slot and hands the frame to the writer, registered under its id.
    async fn submit(
        &self,
        api: ApiKey,
        version: i16,
        correlation_id: i32,
        frame: Bytes,
        gate: Gate,
    ) -> Result<oneshot::Receiver<Result<Response, Error>>, Error> {
        // Held until the hand-over below; a fair lock, so waiters keep their order.
        let _pass = self.pass(gate).await;
        let permit = Arc::clone(&self.state.in_flight)
            .acquire_owned()
            .await
            .map_err(|_| self.state.disconnected())?;
        let (reply, receiver) = oneshot::channel();
        // Registering and handing over under one lock: `kill` cannot slip in between, so a
        // request is either failed by `kill` or refused here, never left waiting forever; and
        // no response can arrive for an id that is not yet registered.
        let mut table = self.state.table();
        if let Some(reason) = &table.dead {
            return Err(self.state.disconnected_because(reason));
        }
        let pending = Pending {
            api,
            version,
            expires: Instant::now() + self.state.request_timeout,
            reply,
            _permit: permit,
        };
        table.pending.insert(correlation_id, pending);
        self.state.registered.notify_one();
        let job = WriteJob {
            frame,
            written: None,
        };
        if self.writes.send(job).is_err() {
            table.pending.remove(&correlation_id);
            // Not `disconnected()`: that takes the table lock we hold.
            return Err(self.state.disconnected_because(WRITER_GONE));
        }
        Ok(receiver)
    }

    /// Sends an encoded request that gets no response; resolves once it is flushed.
    pub(crate) async fn send_only(
        &self,
        api: ApiKey,
        version: i16,
        frame: Bytes,
    ) -> Result<(), Error> {
        let timeout = self.state.request_timeout;
        let deadline = Instant::now() + timeout;
        let timed_out = || Error::Timeout {
            operation: format!("{api:?} v{version} write to {}", self.state.broker),
            after: timeout,
            last_error: None,
        };
        let pass = timeout_at(deadline, self.pass(Gate::Pass))
            .await
            .map_err(|_| timed_out())?;
        let permit = timeout_at(deadline, Arc::clone(&self.state.in_flight).acquire_owned())
            .await
            .map_err(|_| timed_out())?
            .map_err(|_| self.state.disconnected())?;
        let (written, receiver) = oneshot::channel();
        {
            let table = self.state.table();
            if let Some(reason) = &table.dead {
                return Err(self.state.disconnected_because(reason));
            }
            let job = WriteJob {
                frame,
                written: Some((written, permit)),
            };
            if self.writes.send(job).is_err() {
                return Err(self.state.disconnected_because(WRITER_GONE));
            }
        }
        drop(pass);
        match timeout_at(deadline, receiver).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(self.state.disconnected()),
            Err(_) => {
                self.kill(&format!("{api:?} write not flushed within {timeout:?}"));
                Err(timed_out())
            }
        }
    }
}

impl Pipeline {
    /// The gate's shared side for an ordinary request; nothing for a request of the
    /// re-authentication holding it, or on a connection without a gate.
    async fn pass(&self, gate: Gate) -> Option<tokio::sync::RwLockReadGuard<'_, ()>> {
        match (&self.gate, gate) {
            (Some(lock), Gate::Pass) => Some(lock.read().await),
            _ => None,
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        // The tasks hold the state, not the pipeline; without this they would keep the socket
        // open until the broker closed it.
        self.state.kill("connection dropped");
    }
}

/// Writes frames in the order they were handed over, a batch per flush.
async fn write_loop(
    state: Arc<PipelineState>,
    mut writer: FrameWriter<WriteHalf<TlsStream>>,
    mut jobs: mpsc::UnboundedReceiver<WriteJob>,
) {
    let mut dead = state.dead.subscribe();
    let mut batch: Vec<WriteJob> = Vec::new();
    loop {
        let job = tokio::select! {
            biased;
            _ = dead.wait_for(|dead| *dead) => return,
            job = jobs.recv() => job,
        };
        let Some(job) = job else {
            state.kill("connection dropped");
            return;
        };
        batch.push(job);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let result = tokio::select! {
            biased;
            // Interrupting the write poisons the writer; the connection is dead anyway.
            _ = dead.wait_for(|dead| *dead) => return,
            result = writer.write_frames(batch.iter().map(WriteJob::bytes)) => result,
        };
        if let Err(err) = result {
            state.kill(&format!("write failed: {err}"));
            return;
        }
        for job in batch.drain(..) {
            if let Some((written, _permit)) = job.written {
                let _ = written.send(());
            }
        }
    }
}

fn no_response(api: ApiKey, version: i16, correlation_id: i32, timeout: Duration) -> String {
    format!(
        "{api:?} v{version} request (correlation id {correlation_id}) got no response within \
         {timeout:?}"
    )
}

/// Reads frames and hands each to its caller; any surprise, or a request left unanswered
/// past its expiry, kills the connection.
async fn read_loop(state: Arc<PipelineState>, mut reader: FrameReader<ReadHalf<TlsStream>>) {
    let mut dead = state.dead.subscribe();
    loop {
        let expiry = state.next_expiry();
        // Far enough to never fire; the branch is disabled anyway when nothing is pending.
        let wake = expiry.map_or_else(|| Instant::now() + Duration::from_secs(86_400), |e| e.0);
        let frame = tokio::select! {
            biased;
            _ = dead.wait_for(|dead| *dead) => return,
            // `read_frame` is cancel-safe: losing this race keeps the bytes read so far.
            frame = reader.read_frame() => frame,
            () = state.registered.notified() => continue,
            () = tokio::time::sleep_until(wake), if expiry.is_some() => {
                if let Some((_, id, api, version)) = expiry {
                    state.kill(&no_response(api, version, id, state.request_timeout));
                }
                return;
            }
        };
        let reason = match frame {
            Ok(Some(frame)) => match state.deliver(frame) {
                Ok(()) => continue,
                Err(reason) => reason,
            },
            Ok(None) => "the broker closed the connection".to_owned(),
            Err(err) => format!("read failed: {err}"),
        };
        state.kill(&reason);
        return;
    }
}
