//! The load client shared by the soak and the bench: one hyper-util pool (TCP_NODELAY, HTTP/1.1),
//! requests built from bytes, and answers read to the end with the stream's outcome.
//!
//! Owns: how a response is read (whole body, or SSE events with time to first event, the
//! terminator and in-stream errors) and how its result is classified.
//! Must never: talk to anything but the loopback addresses it is given.

use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as Legacy;
use hyper_util::rt::TokioExecutor;
use std::time::{Duration, Instant};

pub type Client = Legacy<HttpConnector, Full<Bytes>>;

/// A pooled HTTP/1.1 client with TCP_NODELAY, as a production SDK would use.
#[expect(
    clippy::disallowed_methods,
    reason = "the load tool's client, not the relay: its connection tasks end with its pool"
)]
pub fn client() -> Client {
    let mut conn = HttpConnector::new();
    conn.set_nodelay(true);
    conn.set_connect_timeout(Some(Duration::from_secs(5)));
    Legacy::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(conn)
}

/// A request ready to send (cheap to clone: the body is shared bytes).
#[derive(Clone, Debug)]
pub struct Call {
    pub uri: http::Uri,
    pub headers: Vec<(&'static str, HeaderValue)>,
    pub body: Bytes,
    pub stream: bool,
}

impl Call {
    pub fn new(url: &str, auth: Auth, body: Bytes, stream: bool) -> Result<Self, String> {
        let uri = url.parse().map_err(|e| format!("bad url {url}: {e}"))?;
        let mut headers = vec![("content-type", HeaderValue::from_static("application/json"))];
        match auth {
            Auth::Bearer(t) => headers.push((
                "authorization",
                HeaderValue::try_from(format!("Bearer {t}")).map_err(|e| e.to_string())?,
            )),
            Auth::ApiKey(t) => {
                headers.push((
                    "x-api-key",
                    HeaderValue::try_from(t).map_err(|e| e.to_string())?,
                ));
                headers.push(("anthropic-version", HeaderValue::from_static("2023-06-01")));
            }
        }
        Ok(Self {
            uri,
            headers,
            body,
            stream,
        })
    }

    pub fn request(&self) -> Result<Request<Full<Bytes>>, String> {
        let mut b = Request::post(self.uri.clone());
        for (k, v) in &self.headers {
            b = b.header(*k, v.clone());
        }
        b.body(Full::new(self.body.clone()))
            .map_err(|e| e.to_string())
    }
}

pub enum Auth<'a> {
    Bearer(&'a str),
    ApiKey(&'a str),
}

/// How a request ended, seen from the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 200 with a complete body (streams: terminator seen, no error event).
    Ok,
    /// A non-200 status with a body.
    Status(u16),
    /// A stream that carried an error event (the relay's clean end of a failed stream).
    StreamError,
    /// A stream that ended without terminator and without an error event.
    StreamIncomplete,
    /// No response: connect refused, reset, or a closed connection before headers.
    Transport,
    /// The body broke off after the headers.
    BodyCut,
    /// The client gave up on purpose (a planned disconnect).
    Disconnected,
}

impl Outcome {
    /// The error kind for reports; `None` for successes and planned disconnects.
    pub fn error_kind(self) -> Option<String> {
        match self {
            Self::Ok | Self::Disconnected => None,
            Self::Status(s) => Some(format!("status {s}")),
            Self::StreamError => Some("stream error event".into()),
            Self::StreamIncomplete => Some("stream without terminator".into()),
            Self::Transport => Some("transport (no response)".into()),
            Self::BodyCut => Some("body cut after headers".into()),
        }
    }
}

/// The result of one call with its timings.
#[derive(Clone, Copy, Debug)]
pub struct Answer {
    pub outcome: Outcome,
    /// Request start to the end of the body.
    pub latency: Duration,
    /// Request start to the first SSE event (streams) or to the headers.
    pub first: Option<Duration>,
    pub events: usize,
}

/// How the client reads the answer.
#[derive(Clone, Copy, Debug)]
pub enum Reading {
    /// Read everything as fast as it comes.
    Full,
    /// Drop the request if no headers arrived within this time (disconnect before headers).
    GiveUpBeforeHeaders(Duration),
    /// Drop the response after this many SSE events (disconnect mid-stream).
    DropAfterEvents(usize),
    /// Sleep this long between body chunks (a slow reader).
    Slow(Duration),
    /// Drop a binary answer after this many body chunks (disconnect mid-download).
    DropAfterChunks(usize),
}

impl Reading {
    /// Whether a non-SSE answer is read chunk by chunk rather than collected.
    fn by_chunk(self) -> bool {
        match self {
            Self::Slow(_) | Self::DropAfterChunks(_) => true,
            Self::Full | Self::GiveUpBeforeHeaders(_) | Self::DropAfterEvents(_) => false,
        }
    }
}

/// Sends a call and reads its answer as asked.
pub async fn send(client: &Client, call: &Call, reading: Reading) -> Answer {
    let start = Instant::now();
    let done = |outcome, first, events| Answer {
        outcome,
        latency: start.elapsed(),
        first,
        events,
    };
    let req = match call.request() {
        Ok(r) => r,
        Err(_) => return done(Outcome::Transport, None, 0),
    };
    let sent = client.request(req);
    let resp = match reading {
        Reading::GiveUpBeforeHeaders(after) => match tokio::time::timeout(after, sent).await {
            Ok(r) => r,
            Err(_) => return done(Outcome::Disconnected, None, 0),
        },
        _ => sent.await,
    };
    let Ok(resp) = resp else {
        return done(Outcome::Transport, None, 0);
    };
    let status = resp.status();
    let mut body = resp.into_body();
    if !call.stream && status == StatusCode::OK && reading.by_chunk() {
        // A binary answer (speech) read chunk by chunk: slowly, or left after a few chunks.
        let headers_at = start.elapsed();
        let mut chunks = 0;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return done(Outcome::BodyCut, Some(headers_at), 0);
            };
            if frame.data_ref().is_none() {
                continue;
            }
            chunks += 1;
            match reading {
                Reading::DropAfterChunks(n) if chunks >= n => {
                    return done(Outcome::Disconnected, Some(headers_at), 0)
                }
                Reading::Slow(pause) => tokio::time::sleep(pause).await,
                _ => {}
            }
        }
        return done(Outcome::Ok, Some(headers_at), 0);
    }
    if !call.stream || status != StatusCode::OK {
        let headers_at = start.elapsed();
        return match body.collect().await {
            Ok(_) if status == StatusCode::OK => done(Outcome::Ok, Some(headers_at), 0),
            Ok(_) => done(Outcome::Status(status.as_u16()), Some(headers_at), 0),
            Err(_) => done(Outcome::BodyCut, Some(headers_at), 0),
        };
    }
    let mut sse = SseScan::default();
    let mut first = None;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return done(Outcome::BodyCut, first, sse.events);
        };
        let Some(data) = frame.data_ref() else {
            continue;
        };
        sse.feed(data);
        if first.is_none() && sse.events > 0 {
            first = Some(start.elapsed());
        }
        match reading {
            Reading::DropAfterEvents(n) if sse.events >= n => {
                return done(Outcome::Disconnected, first, sse.events)
            }
            Reading::Slow(pause) => tokio::time::sleep(pause).await,
            _ => {}
        }
    }
    let outcome = if sse.error {
        Outcome::StreamError
    } else if sse.terminated {
        Outcome::Ok
    } else {
        Outcome::StreamIncomplete
    };
    done(outcome, first, sse.events)
}

/// A line scanner over SSE bytes: counts `data:` events, sees terminators and error events.
#[derive(Default)]
struct SseScan {
    partial: Vec<u8>,
    events: usize,
    terminated: bool,
    error: bool,
    /// The last `event:` line named an image stream's terminal event.
    completed_named: bool,
}

impl SseScan {
    fn feed(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            let (line, tail) = rest.split_at(i);
            rest = &tail[1..];
            if self.partial.is_empty() {
                self.line(line);
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                self.line(&whole);
            }
        }
        // Only the head of an overlong line matters for classification.
        if self.partial.len() < 256 {
            self.partial.extend_from_slice(&rest[..rest.len().min(256)]);
        }
    }

    fn line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(data) = line.strip_prefix(b"data:") {
            self.events += 1;
            let data = data.trim_ascii_start();
            if data == b"[DONE]"
                || starts_with(data, b"{\"type\":\"message_stop\"")
                || starts_with(data, b"{\"type\":\"speech.audio.done\"")
                || self.completed_named
            {
                self.terminated = true;
            } else if starts_with(data, b"{\"error\"") || starts_with(data, b"{\"type\":\"error\"")
            {
                self.error = true;
            }
        } else if line == b"event: error" {
            self.error = true;
        } else if line == b"event: image_generation.completed" {
            // Its data line (a whole image in base64) is longer than the scanner keeps.
            self.completed_named = true;
        }
    }
}

fn starts_with(data: &[u8], prefix: &[u8]) -> bool {
    data.len() >= prefix.len() && &data[..prefix.len()] == prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_sees_events_terminator_and_errors_across_chunks() {
        let mut s = SseScan::default();
        s.feed(b"data: {\"a\":1}\n\nda");
        s.feed(b"ta: [DONE]\n\n");
        assert_eq!((s.events, s.terminated, s.error), (2, true, false));
        let mut s = SseScan::default();
        s.feed(b"event: error\ndata: {\"type\":\"error\",\"error\":{}}\n\n");
        assert!(s.error && !s.terminated);
        let mut s = SseScan::default();
        s.feed(b"event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n");
        assert!(s.terminated);
        let mut s = SseScan::default();
        s.feed(b"event: image_generation.completed\ndata: {\"b64_json\":\"");
        s.feed(&[b'A'; 4096]);
        s.feed(b"\",\"type\":\"image_generation.completed\"}\n\n");
        assert!(s.terminated && !s.error);
        let mut s = SseScan::default();
        s.feed(b"data: {\"type\":\"speech.audio.done\",\"usage\":{}}\n\n");
        assert!(s.terminated);
    }
}
