//! One request's usage record: what the ledger keeps, exactly once per request.
//!
//! Owns: the record's fields, its outcome and usage-source words, and their bounds (strings
//! are cut to a fixed length so a record has a bounded size in the queue, spool and ledger).
//! Must never: take its idempotency key from the client (`usage_id` is the relay's UUIDv7;
//! the client's `x-request-id` may repeat and is kept only as `request_id`).

use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use uuid::Uuid;

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    ClientError,
    UpstreamError,
    Deadline,
    /// The client went away before the answer ended.
    ClientAbort,
    NoChannel,
    /// Refused by the overload shedder.
    Shed,
    RateLimited,
    QuotaExceeded,
    /// The request's handler panicked.
    Panic,
}

impl Outcome {
    pub const ALL: [Outcome; 10] = [
        Outcome::Ok,
        Outcome::ClientError,
        Outcome::UpstreamError,
        Outcome::Deadline,
        Outcome::ClientAbort,
        Outcome::NoChannel,
        Outcome::Shed,
        Outcome::RateLimited,
        Outcome::QuotaExceeded,
        Outcome::Panic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ClientError => "client_error",
            Outcome::UpstreamError => "upstream_error",
            Outcome::Deadline => "deadline",
            Outcome::ClientAbort => "client_abort",
            Outcome::NoChannel => "no_channel",
            Outcome::Shed => "shed",
            Outcome::RateLimited => "rate_limited",
            Outcome::QuotaExceeded => "quota_exceeded",
            Outcome::Panic => "panic",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

/// Where the token counts came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageSource {
    /// The upstream's own usage numbers.
    Upstream,
    /// Counted by the relay (e.g. the prompt plus the tokens streamed before a hang-up).
    Estimated,
}

impl UsageSource {
    pub fn as_str(self) -> &'static str {
        match self {
            UsageSource::Upstream => "upstream",
            UsageSource::Estimated => "estimated",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [UsageSource::Upstream, UsageSource::Estimated]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// Longest request id, model, channel or endpoint name kept (characters).
pub const MAX_LABEL: usize = 128;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// The idempotency key: made by the relay, one per request.
    pub usage_id: Uuid,
    /// The client's `x-request-id` (or the relay's), for correlation only.
    pub request_id: String,
    /// The store id of the token; `None` for requests without a known token.
    pub token_id: Option<i64>,
    pub channel: Option<String>,
    pub model: String,
    pub upstream_model: Option<String>,
    /// The endpoint family (`chat`, `messages`, ...).
    pub endpoint: String,
    pub outcome: Outcome,
    pub usage_source: UsageSource,
    /// The HTTP status the client got (499: it left first).
    pub status: u16,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
    /// Images made (a media answer's).
    pub images: u32,
    /// The images' size (`1024x1792`), when the request or answer said one.
    #[serde(default)]
    pub image_size: Option<String>,
    /// The images' quality (`hd`, `high`, ...), likewise.
    #[serde(default)]
    pub image_quality: Option<String>,
    /// Characters of a speech request's input.
    #[serde(default)]
    pub characters: u64,
    /// Audio heard (a transcription) or spoken, in milliseconds.
    pub audio_ms: u64,
    pub video_ms: u64,
    /// What the request cost, in cost units.
    pub cost_units: i64,
    pub stream: bool,
    pub ttft_ms: Option<u64>,
    pub latency_ms: u64,
    pub client_ip: Option<IpAddr>,
    /// Unix milliseconds when the request started.
    pub created_at: i64,
    /// Which process's quota counters hold this record's cost until it is committed (0: none).
    #[serde(default)]
    pub origin: u64,
}

impl UsageRecord {
    /// A record with a fresh usage id, whose outcome is `client_abort` until set.
    pub fn new(request_id: &str, endpoint: &str, model: &str) -> Self {
        Self {
            usage_id: Uuid::now_v7(),
            request_id: bounded(request_id),
            token_id: None,
            channel: None,
            model: bounded(model),
            upstream_model: None,
            endpoint: bounded(endpoint),
            outcome: Outcome::ClientAbort,
            usage_source: UsageSource::Estimated,
            status: 499,
            prompt_tokens: 0,
            completion_tokens: 0,
            cached_tokens: 0,
            images: 0,
            image_size: None,
            image_quality: None,
            characters: 0,
            audio_ms: 0,
            video_ms: 0,
            cost_units: 0,
            stream: false,
            ttft_ms: None,
            latency_ms: 0,
            client_ip: None,
            created_at: super::super::now_ms(),
            origin: 0,
        }
    }

    /// Cuts every label to [`MAX_LABEL`] characters (records read back from the spool too).
    pub fn bound_labels(&mut self) {
        for s in [&mut self.request_id, &mut self.model, &mut self.endpoint] {
            if s.chars().count() > MAX_LABEL {
                *s = bounded(s);
            }
        }
        for s in [
            &mut self.channel,
            &mut self.upstream_model,
            &mut self.image_size,
            &mut self.image_quality,
        ]
        .into_iter()
        .flatten()
        {
            if s.chars().count() > MAX_LABEL {
                *s = bounded(s);
            }
        }
    }

    /// Bytes of variable-length data, for capping statement sizes.
    pub(crate) fn approx_bytes(&self) -> usize {
        160 + self.request_id.len()
            + self.model.len()
            + self.endpoint.len()
            + self.channel.as_ref().map_or(0, String::len)
            + self.upstream_model.as_ref().map_or(0, String::len)
            + self.image_size.as_ref().map_or(0, String::len)
            + self.image_quality.as_ref().map_or(0, String::len)
    }
}

pub(crate) fn bounded(s: &str) -> String {
    s.chars().take(MAX_LABEL).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
            let json = serde_json::to_string(&o).unwrap();
            assert_eq!(json, format!("\"{}\"", o.as_str()));
        }
        for s in [UsageSource::Upstream, UsageSource::Estimated] {
            assert_eq!(UsageSource::parse(s.as_str()), Some(s));
        }
        assert_eq!(Outcome::parse("nope"), None);
    }

    #[test]
    fn new_records_default_to_a_client_abort_with_a_fresh_time_ordered_id() {
        let a = UsageRecord::new("req", "chat", "m");
        let b = UsageRecord::new("req", "chat", "m");
        assert_eq!(a.outcome, Outcome::ClientAbort);
        assert_ne!(
            a.usage_id, b.usage_id,
            "the client id may repeat; ours never"
        );
        assert_eq!(a.usage_id.get_version_num(), 7);
        assert!(a.usage_id < b.usage_id);
    }

    #[test]
    fn labels_are_bounded() {
        let long = "x".repeat(10_000);
        let mut r = UsageRecord::new(&long, "chat", &long);
        assert_eq!(r.request_id.len(), MAX_LABEL);
        r.channel = Some(long.clone());
        r.bound_labels();
        assert_eq!(r.channel.unwrap().len(), MAX_LABEL);
    }

    #[test]
    fn a_spooled_record_reads_back_equal() {
        let mut r = UsageRecord::new("req-1", "chat", "gpt-4o");
        r.client_ip = Some("10.0.0.1".parse().unwrap());
        r.token_id = Some(7);
        r.image_size = Some("1024x1792".into());
        r.characters = 12;
        let line = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<UsageRecord>(&line).unwrap(), r);
    }

    #[test]
    fn a_record_spooled_before_the_media_units_reads_back_without_them() {
        let r = UsageRecord::new("req-1", "chat", "gpt-4o");
        let mut v = serde_json::to_value(&r).unwrap();
        for key in ["image_size", "image_quality", "characters"] {
            v.as_object_mut().unwrap().remove(key);
        }
        let back: UsageRecord = serde_json::from_value(v).unwrap();
        assert_eq!((back.characters, back.image_size), (0, None));
    }
}
