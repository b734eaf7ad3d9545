//! The access record of one request: written exactly once, when the request's work ends.
//!
//! Owns: the request's identity (id, token, model, channel), its outcome, usage and timings,
//! its in-flight count, its token's admission (quota reservation, TPM hold) when a store is
//! configured, the serving channel's `tpm` hold, and reporting all of it from `Drop`: one
//! structured access-log event, the ledger's counters and histograms, and (for a store token)
//! exactly one usage record, keyed by the relay's usage id, settled on the admission and handed
//! to the usage sink. A request whose
//! usage the upstream did not report (a hang-up, a broken stream) is billed the prompt estimate
//! plus the events already streamed, marked `estimated`. A media request is billed by its
//! units too (images, characters, audio seconds; see `limits::prices`). Failures are not
//! billed: a request the upstream never accepted (no 2xx answer: an upstream error, a refusal,
//! no channel), or one that failed before anything of its answer reached the client, costs 0.
//! Must never: be reported twice or not at all (if nobody set an outcome, the client left); wait
//! on the database; or log a value from the client unescaped or unbounded.

use super::Outcome;
use crate::client_text::{clip, MAX_LOGGED};
use crate::cluster::rate::TokensHold;
use crate::error::RelayError;
use crate::limits::{Admission, Estimate};
use crate::monitor::{ErrorKind, Guard, Ledger, TimeoutKind};
use crate::store::usage::{Outcome as UsageOutcome, UsageRecord, UsageSource};
use crate::store::UsageSink;
use crate::upstream::UpstreamError;
use crate::wire::Endpoint;
use crate::wire::{MediaUsage, Usage};
use std::future::Future;
use std::net::IpAddr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use uuid::Uuid;

/// Longest error text logged (it may quote what the client sent, e.g. a model name).
const MAX_LOGGED_ERROR: usize = 1024;

pub(crate) struct Record {
    pub request_id: String,
    pub endpoint: Endpoint,
    pub token: Option<String>,
    pub model: Option<String>,
    pub channel: Option<String>,
    pub stream: bool,
    pub status: u16,
    pub outcome: Outcome,
    pub error: Option<String>,
    pub usage: Option<Usage>,
    /// What a media answer said it is billed by beside tokens (images, audio seconds, size
    /// and quality).
    pub media: Option<MediaUsage>,
    /// What a media request asked for (images' `n`, size and quality; speech's characters),
    /// for its estimate and where the answer does not say (`media::usage::of_request`,
    /// `of_fields`).
    pub media_asked: Option<MediaUsage>,
    /// Upstream attempts made (0: none, the request failed before routing).
    pub attempts: u32,
    /// The model the upstream was asked for (the channel's mapping).
    pub upstream_model: Option<String>,
    /// Events streamed to the client so far (a stream's completion estimate if it ends early).
    pub streamed: u64,
    /// The key of this request's usage record (made by the relay, never the client's).
    pub usage_id: Uuid,
    metered: Option<Metering>,
    /// The serving channel's tokens-per-window hold (its `tpm`), settled on the real count when
    /// the record ends (given back when the request is not billed).
    channel_tokens: Option<ChannelTokens>,
    /// The upstream accepted the request (answered 2xx): from here on it may be billed.
    accepted: bool,
    /// Set when the request's handler panicked ([`marking_panics`]).
    panicked: Arc<AtomicBool>,
    ledger: Arc<Ledger>,
    _in_flight: Guard,
    started: Instant,
    upstream_sent: Option<Instant>,
    upstream_headers: Option<Duration>,
    upstream_done: Option<Instant>,
    first_token: Option<Duration>,
}

impl Record {
    pub(crate) fn new(request_id: String, endpoint: Endpoint, ledger: &Arc<Ledger>) -> Self {
        Self {
            request_id,
            endpoint,
            token: None,
            model: None,
            channel: None,
            stream: false,
            status: 0,
            outcome: Outcome::ClientGone,
            error: None,
            usage: None,
            media: None,
            media_asked: None,
            attempts: 0,
            upstream_model: None,
            streamed: 0,
            usage_id: Uuid::now_v7(),
            metered: None,
            channel_tokens: None,
            accepted: false,
            panicked: Arc::new(AtomicBool::new(false)),
            _in_flight: ledger.in_flight(endpoint.family()),
            ledger: ledger.clone(),
            started: Instant::now(),
            upstream_sent: None,
            upstream_headers: None,
            upstream_done: None,
            first_token: None,
        }
    }

    /// The flag [`marking_panics`] sets for this record.
    pub(crate) fn panic_flag(&self) -> Arc<AtomicBool> {
        self.panicked.clone()
    }

    /// The request's token is the store's: from now on it yields one usage record.
    pub(crate) fn meter(&mut self, sink: UsageSink, token_id: i64, client_ip: Option<IpAddr>) {
        self.metered = Some(Metering {
            sink,
            token_id,
            client_ip,
            admission: None,
        });
    }

    /// The token's limits admitted the request: what it holds is settled when the record ends.
    pub(crate) fn admitted(&mut self, admission: Admission) {
        if let Some(m) = &mut self.metered {
            m.admission = Some(admission);
        }
    }

    /// The estimate of the token's admission, when a store token was admitted.
    pub(crate) fn estimate(&self) -> Option<Estimate> {
        self.metered
            .as_ref()
            .and_then(|m| m.admission.as_ref())
            .map(|a| a.estimate)
    }

    /// The serving channel's `tpm` hold and the prompt part of its estimate (`None`: the
    /// channel sets no `tpm`); a previous attempt's hold, on a channel that failed, is given
    /// back.
    pub(crate) fn channel_tokens(&mut self, taken: Option<(TokensHold, u64)>) {
        self.channel_tokens = taken.map(|(hold, prompt)| ChannelTokens { hold, prompt });
    }

    /// Whether the request is billed through the store (a store token's).
    pub(crate) fn is_metered(&self) -> bool {
        self.metered.is_some()
    }

    pub(crate) fn client_ip(&self) -> Option<IpAddr> {
        self.metered.as_ref().and_then(|m| m.client_ip)
    }

    /// The rate-limit headers an admitted request's answer carries.
    pub(crate) fn rate_headers(&self) -> Vec<(&'static str, String)> {
        self.metered
            .as_ref()
            .and_then(|m| m.admission.as_ref())
            .map(|a| a.headers.pairs())
            .unwrap_or_default()
    }

    /// The request is about to go upstream.
    pub(crate) fn upstream_sent(&mut self) {
        self.upstream_sent = Some(Instant::now());
    }

    /// The upstream's response headers arrived.
    pub(crate) fn upstream_answered(&mut self) {
        if let Some(sent) = self.upstream_sent {
            self.upstream_headers = Some(sent.elapsed());
        }
    }

    /// The upstream accepted the request: its answer (2xx) is on its way.
    pub(crate) fn upstream_accepted(&mut self) {
        self.accepted = true;
    }

    /// The upstream's answer was read to its end (non-streaming).
    pub(crate) fn upstream_done(&mut self) {
        self.upstream_done = Some(Instant::now());
    }

    /// The first stream chunk arrived from upstream (once).
    pub(crate) fn first_token(&mut self) {
        if self.first_token.is_none() {
            self.first_token = Some(self.started.elapsed());
        }
    }

    pub(crate) fn finish_ok(&mut self) {
        self.status = 200;
        self.outcome = Outcome::Ok;
    }

    /// The stream ran to its end, which was the upstream's own error event (forwarded to the
    /// client in its format): a 200 whose outcome is an upstream error.
    pub(crate) fn finish_upstream_error(&mut self) {
        self.status = 200;
        self.outcome = Outcome::UpstreamError;
        self.error = Some("the upstream ended the stream with an error event".to_owned());
        let channel = self.channel.as_deref().unwrap_or("other");
        self.ledger.upstream_error(channel, ErrorKind::StreamError);
    }

    pub(crate) fn fail(&mut self, err: &RelayError) {
        if self.status == 0 {
            self.status = err.status().as_u16();
        }
        self.outcome = err.outcome();
        self.error = Some(err.to_string());
        self.count_upstream_error(err);
    }

    /// An attempt failed and another follows: its upstream error and the retry are counted; the
    /// request's outcome is still open.
    pub(crate) fn retrying_after(&mut self, err: &RelayError) {
        self.count_upstream_error(err);
        self.ledger.retry();
    }

    fn count_upstream_error(&self, err: &RelayError) {
        let RelayError::Upstream(u) = err else {
            return;
        };
        let channel = self.channel.as_deref().unwrap_or("other");
        match u {
            UpstreamError::Timeout(d) => {
                self.ledger.timeout(TimeoutKind::from(*d));
                self.ledger.upstream_error(channel, ErrorKind::Timeout);
            }
            UpstreamError::Status(fault) => {
                let status = fault.status.unwrap_or(http::StatusCode::BAD_GATEWAY);
                self.ledger.upstream_error(channel, status.as_u16())
            }
            UpstreamError::Connect(_) => self.ledger.upstream_error(channel, ErrorKind::Connect),
            UpstreamError::Read(_) => self.ledger.upstream_error(channel, ErrorKind::Read),
            UpstreamError::TooLarge(_) => self.ledger.upstream_error(channel, ErrorKind::TooLarge),
            UpstreamError::Invalid(_) => self.ledger.upstream_error(channel, ErrorKind::Invalid),
        }
    }

    fn report(&self) {
        // 499: the client closed the request before an answer was decided (nginx's convention).
        let status = if self.status == 0 { 499 } else { self.status };
        self.ledger.request(status);
        if self.outcome == Outcome::ClientGone {
            self.ledger.client_disconnect();
        }
        if let Some(d) = self.upstream_headers {
            self.ledger.observe_upstream_latency(d);
        }
        if let Some(d) = self.first_token {
            self.ledger.observe_time_to_first_token(d);
        }
        if let (Some(sent), Some(done)) = (self.upstream_sent, self.upstream_done) {
            let upstream = done.saturating_duration_since(sent);
            self.ledger
                .observe_relay_overhead(self.started.elapsed().saturating_sub(upstream));
        }
    }
}

/// Polls a request's future, marking its record (`flag`) when it panics; the panic goes on to
/// the panic layer, which answers 500. (The record is dropped after the panic was caught, so
/// it cannot tell by itself.)
pub(crate) async fn marking_panics<F: Future>(flag: Arc<AtomicBool>, fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(payload) => {
                flag.store(true, Ordering::Release);
                std::panic::resume_unwind(payload)
            }
        }
    })
    .await
}

/// A channel's `tpm` hold and the prompt part of its estimate.
struct ChannelTokens {
    hold: TokensHold,
    prompt: u64,
}

/// A store token's side of the record.
struct Metering {
    sink: UsageSink,
    token_id: i64,
    client_ip: Option<IpAddr>,
    admission: Option<Admission>,
}

impl Record {
    /// Whether the request is billed at all: the upstream accepted it, and it did not fail
    /// before anything of its answer reached the client (a whole answer that could not be read
    /// or understood, a deadline before the first event). A client that left while the
    /// upstream worked, and a stream cut after it began, are billed what they used.
    fn billable(&self) -> bool {
        if !self.accepted {
            return false;
        }
        match self.outcome {
            Outcome::Ok | Outcome::ClientGone => true,
            Outcome::UpstreamError | Outcome::Deadline | Outcome::Internal => {
                self.streamed > 0 || self.usage.is_some()
            }
            Outcome::ClientError
            | Outcome::NoChannel
            | Outcome::RateLimited
            | Outcome::QuotaExceeded
            | Outcome::Shed => false,
        }
    }

    /// Settles the serving channel's `tpm` on what the request used: the upstream's count, or
    /// the prompt estimate plus the events streamed; a request not billed gives it all back.
    fn settle_channel_tokens(&mut self) {
        let Some(c) = self.channel_tokens.take() else {
            return;
        };
        if !self.billable() {
            return;
        }
        let used = match self.usage {
            Some(u) => u.prompt_tokens.saturating_add(u.completion_tokens),
            None => c.prompt.saturating_add(self.streamed),
        };
        c.hold.settle(used);
    }

    /// The media units the request is billed by (none when it is not billed).
    fn billed_media(&self) -> Option<MediaUsage> {
        if !self.billable() {
            return None;
        }
        MediaUsage::billed(self.media_asked, self.media)
    }

    /// The usage record of this request, priced and settled on its admission, handed to the
    /// sink (never waits). Returns its cost, for the access log.
    fn submit_usage(&mut self, panicked: bool, media: Option<MediaUsage>) -> Option<i64> {
        let billable = self.billable();
        let mut m = self.metered.take()?;
        let model = self.model.as_deref().unwrap_or("-");
        let mut u = UsageRecord::new(&self.request_id, self.endpoint.family().as_str(), model);
        u.usage_id = self.usage_id;
        u.token_id = Some(m.token_id);
        u.channel = self.channel.clone();
        u.upstream_model = self.upstream_model.clone();
        u.outcome = if panicked {
            UsageOutcome::Panic
        } else {
            usage_outcome(self.outcome)
        };
        u.status = if self.status == 0 { 499 } else { self.status };
        u.stream = self.stream;
        u.ttft_ms = self.first_token.map(millis);
        u.latency_ms = millis(self.started.elapsed());
        u.client_ip = m.client_ip;
        let estimate = m.admission.as_ref().map(|a| a.estimate);
        u.usage_source = UsageSource::Estimated;
        match (self.usage, estimate) {
            // A failure is not billed: no tokens, no units, cost 0.
            _ if !billable => {}
            (Some(usage), _) => {
                u.usage_source = UsageSource::Upstream;
                u.prompt_tokens = usage.prompt_tokens;
                u.completion_tokens = usage.completion_tokens;
                u.cached_tokens = usage.cache_read_tokens;
            }
            // A media answer that said its units, or ran to its end on a request that says
            // them (speech's characters), is billed by them: the upstream's word (its tokens,
            // where it reports none, are 0). A moderation says none: its prompt is estimated.
            (None, _)
                if self.endpoint.is_media()
                    && (self.media.is_some()
                        || (self.outcome == Outcome::Ok && self.media_asked.is_some())) =>
            {
                u.usage_source = UsageSource::Upstream;
            }
            // The upstream took the request and did not say what it used (the client left, a
            // broken stream): the prompt plus what was streamed, estimated.
            (None, Some(e)) => {
                u.prompt_tokens = e.prompt_tokens;
                u.completion_tokens = self.streamed;
            }
            (None, None) => {}
        }
        if let Some(media) = media {
            u.images = u32::try_from(media.images).unwrap_or(u32::MAX);
            u.image_size = media.size.map(|s| s.to_string());
            u.image_quality = media.quality.map(|q| q.as_str().to_owned());
            u.characters = media.characters;
            u.audio_ms = audio_ms(media.audio_seconds);
            u.video_ms = audio_ms(media.video_seconds);
        }
        if let Some(a) = m.admission.take() {
            a.finish(&mut u);
        }
        let cost = u.cost_units;
        m.sink.submit(u);
        Some(cost)
    }
}

/// Seconds of audio as whole milliseconds (rounded up: a priced second is never free).
fn audio_ms(seconds: f64) -> u64 {
    if seconds.is_finite() && seconds > 0.0 {
        (seconds * 1000.0).ceil().min(u64::MAX as f64) as u64
    } else {
        0
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The ledger's word for how a request ended.
fn usage_outcome(o: Outcome) -> UsageOutcome {
    match o {
        Outcome::Ok => UsageOutcome::Ok,
        Outcome::ClientError => UsageOutcome::ClientError,
        Outcome::UpstreamError => UsageOutcome::UpstreamError,
        Outcome::Deadline => UsageOutcome::Deadline,
        Outcome::ClientGone => UsageOutcome::ClientAbort,
        Outcome::NoChannel => UsageOutcome::NoChannel,
        Outcome::RateLimited => UsageOutcome::RateLimited,
        Outcome::QuotaExceeded => UsageOutcome::QuotaExceeded,
        Outcome::Shed => UsageOutcome::Shed,
        Outcome::Internal => UsageOutcome::Panic,
    }
}

/// A value for a log field: `-` when unknown, clipped to a bound (it may be the client's). Given
/// to `tracing` as `&str`, which the formatters quote and escape (`%value` would not).
fn field(value: Option<&str>) -> &str {
    clip(value.unwrap_or("-"), MAX_LOGGED)
}

impl Drop for Record {
    fn drop(&mut self) {
        let panicked = std::thread::panicking() || self.panicked.load(Ordering::Acquire);
        if panicked {
            self.outcome = Outcome::Internal;
            self.status = 500;
        }
        self.report();
        let usage_id = self.metered.is_some().then_some(self.usage_id);
        let media = self.billed_media();
        let cost_units = self.submit_usage(panicked, media);
        self.settle_channel_tokens();
        let usage = self.usage.unwrap_or_default();
        tracing::info!(
            target: "sluice::access",
            request_id = field(Some(&self.request_id)),
            usage_id = usage_id.map(tracing::field::display),
            endpoint = self.endpoint.family().as_str(),
            token = field(self.token.as_deref()),
            model = field(self.model.as_deref()),
            channel = field(self.channel.as_deref()),
            stream = self.stream,
            status = self.status,
            outcome = self.outcome.as_str(),
            attempts = self.attempts,
            latency_ms = self.started.elapsed().as_secs_f64() * 1000.0,
            upstream_ms = self.upstream_headers.map(|d| d.as_secs_f64() * 1000.0),
            first_token_ms = self.first_token.map(|d| d.as_secs_f64() * 1000.0),
            tokens_in = usage.prompt_tokens,
            tokens_out = usage.completion_tokens,
            usage_known = self.usage.is_some(),
            images = media.map(|m| m.images),
            image_size = media.and_then(|m| m.size).map(tracing::field::display),
            image_quality = media.and_then(|m| m.quality).map(|q| q.as_str()),
            characters = media.map(|m| m.characters),
            audio_seconds = media.map(|m| m.audio_seconds),
            cost_units,
            error = self.error.as_deref().map(|e| clip(e, MAX_LOGGED_ERROR)),
            "request"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[tokio::test]
    async fn a_panicking_request_marks_its_record_and_the_panic_goes_on() {
        let flag = Arc::new(AtomicBool::new(false));
        let fut = marking_panics(flag.clone(), async {
            tokio::task::yield_now().await;
            panic!("boom");
        });
        let caught = AssertUnwindSafe(fut).catch_unwind().await;
        assert!(caught.is_err(), "the panic reaches the panic layer");
        assert!(flag.load(Ordering::Acquire));
        let quiet = Arc::new(AtomicBool::new(false));
        assert_eq!(marking_panics(quiet.clone(), async { 7 }).await, 7);
        assert!(!quiet.load(Ordering::Acquire));
    }

    #[test]
    fn every_ending_has_its_ledger_word() {
        assert_eq!(
            usage_outcome(Outcome::ClientGone),
            UsageOutcome::ClientAbort
        );
        assert_eq!(usage_outcome(Outcome::Internal), UsageOutcome::Panic);
        assert_eq!(
            usage_outcome(Outcome::QuotaExceeded),
            UsageOutcome::QuotaExceeded
        );
        assert_eq!(usage_outcome(Outcome::Deadline), UsageOutcome::Deadline);
    }

    fn speech(outcome: Outcome, accepted: bool) -> Record {
        let ledger = Ledger::new(&[]);
        let mut r = Record::new("t".into(), Endpoint::Speech, &ledger);
        r.media_asked = Some(MediaUsage {
            characters: 12,
            ..MediaUsage::default()
        });
        r.outcome = outcome;
        r.accepted = accepted;
        r
    }

    #[test]
    fn failures_are_not_billed() {
        let ok = speech(Outcome::Ok, true);
        assert_eq!(ok.billed_media().map(|m| m.characters), Some(12));
        for outcome in [
            Outcome::UpstreamError,
            Outcome::Deadline,
            Outcome::ClientError,
            Outcome::NoChannel,
            Outcome::RateLimited,
            Outcome::QuotaExceeded,
            Outcome::Shed,
            Outcome::Internal,
        ] {
            assert!(!speech(outcome, true).billable(), "{outcome:?}");
            assert_eq!(speech(outcome, true).billed_media(), None, "{outcome:?}");
        }
        for outcome in [Outcome::Ok, Outcome::ClientGone, Outcome::UpstreamError] {
            assert!(
                !speech(outcome, false).billable(),
                "never accepted by the upstream: {outcome:?}"
            );
        }
        let mut cut = speech(Outcome::UpstreamError, true);
        cut.streamed = 3;
        assert!(
            cut.billable(),
            "a stream cut after it began bills what it used"
        );
        assert!(
            speech(Outcome::ClientGone, true).billable(),
            "the client left while the upstream worked"
        );
    }

    #[test]
    fn an_image_answer_bills_what_it_made_at_the_size_asked() {
        let ledger = Ledger::new(&[]);
        let mut r = Record::new("t".into(), Endpoint::ImageGenerations, &ledger);
        r.media_asked = crate::media::usage::of_request(
            Endpoint::ImageGenerations,
            br#"{"prompt":"a","n":2,"size":"1024x1792","quality":"hd"}"#,
        );
        r.media = Some(MediaUsage {
            images: 2,
            ..MediaUsage::default()
        });
        r.outcome = Outcome::Ok;
        r.accepted = true;
        let m = r.billed_media().unwrap();
        assert_eq!(
            (m.images, m.size.map(|s| s.to_string())),
            (2, Some("1024x1792".into()))
        );
        assert_eq!(audio_ms(8.4701), 8471);
        assert_eq!(audio_ms(f64::NAN), 0);
    }
}
