//! Reading an upload endpoint's multipart form under its limit, with OpenAI's errors.
//! Owns the per-endpoint body limits; must never interpret fields.

use axum::body::Body;
use http::HeaderMap;

use crate::errors::{media, ApiError};
use crate::http::multipart::{self, Form, FormError};

/// OpenAI's audio upload limit (25 MiB), with its own 413 text.
pub(crate) const AUDIO_LIMIT: u64 = 26_214_400;
/// The image endpoints' body limit: up to 16 images of under 50 MB each are allowed, so the
/// simulator takes 64 MiB in all (the provider's own total: unconfirmed).
pub(crate) const IMAGE_LIMIT: u64 = 64 << 20;

/// Reads the form, mapping failures to the provider's answers.
pub(crate) async fn read(headers: &HeaderMap, body: Body, limit: u64) -> Result<Form, ApiError> {
    multipart::read(headers, body, limit)
        .await
        .map_err(|e| match e {
            FormError::TooLarge { limit, read } => media::too_large(limit, read),
            // OpenAI's wording for a non-multipart upload (unconfirmed).
            FormError::NotMultipart => {
                let ct = headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("none");
                ApiError::invalid(format!(
                    "Invalid Content-Type header ({ct}), expected multipart/form-data. (HINT: If you're using curl, you can pass -H 'Content-Type: multipart/form-data')"
                ))
            }
            FormError::Malformed(m) => ApiError::invalid(format!(
                "We could not parse the multipart body of your request. ({m})"
            )),
        })
}

/// A numeric text field (`n=2`), or a 400 naming it.
pub(crate) fn number<T: std::str::FromStr>(
    form: &Form,
    name: &'static str,
) -> Result<Option<T>, ApiError> {
    form.text(name)
        .map(|v| {
            v.trim().parse::<T>().map_err(|_| {
                let mut e = ApiError::invalid(format!(
                    "Invalid type for '{name}': expected a number, but got a string instead."
                ));
                e.param = Some(name);
                e
            })
        })
        .transpose()
}
