//! `GET /sim-files/{file}`: the images that URL answers point at, regenerated from their
//! name (`img-{seed}-{W}x{H}.png`), so nothing is stored. Public, as OpenAI's signed URLs are.
//! Owns the file names; must never need the request that made them.

use std::time::Instant;

use axum::extract::{Path, State};
use axum::response::Response;
use bytes::Bytes;
use http::StatusCode;

use crate::errors::{ApiError, ErrorKind};
use crate::gen::image::png;
use crate::headers::respond;
use crate::http::reply::SimReply;
use crate::openai::Api;

/// Largest side served (names are made by the simulator, but anyone can ask).
const MAX_SIDE: u32 = 64;

fn parse(name: &str) -> Option<(u64, u32, u32)> {
    let stem = name.strip_prefix("img-")?.strip_suffix(".png")?;
    let (seed, dims) = stem.split_once('-')?;
    let (w, h) = dims.split_once('x')?;
    let (w, h) = (w.parse().ok()?, h.parse().ok()?);
    ((1..=MAX_SIDE).contains(&w) && (1..=MAX_SIDE).contains(&h)).then_some((
        u64::from_str_radix(seed, 16).ok()?,
        w,
        h,
    ))
}

pub(crate) async fn get(State(api): State<Api>, Path(file): Path<String>) -> Response {
    let started = Instant::now();
    let result = match parse(&file) {
        Some((seed, w, h)) => Ok(SimReply::binary(
            "image/png",
            Bytes::from(png(seed, w, h)),
            true,
        )),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound,
            "The specified blob does not exist.",
        )),
    };
    respond(api.ctx.provider, &api.ctx.shared.ids, started, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse("img-00000000000000ff-32x21.png"), Some((255, 32, 21)));
        assert_eq!(parse("img-ff-999x21.png"), None);
        assert_eq!(parse("other.png"), None);
    }
}
