//! The upstream HTTP client: one shared pool, a deadline on every wait, bounded body reads.
//!
//! Owns: connect/first-byte/total deadlines, reading error bodies bounded (size and time),
//! discarding a connection whose body was not read to the end, and the [`Redactor`]: an error
//! body is handed to its provider as soon as it is read, which keeps only its documented fields
//! with every secret redacted ([`UpstreamFault`]), so nothing downstream (routing, error
//! mapping, conversions, logs) ever holds a secret or a provider's words.
//! Must never: wait on the network without a deadline, read an unbounded body into memory, or
//! keep an upstream's error text unredacted.

mod connector;
mod redact;

pub use redact::{Redactor, MIN_SECRET_LEN, REDACTED};

use crate::config::{Config, Secret};
use crate::monitor::{Ledger, TimeoutKind};
use crate::providers::Provider;
use crate::wire::UpstreamFault;
use bytes::{Bytes, BytesMut};
use connector::CountingConnector;
use futures_util::stream::BoxStream;
use futures_util::TryStreamExt;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioTimer;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;
use tokio::time::Instant;

/// Which deadline was missed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    Connect,
    FirstByte,
    StreamIdle,
    Total,
    ErrorBody,
}

impl From<Deadline> for TimeoutKind {
    fn from(d: Deadline) -> Self {
        match d {
            Deadline::Connect => Self::Connect,
            Deadline::FirstByte => Self::FirstByte,
            Deadline::StreamIdle => Self::StreamIdle,
            Deadline::Total => Self::Total,
            Deadline::ErrorBody => Self::ErrorBody,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("upstream did not answer within the {} deadline", TimeoutKind::from(*.0).as_str())]
    Timeout(Deadline),
    #[error("upstream unreachable: {0}")]
    Connect(String),
    /// An error answer, read bounded and understood by its provider.
    #[error("upstream answered {}", .0.status.unwrap_or(StatusCode::BAD_GATEWAY))]
    Status(Box<UpstreamFault>),
    #[error("upstream response could not be read: {0}")]
    Read(String),
    #[error("upstream response is larger than the {0}-byte limit")]
    TooLarge(usize),
    #[error("upstream sent an invalid response: {0}")]
    Invalid(String),
}

/// One request to send upstream.
pub struct UpstreamRequest {
    pub method: Method,
    pub url: String,
    pub headers: HeaderMap,
    pub body: RequestBody,
}

/// An upload's chunks as they arrive from the client; an error ends the upstream request
/// (hyper aborts it and drops its connection).
pub type UploadStream = BoxStream<'static, Result<Bytes, BoxError>>;

/// The error type of a streamed request body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body: whole, or an upload streamed to the upstream as it arrives.
pub enum RequestBody {
    Full(Bytes),
    Stream(UploadStream),
}

impl From<Bytes> for RequestBody {
    fn from(b: Bytes) -> Self {
        Self::Full(b)
    }
}

impl RequestBody {
    /// The whole body, when it is one.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Self::Full(b) => Some(b),
            Self::Stream(_) => None,
        }
    }

    fn into_http(self) -> OutBody {
        match self {
            Self::Full(b) => Full::new(b).map_err(|never| match never {}).boxed_unsync(),
            Self::Stream(s) => StreamBody::new(s.map_ok(Frame::data)).boxed_unsync(),
        }
    }
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full(b) => write!(f, "Full({} bytes)", b.len()),
            Self::Stream(_) => f.write_str("Stream"),
        }
    }
}

type OutBody = UnsyncBoxBody<Bytes, BoxError>;

type HttpsClient = Client<HttpsConnector<CountingConnector>, OutBody>;

/// A response whose body is still upstream.
pub type UpstreamResponse = http::Response<Incoming>;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot set up TLS: {0}")]
    Tls(#[from] rustls::Error),
}

/// The shared client. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Upstream {
    client: HttpsClient,
    ledger: Arc<Ledger>,
    first_byte: Duration,
    error_body: Duration,
    max_error_body: usize,
    max_response_body: usize,
    /// Replaced whole when the secrets change ([`Upstream::set_secrets`]).
    redactor: Arc<RwLock<Arc<Redactor>>>,
}

impl Upstream {
    pub fn new(config: &Config, ledger: Arc<Ledger>) -> Result<Self, ClientError> {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(config.timeouts.connect));
        http.set_nodelay(true);
        http.set_keepalive(Some(Duration::from_secs(30)));
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(CountingConnector::new(http, ledger.clone()));
        let client = Client::builder(crate::supervisor::connection_executor())
            .pool_max_idle_per_host(config.upstream.pool_max_idle_per_host)
            .pool_idle_timeout(config.upstream.pool_idle_timeout)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            // The most an upstream connection buffers (an upload on its way, an answer on
            // its way back), as on the client side.
            .http1_max_buf_size(crate::server::HTTP1_MAX_BUF)
            .build(https);
        Ok(Self {
            client,
            ledger,
            first_byte: config.timeouts.first_byte,
            error_body: config.timeouts.error_body,
            max_error_body: config.limits.max_error_body,
            max_response_body: config.limits.max_response_body,
            redactor: Arc::new(RwLock::new(Arc::new(Redactor::for_config(config)))),
        })
    }

    /// The redactor for upstream text now (for stream converters, which keep it for the
    /// stream's life).
    pub fn redactor(&self) -> Arc<Redactor> {
        self.redactor
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the secrets to redact: every channel key, client token and admin token in use
    /// (when channels or tokens change at runtime).
    pub fn set_secrets<'a>(&self, secrets: impl IntoIterator<Item = &'a Secret>) {
        let next = Arc::new(Redactor::new(secrets));
        *self
            .redactor
            .write()
            .unwrap_or_else(PoisonError::into_inner) = next;
    }

    /// Upstream TCP connections open now (in use or idle in the pool).
    pub fn open_connections(&self) -> usize {
        self.ledger.counts().upstream_connections as usize
    }

    /// Sends the request and waits for response headers (first-byte deadline, bounded by the
    /// request's total deadline). A non-2xx answer becomes [`UpstreamError::Status`] with its
    /// body read bounded and read by `provider`; the connection is reused only if that body was
    /// read to the end.
    pub async fn send(
        &self,
        req: UpstreamRequest,
        provider: &dyn Provider,
        total: Instant,
    ) -> Result<UpstreamResponse, UpstreamError> {
        self.send_within(req, provider, total, self.first_byte)
            .await
    }

    /// [`Upstream::send`] with its own first-byte deadline (a channel's override).
    pub async fn send_within(
        &self,
        req: UpstreamRequest,
        provider: &dyn Provider,
        total: Instant,
        first_byte: Duration,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let first_byte = Instant::now() + first_byte;
        let (deadline, kind) = if first_byte < total {
            (first_byte, Deadline::FirstByte)
        } else {
            (total, Deadline::Total)
        };
        let mut request = http::Request::builder()
            .method(req.method)
            .uri(&req.url)
            .body(req.body.into_http())
            .map_err(|e| {
                UpstreamError::Connect(format!("invalid upstream URL {}: {e}", req.url))
            })?;
        *request.headers_mut() = req.headers;
        let send = self.client.request(request);
        let resp = match tokio::time::timeout_at(deadline, send).await {
            Err(_) => return Err(UpstreamError::Timeout(kind)),
            Ok(Err(e)) => return Err(classify(e)),
            Ok(Ok(resp)) => resp,
        };
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let (parts, body) = resp.into_parts();
        let deadline = total.min(Instant::now() + self.error_body);
        // A body that does not fit or does not arrive in time is cut: `body` is dropped here,
        // and with it the connection, which cannot be reused half-read.
        let raw = match read_bounded(body, self.max_error_body, deadline).await {
            Ok(b) | Err((b, _)) => b,
        };
        let fault = provider.fault(status, &parts.headers, &raw, &self.redactor());
        Err(UpstreamError::Status(Box::new(fault)))
    }

    /// Reads a successful non-streaming body, bounded in size and by the total deadline.
    pub async fn read_body(
        &self,
        resp: UpstreamResponse,
        total: Instant,
    ) -> Result<Bytes, UpstreamError> {
        read_bounded(resp.into_body(), self.max_response_body, total)
            .await
            .map_err(|(_, e)| e)
    }
}

/// Reads at most `max` bytes before `deadline`. On failure returns what was read and why.
async fn read_bounded(
    mut body: Incoming,
    max: usize,
    deadline: Instant,
) -> Result<Bytes, (Bytes, UpstreamError)> {
    let mut buf = BytesMut::new();
    loop {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err((buf.freeze(), UpstreamError::Timeout(Deadline::Total))),
            Ok(None) => return Ok(buf.freeze()),
            Ok(Some(Err(e))) => return Err((buf.freeze(), UpstreamError::Read(error_chain(&e)))),
            Ok(Some(Ok(frame))) => {
                let Ok(chunk) = frame.into_data() else {
                    continue;
                };
                if buf.len() + chunk.len() > max {
                    let room = max - buf.len();
                    buf.extend_from_slice(&chunk[..room]);
                    return Err((buf.freeze(), UpstreamError::TooLarge(max)));
                }
                buf.extend_from_slice(&chunk);
            }
        }
    }
}

fn classify(e: hyper_util::client::legacy::Error) -> UpstreamError {
    if e.is_connect() {
        if is_timeout(&e) {
            UpstreamError::Timeout(Deadline::Connect)
        } else {
            UpstreamError::Connect(error_chain(&e))
        }
    } else {
        UpstreamError::Read(error_chain(&e))
    }
}

fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// The error with its sources, for messages that say what actually went wrong.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
