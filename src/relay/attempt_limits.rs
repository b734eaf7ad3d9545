//! A channel's own rate limits, taken for one attempt: requests and tokens per window, from the
//! channel's local limiters on one instance, or from the shared buckets (Redis) when the relay
//! has them.
//!
//! Owns: the order (requests, then tokens), which limiter answers, the estimate a channel's
//! `tpm` takes (the token admission's when there is one, else the same rules on the same
//! prices), and telling the channel what passed and what was refused.
//! Must never: wait beyond the shared limit's bounded wait (only when this instance's chunk is
//! empty), or count a refusal as the channel's failure.

use super::attempt::Ask;
use super::Record;
use crate::cluster::rate::TokensHold;
use crate::limits::rate::{RateKind, RateLimited};
use crate::limits::Estimate;
use crate::routing::Channel;
use crate::state::AppState;
use crate::wire::Endpoint;
use std::num::NonZeroU32;
use tokio::time::Instant;

/// What a channel's limits let through.
pub(super) enum Passed {
    /// The channel sets no `tpm` (or no limits at all): nothing to settle.
    Free,
    /// Its `tpm` took the estimate: the record settles it, with the prompt part of it.
    Tokens(TokensHold, u64),
}

/// Takes one attempt from `ch`'s limits, or the refusal (already reported to the channel).
pub(super) async fn take(
    state: &AppState,
    ch: &Channel,
    ask: &Ask<'_>,
    record: &Record,
    estimate: &mut Option<Estimate>,
) -> Result<Passed, RateLimited> {
    let Some(limits) = ch.limits() else {
        return Ok(Passed::Free);
    };
    let shared = state.metered.as_ref().and_then(|m| m.cluster.rates());
    let window = limits.window();
    if let Some(rpm) = limits.rpm() {
        let taken = match shared {
            Some(s) => {
                let limit = NonZeroU32::new(rpm.limit()).unwrap_or(NonZeroU32::MIN);
                s.requests(limits.scope(), limit, window).await
            }
            None => rpm.check(),
        };
        match taken {
            Ok(info) => limits.passed(RateKind::Requests, info, shared.is_some(), Instant::now()),
            Err(refused) => {
                limits.refused(&refused, Instant::now());
                return Err(refused);
            }
        }
    }
    let Some(tpm) = limits.tpm() else {
        return Ok(Passed::Free);
    };
    let e = *estimate.get_or_insert_with(|| estimate_of(state, ask, record));
    let taken = match shared {
        Some(s) => {
            s.tokens(limits.scope(), tpm.limit(), window, e.tokens())
                .await
        }
        None => tpm
            .reserve(e.tokens(), Instant::now())
            .map(|(h, i)| (TokensHold::Local(h), i)),
    };
    match taken {
        Ok((hold, info)) => {
            limits.passed(RateKind::Tokens, info, shared.is_some(), Instant::now());
            Ok(Passed::Tokens(hold, e.prompt_tokens))
        }
        Err(refused) => {
            limits.refused(&refused, Instant::now());
            Err(refused)
        }
    }
}

/// The request's estimate: its token admission's, else the same rules on the relay's prices.
fn estimate_of(state: &AppState, ask: &Ask<'_>, record: &Record) -> Estimate {
    if let Some(e) = record.estimate() {
        return e;
    }
    let prices = state.routes.prices();
    let bytes = ask.sent.size();
    if ask.endpoint.is_media() || ask.endpoint == Endpoint::Videos {
        prices.estimate_media(ask.endpoint, ask.model, bytes, record.media_asked.as_ref())
    } else {
        prices.estimate(ask.model, bytes, ask.peek.max_tokens(), 0)
    }
}
