//! Admission: one request against its token's rules, limits and quota, and what it holds
//! until it ends.
//!
//! Owns: the order of the checks (access, spool, requests per minute, tokens per minute,
//! quota), the [`Admission`] a request keeps (quota reservation, TPM hold, header values), and
//! finishing it on the real usage, which prices the usage record.
//! With shared limits (several instances on one Redis), requests and tokens per window are
//! taken from this instance's chunk of the shared bucket (`cluster::rate`).
//! Must never: do I/O other than a shared limit's bounded wait (only when this instance's
//! chunk is empty), or leave a reservation behind (an `Admission` dropped unfinished releases
//! everything it holds).

use super::entry::TokenEntry;
use super::prices::{Estimate, Price, PriceTable, UsageCounts};
use super::quota::QuotaExceeded;
use super::quota::Reservation;
use super::rate::RateHeaders;
use super::table::TokenTable;
use super::LimitError;
use crate::cluster::quota::{Leased, QuotaSync};
use crate::cluster::rate::{Scope, SharedRates, TokensHold};
use crate::store::{now_ms, UsageRecord, UsageSink, UsageSource};
use crate::wire::{Endpoint, ImageQuality, ImageSize, MediaUsage};
use std::net::IpAddr;
use std::sync::Arc;
use tokio::time::Instant;

/// What the request path knows of a request before it runs.
#[derive(Clone, Copy, Debug)]
pub struct AdmitRequest<'a> {
    pub model: &'a str,
    pub client_ip: Option<IpAddr>,
    /// Size of the prompt (the request body, or the part of it that is the prompt).
    pub prompt_bytes: usize,
    pub max_tokens: Option<u64>,
    /// A media request: its endpoint and what it asks for (images' `n`, size and quality,
    /// speech's characters), for its estimate; `None` for text requests.
    pub media: Option<MediaAsk>,
}

/// What admission is told of a media request.
#[derive(Clone, Copy, Debug)]
pub struct MediaAsk {
    pub endpoint: Endpoint,
    pub asked: Option<MediaUsage>,
}

/// Tokens, limits and prices together: the request path's whole view of admission.
pub struct Limits {
    table: Arc<TokenTable>,
    prices: PriceTable,
    sink: Option<UsageSink>,
    shared: Option<Arc<SharedRates>>,
    shared_quota: Option<Arc<QuotaSync>>,
}

impl Limits {
    pub fn new(table: Arc<TokenTable>, prices: PriceTable, sink: Option<UsageSink>) -> Self {
        Self {
            table,
            prices,
            sink,
            shared: None,
            shared_quota: None,
        }
    }

    /// Rate limits and quota leases shared with the other instances (through Redis).
    pub fn with_shared(
        mut self,
        shared: Option<Arc<SharedRates>>,
        quota: Option<Arc<QuotaSync>>,
    ) -> Self {
        self.shared = shared;
        self.shared_quota = quota;
        self
    }

    pub fn table(&self) -> &Arc<TokenTable> {
        &self.table
    }

    pub fn prices(&self) -> &PriceTable {
        &self.prices
    }

    /// The token of a client key (the snapshot; a store read only for an unknown key).
    pub async fn authenticate(&self, key: &str) -> Result<Arc<TokenEntry>, LimitError> {
        self.table.authenticate(key).await
    }

    /// Checks a request and takes what it may spend.
    pub async fn admit(
        &self,
        token: Arc<TokenEntry>,
        req: &AdmitRequest<'_>,
    ) -> Result<Admission, LimitError> {
        token.check_access(now_ms(), req.model, req.client_ip)?;
        let estimate = match &req.media {
            Some(m) => self.prices.estimate_media(
                m.endpoint,
                req.model,
                req.prompt_bytes,
                m.asked.as_ref(),
            ),
            None => self
                .prices
                .estimate(req.model, req.prompt_bytes, req.max_tokens, 0),
        };
        if token.is_metered() && self.sink.as_ref().is_some_and(UsageSink::reject_metered) {
            return Err(LimitError::SpoolFull);
        }
        let mut headers = RateHeaders::default();
        let window = token.window;
        if let Some(rpm) = &token.rpm {
            let info = match &self.shared {
                Some(shared) => {
                    let limit =
                        std::num::NonZeroU32::new(rpm.limit()).unwrap_or(std::num::NonZeroU32::MIN);
                    shared.requests(Scope::Token(token.id), limit, window).await
                }
                None => rpm.check(),
            };
            headers.requests = Some(info.map_err(LimitError::RateLimited)?);
        }
        let tpm = match &token.tpm {
            Some(tpm) => {
                let (hold, info) = match &self.shared {
                    Some(shared) => {
                        shared
                            .tokens(
                                Scope::Token(token.id),
                                tpm.limit(),
                                window,
                                estimate.tokens(),
                            )
                            .await
                    }
                    None => tpm
                        .reserve(estimate.tokens(), Instant::now())
                        .map(|(h, i)| (TokensHold::Local(h), i)),
                }
                .map_err(LimitError::RateLimited)?;
                headers.tokens = Some(info);
                Some(hold)
            }
            None => None,
        };
        let quota = match token.quota_limit {
            Some(limit) => {
                token.quota.touch(now_ms());
                let leased = match &self.shared_quota {
                    Some(q) if q.is_strict(limit) => q.reserve(&token, estimate.cost).await,
                    _ => Leased::Unavailable,
                };
                Some(match leased {
                    Leased::Reserved(r) => r,
                    Leased::Refused { used } => {
                        return Err(LimitError::QuotaExceeded(QuotaExceeded {
                            limit,
                            used,
                            estimate: estimate.cost,
                        }))
                    }
                    Leased::Unavailable => token
                        .quota
                        .try_reserve(limit, estimate.cost)
                        .map_err(LimitError::QuotaExceeded)?,
                })
            }
            None => None,
        };
        Ok(Admission {
            price: self.prices.price(req.model).cloned(),
            origin: self.sink.as_ref().map_or(0, UsageSink::origin),
            token,
            estimate,
            headers,
            quota,
            tpm,
        })
    }
}

/// A request's hold on its token while it runs. [`Admission::finish`] it with the usage
/// record (however the request ended); dropping it unfinished releases the hold.
#[derive(Debug)]
pub struct Admission {
    pub token: Arc<TokenEntry>,
    pub estimate: Estimate,
    /// The `x-ratelimit-*` values for the response.
    pub headers: RateHeaders,
    price: Option<Price>,
    quota: Option<Reservation>,
    tpm: Option<TokensHold>,
    origin: u64,
}

impl Admission {
    /// What `usage` costs at this request's price.
    pub fn cost(&self, usage: &UsageCounts) -> i64 {
        self.price.as_ref().map_or(0, |p| p.cost(usage))
    }

    /// Prices the record from its counts (its tokens count as reported when its usage is the
    /// upstream's) and settles the quota and the TPM bucket on them.
    /// The record then carries the token, the cost, and (for a metered token) this
    /// process's origin tag, so its commit moves the spend from unflushed to committed.
    pub fn finish(mut self, record: &mut UsageRecord) {
        let usage = UsageCounts {
            prompt_tokens: record.prompt_tokens,
            cached_tokens: record.cached_tokens,
            completion_tokens: record.completion_tokens,
            tokens_reported: record.usage_source == UsageSource::Upstream,
            images: record.images,
            image_size: record.image_size.as_deref().and_then(ImageSize::parse),
            image_quality: record
                .image_quality
                .as_deref()
                .and_then(ImageQuality::parse),
            characters: record.characters,
            audio_ms: record.audio_ms,
            video_ms: record.video_ms,
        };
        let cost = self.cost(&usage);
        record.token_id = Some(self.token.id);
        record.cost_units = cost;
        if let Some(q) = self.quota.take() {
            q.settle(cost);
            record.origin = self.origin;
        }
        if let Some(t) = self.tpm.take() {
            t.settle(
                record
                    .prompt_tokens
                    .saturating_add(record.completion_tokens),
            );
        }
    }
}
