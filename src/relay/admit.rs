//! Who is asking, and whether they may: the caller's token and, with a store, its limits and
//! quota reservation.
//!
//! Owns: [`Caller`] (a config-file token when no store is configured, else the store's token
//! entry), authenticating a request's key against the one or the other, and admitting a request
//! once its model and size are known (the model allow-list of a file token; the store's
//! access rules, rate limits and quota reservation, held by the access record until it ends).
//! Must never: wait on the database for a known key, or admit a request without putting its
//! reservation in the record (which settles or releases it, however the request ends).

use super::Record;
use crate::auth::{self, Token};
use crate::error::RelayError;
use crate::limits::{AdmitRequest, MediaAsk, TokenEntry};
use crate::state::AppState;
use http::HeaderMap;
use std::net::IpAddr;
use std::sync::Arc;

/// The token a request was authenticated with.
pub(crate) enum Caller {
    /// A `[[tokens]]` entry (no store configured).
    File(Arc<Token>),
    /// The store's token (file tokens too, synced to it).
    Store(Arc<TokenEntry>),
}

impl Caller {
    pub(crate) fn name(&self) -> &str {
        match self {
            Caller::File(t) => &t.name,
            Caller::Store(e) => &e.name,
        }
    }
}

/// The caller of a request from its key: the store's snapshot when a store is configured (an
/// unknown key costs one single-flight store read, then the negative cache), else `[[tokens]]`.
pub(crate) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Caller, RelayError> {
    match &state.metered {
        None => state.tokens.authenticate(headers).map(Caller::File),
        Some(m) => {
            let key = auth::client_key(headers).ok_or(RelayError::Unauthorized)?;
            Ok(Caller::Store(m.limits.authenticate(key).await?))
        }
    }
}

/// Puts the caller on the request's record: its name for the access log and, for a store
/// token, its id and the usage sink (from here on the request yields one usage record).
pub(crate) fn identify(
    state: &AppState,
    caller: &Caller,
    client_ip: Option<IpAddr>,
    record: &mut Record,
) {
    record.token = Some(caller.name().to_owned());
    if let (Caller::Store(e), Some(m)) = (caller, &state.metered) {
        record.meter(m.sink.clone(), e.id, client_ip);
    }
}

/// What admission is told of a request beyond its caller.
pub(crate) struct Ask<'a> {
    pub model: &'a str,
    pub prompt_bytes: usize,
    pub max_tokens: Option<u64>,
    pub client_ip: Option<IpAddr>,
}

/// Admits the request for its model: a file token's allow-list, or the store token's rules,
/// limits and quota (the admission goes into `record`, with the usage sink).
pub(crate) async fn admit(
    state: &AppState,
    caller: &Caller,
    ask: &Ask<'_>,
    record: &mut Record,
) -> Result<(), RelayError> {
    let entry = match caller {
        Caller::File(t) if t.allows(ask.model) => return Ok(()),
        Caller::File(_) => return Err(RelayError::ModelNotAllowed(ask.model.to_owned())),
        Caller::Store(e) => e.clone(),
    };
    let Some(m) = &state.metered else {
        return Ok(());
    };
    let req = AdmitRequest {
        model: ask.model,
        client_ip: ask.client_ip,
        prompt_bytes: ask.prompt_bytes,
        max_tokens: ask.max_tokens,
        media: (record.endpoint.is_media() || record.endpoint == crate::wire::Endpoint::Videos)
            .then_some(MediaAsk {
                endpoint: record.endpoint,
                asked: record.media_asked,
            }),
    };
    let admission = m.limits.admit(entry, &req).await?;
    record.admitted(admission);
    Ok(())
}
