//! The one background callback sender: tasks created with a `callback_url` (Kling, Luma)
//! are scheduled here through a bounded queue; at each change of state (running, then the
//! end) the task as a poll shows it is POSTed to the URL (http, loopback only), each POST
//! under a 5 s deadline, at most [`IN_FLIGHT`] at once. A failed POST is dropped and counted.
//! Faults: `callback-delay=DUR` (each sent DUR late), `callback-dup` (each sent twice),
//! `callback-never` (never scheduled).
//! Owns the schedule and the POSTs; must never change a task.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, USER_AGENT};
use http::{Request, Uri};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::state::{Ctx, Shared};
use crate::stats::VideoEvent;
use crate::Provider;

/// Room in the queue from the handlers to the sender.
pub(crate) const QUEUE: usize = 4096;
/// Most callbacks waiting for their time.
const MAX_PENDING: usize = 1 << 18;
/// Most POSTs in flight.
const IN_FLIGHT: usize = 16;
/// Deadline of one POST (connect, send, answer headers).
const DEADLINE: Duration = Duration::from_secs(5);

/// A task whose callbacks are to be sent.
#[derive(Debug)]
pub(crate) struct Scheduled {
    pub(crate) provider: Provider,
    pub(crate) id: Arc<str>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    at: Instant,
    n: u64,
    provider: Provider,
    id: Arc<str>,
    /// The moment (after submit) whose state is sent.
    state_at: Duration,
}

/// Why a callback was not delivered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallbackError {
    #[error("callback URL refused (http to a loopback host only): {0}")]
    Refused(String),
    #[error("connect: {0}")]
    Connect(#[from] std::io::Error),
    #[error("http: {0}")]
    Http(#[from] hyper::Error),
    #[error("request: {0}")]
    Request(#[from] http::Error),
    #[error("answered {0}")]
    Status(u16),
    #[error("no answer within the deadline")]
    Deadline,
}

fn loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// POSTs `body` as JSON to `url` (http, loopback), under [`DEADLINE`].
pub(crate) async fn post(url: &str, body: Bytes) -> Result<(), CallbackError> {
    let uri: Uri = url
        .parse()
        .map_err(|_| CallbackError::Refused(url.to_owned()))?;
    let (Some("http"), Some(host)) = (uri.scheme_str(), uri.host()) else {
        return Err(CallbackError::Refused(url.to_owned()));
    };
    if !loopback(host) {
        return Err(CallbackError::Refused(url.to_owned()));
    }
    let port = uri.port_u16().unwrap_or(80);
    let authority = uri
        .authority()
        .map_or_else(|| host.to_owned(), ToString::to_string);
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let attempt = async move {
        let stream = TcpStream::connect((host.as_str(), port)).await?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let req = Request::post(path)
            .header(HOST, authority)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, "sluice-sim-callback")
            .body(Full::new(body))?;
        let mut conn = std::pin::pin!(conn);
        let res = tokio::select! {
            res = sender.send_request(req) => res?,
            done = &mut conn => {
                done?;
                return Err(CallbackError::Status(0));
            }
        };
        let status = res.status();
        drop(res);
        if status.is_success() {
            Ok(())
        } else {
            Err(CallbackError::Status(status.as_u16()))
        }
    };
    tokio::time::timeout(DEADLINE, attempt)
        .await
        .map_err(|_| CallbackError::Deadline)?
}

/// The body a provider's callback carries for the task `id` as it was `at` after submit.
fn body_of(shared: &Arc<Shared>, due: &Due) -> Option<(String, Bytes)> {
    let task = shared.video.book.get(due.provider, &due.id)?;
    let url = task.callback.as_deref()?.to_owned();
    let ctx = Ctx {
        shared: shared.clone(),
        provider: due.provider,
    };
    let value = match due.provider {
        Provider::Kling => super::kling::data(&ctx, &due.id, &task, due.state_at),
        Provider::Luma => super::luma::generation(&ctx, &due.id, &task, due.state_at),
        Provider::OpenAi
        | Provider::Anthropic
        | Provider::Xai
        | Provider::Gemini
        | Provider::Vertex
        | Provider::GoogleOAuth
        | Provider::Runway
        | Provider::Zhipu
        | Provider::Dashscope
        | Provider::Viggle => return None,
    };
    Some((url, serde_json::to_vec(&value).ok()?.into()))
}

/// The sender: runs until `cancel` or until every handle to the queue is gone.
pub(crate) async fn run(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<Scheduled>,
    cancel: CancellationToken,
) {
    let mut heap: BinaryHeap<Reverse<Due>> = BinaryHeap::new();
    let mut in_flight: JoinSet<(Provider, bool)> = JoinSet::new();
    let mut n = 0u64;
    let stats = shared.stats.clone();
    loop {
        let next = heap.peek().map(|Reverse(d)| d.at);
        tokio::select! {
            () = cancel.cancelled() => break,
            msg = rx.recv() => {
                let Some(s) = msg else { break };
                let Some(task) = shared.video.book.get(s.provider, &s.id) else { continue };
                let delay = task.faults.callback_delay.unwrap_or_default();
                let copies = if task.faults.callback_dup { 2 } else { 1 };
                for (at, _) in task.changes() {
                    for _ in 0..copies {
                        if heap.len() >= MAX_PENDING {
                            stats.video(s.provider, VideoEvent::CallbackFailed);
                            continue;
                        }
                        n += 1;
                        heap.push(Reverse(Due {
                            at: task.created + at + delay,
                            n,
                            provider: s.provider,
                            id: s.id.clone(),
                            state_at: at,
                        }));
                    }
                }
            }
            () = tokio::time::sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {
                let now = Instant::now();
                while heap.peek().is_some_and(|Reverse(d)| d.at <= now) {
                    let Some(Reverse(due)) = heap.pop() else { break };
                    let Some((url, body)) = body_of(&shared, &due) else { continue };
                    while in_flight.len() >= IN_FLIGHT {
                        if let Some(Ok((p, ok))) = in_flight.join_next().await {
                            count(&stats, p, ok);
                        }
                    }
                    let provider = due.provider;
                    in_flight.spawn(async move {
                        let result = post(&url, body).await;
                        if let Err(e) = &result {
                            tracing::debug!(%url, error = %e, "callback dropped");
                        }
                        (provider, result.is_ok())
                    });
                }
            }
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Ok((p, ok)) = done {
                    count(&stats, p, ok);
                }
            }
        }
    }
    in_flight.shutdown().await;
}

fn count(stats: &crate::stats::StatsRecorder, provider: Provider, ok: bool) {
    stats.video(
        provider,
        if ok {
            VideoEvent::CallbackSent
        } else {
            VideoEvent::CallbackFailed
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts() {
        assert!(loopback("127.0.0.1"));
        assert!(loopback("[::1]"));
        assert!(loopback("localhost"));
        assert!(!loopback("example.com"));
        assert!(!loopback("10.0.0.1"));
    }

    #[tokio::test]
    async fn refuses_other_urls() {
        let refused = |r: Result<(), CallbackError>| matches!(r, Err(CallbackError::Refused(_)));
        assert!(refused(post("https://127.0.0.1/x", Bytes::new()).await));
        assert!(refused(post("http://example.com/x", Bytes::new()).await));
        assert!(refused(post("not a url", Bytes::new()).await));
    }
}
