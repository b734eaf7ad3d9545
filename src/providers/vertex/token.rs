//! One service account's OAuth access token: exchanged for a signed assertion at the
//! account's `token_uri`, cached, and refreshed before it expires.
//!
//! Owns: the cached token and when it is due (three quarters into its life), the exchange (one
//! at a time: callers that find no valid token wait for the exchange in flight instead of
//! starting their own, each under its own deadline), and what a failed exchange means (a
//! refused or expired credential, `invalid_grant`, is a refused key: `Vertex::fault` reads the
//! token endpoint's errors). The exchange goes through the relay's upstream client, bounded and
//! counted like every upstream call.
//! Must never: log or return the token or the private key, or wait past the caller's deadline.

use super::account::ServiceAccount;
use crate::config::Secret;
use crate::upstream::{Upstream, UpstreamError, UpstreamRequest};
use crate::wire::{FaultKind, UpstreamFault, WireFormat};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// The grant type of a service account's assertion (RFC 7523).
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How long after a failed exchange the refresher tries again.
pub(crate) const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

/// A token as the endpoint gave it.
#[derive(Clone)]
struct Access {
    value: Arc<str>,
    /// Past this, requests no longer use it (a little before it expires).
    usable_until: Instant,
    /// The refresher exchanges a new one from here on.
    refresh_at: Instant,
}

#[derive(Default)]
struct State {
    token: Option<Access>,
    /// After a failed exchange: when the refresher tries again.
    retry_at: Option<Instant>,
    /// Exchanges completed (to tell whether one ended while a caller waited).
    exchanges: u64,
    /// What the last exchange's failure meant, while it is the last word.
    failed: Option<(FaultKind, String)>,
}

/// One service account's token.
pub(crate) struct Credential {
    account: Result<ServiceAccount, String>,
    state: Mutex<State>,
    /// Held during an exchange: one at a time.
    exchange: tokio::sync::Mutex<()>,
}

impl Credential {
    /// The credential of one key (a service-account key file's text).
    pub(crate) fn new(key: &Secret) -> Self {
        Self {
            account: ServiceAccount::parse(key.expose()),
            state: Mutex::new(State::default()),
            exchange: tokio::sync::Mutex::new(()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached token, if still usable at `now`.
    pub(crate) fn valid(&self, now: Instant) -> Option<Arc<str>> {
        self.state()
            .token
            .as_ref()
            .filter(|t| now < t.usable_until)
            .map(|t| t.value.clone())
    }

    /// When the refresher should exchange next: now if there is no token and no failure.
    pub(crate) fn due_at(&self, now: Instant) -> Instant {
        let s = self.state();
        match (&s.token, s.retry_at) {
            (_, Some(retry)) => retry,
            (Some(t), None) => t.refresh_at,
            (None, None) => now,
        }
    }

    /// A usable token: the cached one, or one exchanged now (waiting for an exchange already in
    /// flight rather than starting another), within `deadline`.
    pub(crate) async fn get(
        &self,
        upstream: &Upstream,
        deadline: Instant,
    ) -> Result<Arc<str>, UpstreamError> {
        if let Some(t) = self.valid(Instant::now()) {
            return Ok(t);
        }
        let seen = self.state().exchanges;
        let Ok(_one) = tokio::time::timeout_at(deadline, self.exchange.lock()).await else {
            return Err(UpstreamError::Timeout(crate::upstream::Deadline::Total));
        };
        // The exchange we waited for may have brought one, or failed: its word is ours.
        if let Some(t) = self.valid(Instant::now()) {
            return Ok(t);
        }
        if let Some(e) = self.failed_since(seen) {
            return Err(e);
        }
        self.exchange(upstream, deadline).await
    }

    /// The failure of an exchange that ended after `seen` exchanges, if the last one failed.
    fn failed_since(&self, seen: u64) -> Option<UpstreamError> {
        let s = self.state();
        let (kind, message) = s.failed.as_ref().filter(|_| s.exchanges != seen)?;
        Some(fault(*kind, message.clone()))
    }

    /// Exchanges a new token (the refresher's call, before the cached one expires).
    pub(crate) async fn refresh(
        &self,
        upstream: &Upstream,
        deadline: Instant,
    ) -> Result<(), UpstreamError> {
        let Ok(_one) = tokio::time::timeout_at(deadline, self.exchange.lock()).await else {
            return Err(UpstreamError::Timeout(crate::upstream::Deadline::Total));
        };
        self.exchange(upstream, deadline).await.map(drop)
    }

    /// One exchange; the caller holds `exchange`.
    async fn exchange(
        &self,
        upstream: &Upstream,
        deadline: Instant,
    ) -> Result<Arc<str>, UpstreamError> {
        let started = Instant::now();
        let result = self.ask(upstream, deadline).await;
        self.keep(started, &result);
        result.map(|(value, _)| value)
    }

    /// Records an exchange's outcome.
    fn keep(&self, started: Instant, result: &Result<(Arc<str>, Duration), UpstreamError>) {
        let mut s = self.state();
        s.exchanges += 1;
        s.failed = result.as_ref().err().map(|e| match e {
            UpstreamError::Status(f) => {
                (f.kind, f.message.clone().unwrap_or_else(|| e.to_string()))
            }
            other => (FaultKind::Server, other.to_string()),
        });
        match result {
            Ok((value, life)) => {
                let slack = (*life / 10).min(Duration::from_secs(30));
                s.token = Some(Access {
                    value: value.clone(),
                    usable_until: started + life.saturating_sub(slack),
                    refresh_at: started + *life * 3 / 4,
                });
                s.retry_at = None;
            }
            Err(_) => s.retry_at = Some(Instant::now() + RETRY_AFTER_FAILURE),
        }
    }

    /// The token endpoint's answer: the token and its lifetime.
    async fn ask(
        &self,
        upstream: &Upstream,
        deadline: Instant,
    ) -> Result<(Arc<str>, Duration), UpstreamError> {
        let account = self.account.as_ref().map_err(|why| refused(why.clone()))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let assertion = account.assertion(now).map_err(refused)?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", JWT_BEARER)
            .append_pair("assertion", &assertion)
            .finish();
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        // An exchange is rare (hourly): its connection is closed after it, not pooled.
        headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        let request = UpstreamRequest {
            method: Method::POST,
            url: account.token_uri.clone(),
            headers,
            body: Bytes::from(body).into(),
        };
        let response = upstream.send(request, &super::Vertex, deadline).await?;
        let bytes = upstream.read_body(response, deadline).await?;
        #[derive(serde::Deserialize)]
        struct Granted {
            access_token: String,
            expires_in: Option<u64>,
        }
        let g: Granted = serde_json::from_slice(&bytes).map_err(|_| {
            UpstreamError::Invalid("the token endpoint's answer has no access_token".to_owned())
        })?;
        if g.access_token.is_empty() {
            return Err(UpstreamError::Invalid(
                "the token endpoint gave an empty access_token".to_owned(),
            ));
        }
        // Google's tokens live an hour; unsaid, take that.
        let life = Duration::from_secs(g.expires_in.unwrap_or(3600));
        Ok((Arc::from(g.access_token), life))
    }
}

/// A credential that cannot be used at all: a refused key.
fn refused(message: String) -> UpstreamError {
    fault(FaultKind::KeyRefused, message)
}

/// A failed exchange, in neutral form.
fn fault(kind: FaultKind, message: String) -> UpstreamError {
    UpstreamError::Status(Box::new(UpstreamFault {
        wire: WireFormat::Gemini,
        status: None,
        kind,
        message: Some(message),
        retry_after: Vec::new(),
        documented: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_key_that_is_no_service_account_is_refused_without_a_call() {
        let c = Credential::new(&Secret::new("AIzaNotAServiceAccount"));
        let config = crate::config::Config::parse("[[tokens]]\nkey = \"sk-t\"").unwrap();
        let ledger = crate::monitor::Monitor::new(&config.monitor, &[])
            .ledger()
            .clone();
        let upstream = Upstream::new(&config, ledger).unwrap();
        let now = Instant::now();
        assert_eq!(c.due_at(now), now, "never exchanged: due");
        match c.get(&upstream, now + Duration::from_secs(1)).await {
            Err(UpstreamError::Status(f)) => assert_eq!(f.kind, FaultKind::KeyRefused),
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("a token"),
        }
        assert_eq!(c.due_at(Instant::now()), now + RETRY_AFTER_FAILURE);
        assert!(c.valid(Instant::now()).is_none());
    }
}
