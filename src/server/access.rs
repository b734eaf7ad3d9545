//! Who may use the admin surfaces (`/api/*`, `/metrics`, the full health view), and on which
//! listener they are served.
//!
//! Owns: the admin rule. Nothing is trusted for its peer address: behind a same-host proxy every
//! client is a loopback peer. With `admin_token` set, every caller sends
//! `Authorization: Bearer <admin_token>`, compared in constant time; without it, only the admin
//! listener (`admin_listen`, a private address the operator chose) serves them, and only to
//! requests naming it by address (`Host` an IP or `localhost`, so a rebound DNS name cannot reach
//! it from a web page). Where the surfaces are served ([`placement`]), and the refusal of
//! browser-made state-changing calls: form and `text/plain` bodies, and any request whose
//! `Origin` or `Sec-Fetch-Site` says another site made it.
//! Must never: trust a peer for its address, compare the token in a time that depends on how
//! much of it matched, or let a cross-site or form request change state.

use crate::client_text::{clip, MAX_LOGGED};
use crate::config::{Config, Secret};
use crate::error::RelayError;
use crate::state::AppState;
use crate::wire::WireFormat;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use http::{header, HeaderMap, Method, Uri};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The listener a request came in on (a request extension set by the router of each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    /// `listen`: the relay's clients (and load-balancer health probes).
    Public,
    /// `admin_listen`: the operator's side door.
    Admin,
}

/// Whether a listener serves the admin surfaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Placement {
    /// Served here (behind [`guard`]).
    Here,
    /// Served on the admin listener only: this one answers 404.
    AdminListenerOnly,
    /// No admin listener and no token: served nowhere (404 saying how to turn them on).
    Off,
}

pub(super) fn placement(config: &Config, listener: Listener) -> Placement {
    match (listener, config.admin_listen, &config.admin_token) {
        (Listener::Admin, _, _) => Placement::Here,
        (Listener::Public, Some(_), _) => Placement::AdminListenerOnly,
        (Listener::Public, None, Some(_)) => Placement::Here,
        (Listener::Public, None, None) => Placement::Off,
    }
}

/// The 404 of a listener that does not serve the admin surfaces.
pub(super) fn not_here(placement: Placement, uri: &Uri) -> RelayError {
    let path = uri.path();
    let path = clip(path, MAX_LOGGED);
    RelayError::NotFound(match placement {
        Placement::AdminListenerOnly | Placement::Here => {
            format!("`{path}` is served on the admin listener only")
        }
        Placement::Off => format!(
            "`{path}` is not served: the admin API and /metrics are off until admin_token \
             (or admin_listen) is set"
        ),
    })
}

/// Whether a request may use the admin surfaces: the admin token when one is set (from any peer,
/// on any listener); otherwise only on the admin listener, addressed by IP or `localhost`.
pub(super) fn authorized(
    listener: Listener,
    uri: &Uri,
    headers: &HeaderMap,
    token: Option<&Secret>,
) -> bool {
    admit(listener, uri, headers, token).is_ok()
}

/// [`authorized`], with the refusal to answer when not.
fn admit(
    listener: Listener,
    uri: &Uri,
    headers: &HeaderMap,
    token: Option<&Secret>,
) -> Result<(), RelayError> {
    match token {
        Some(token) => {
            let given = bearer(headers).unwrap_or("").as_bytes();
            if bool::from(given.ct_eq(token.expose().as_bytes())) {
                Ok(())
            } else {
                Err(RelayError::AdminUnauthorized)
            }
        }
        None if listener == Listener::Admin && host(uri, headers).is_some_and(names_an_address) => {
            Ok(())
        }
        None => Err(RelayError::Forbidden(
            "without admin_token the admin listener answers requests addressed to it by IP \
             address or localhost only"
                .to_owned(),
        )),
    }
}

/// Middleware in front of every admin surface: refuses browser-made state-changing calls (403),
/// then anyone not [`authorized`] (401, or 403 without a token to ask for).
pub(super) async fn guard(
    State(state): State<Arc<AppState>>,
    Extension(listener): Extension<Listener>,
    req: Request,
    next: Next,
) -> Response {
    let (uri, headers) = (req.uri(), req.headers());
    let browser = if changes_state(req.method()) {
        browser_made(uri, headers)
    } else {
        None
    };
    let checked = match browser {
        Some(why) => Err(RelayError::Forbidden(why)),
        None => admit(listener, uri, headers, state.config.admin_token.as_ref()),
    };
    match checked {
        Ok(()) => next.run(req).await.into_response(),
        Err(e) => e.into_response_for(WireFormat::OpenAi),
    }
}

fn changes_state(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// Why a request looks made by a web page, if it does: a body type a page may send to any site
/// without a preflight, or an `Origin` / `Sec-Fetch-Site` naming another site.
fn browser_made(uri: &Uri, headers: &HeaderMap) -> Option<String> {
    let text = |name| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("(not text)"))
    };
    if let Some(ct) = text(header::CONTENT_TYPE.as_str()) {
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if matches!(
            essence.as_str(),
            "application/x-www-form-urlencoded" | "multipart/form-data" | "text/plain"
        ) {
            return Some(format!(
                "admin calls with a `{essence}` body are refused (a web page can send those \
                 anywhere); send application/json or no body"
            ));
        }
    }
    if let Some(site) = text("sec-fetch-site") {
        if !matches!(site, "same-origin" | "none") {
            return Some(format!(
                "admin calls made by another site are refused (Sec-Fetch-Site: {})",
                bounded(site)
            ));
        }
    }
    if let Some(origin) = text(header::ORIGIN.as_str()) {
        let authority = origin.split_once("://").map(|(_, a)| a);
        let same = matches!((authority, host(uri, headers)), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h));
        if !same {
            return Some(format!(
                "admin calls from another origin are refused (Origin: {})",
                bounded(origin)
            ));
        }
    }
    None
}

fn bounded(s: &str) -> &str {
    clip(s, MAX_LOGGED)
}

/// The token of `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The authority the client addressed: `Host` (HTTP/1.1) or the URI's (HTTP/2 `:authority`).
fn host<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
}

/// `127.0.0.1:9090`, `[::1]:9090`, `localhost:9090`: not a DNS name a web page could rebind.
fn names_an_address(authority: &str) -> bool {
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok()
}

#[cfg(test)]
mod tests;
