//! Tying a guard's life to a response: held until the response body (a stream included) has
//! been sent or dropped, whichever comes first.
//!
//! Owns: [`until_sent`]. Must never: release the guard before the body is done, or keep it after.

use axum::body::Body;
use axum::response::Response;
use http_body_util::BodyExt;

/// `resp` with `guard` moved into its body.
pub(super) fn until_sent<G: Send + Sync + 'static>(resp: Response, guard: G) -> Response {
    let (parts, body) = resp.into_parts();
    let body = body.map_frame(move |frame| {
        let _held = &guard;
        frame
    });
    Response::from_parts(parts, Body::new(body))
}
