//! An upload's `content-type`: `multipart/form-data` with a boundary, or a 400.
//!
//! Owns: reading the boundary (quoted or not, 1 to 70 characters as RFC 2046 allows).
//! Must never: accept another media type (the upstream would read the body as something else).

use crate::error::RelayError;
use http::{header, HeaderMap, HeaderValue};

/// The request's `content-type` and its boundary.
pub(super) fn boundary(headers: &HeaderMap) -> Result<(HeaderValue, String), RelayError> {
    let value = headers.get(header::CONTENT_TYPE);
    let text = value.and_then(|v| v.to_str().ok()).unwrap_or_default();
    let refused = || {
        let shown: String = if text.is_empty() {
            "none".to_owned()
        } else {
            text.chars().take(100).collect()
        };
        RelayError::BadRequest(format!(
            "Invalid Content-Type header ({shown}), expected multipart/form-data with a boundary"
        ))
    };
    let mut parts = text.split(';');
    let mime = parts.next().unwrap_or_default().trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return Err(refused());
    }
    let boundary = parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
    });
    match (value, boundary) {
        (Some(value), Some(b)) if (1..=70).contains(&b.len()) && !b.contains(['\r', '\n']) => {
            Ok((value.clone(), b))
        }
        _ => Err(refused()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(ct: &str) -> Result<String, String> {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        boundary(&h).map(|(_, b)| b).map_err(|e| e.to_string())
    }

    #[test]
    fn the_sdks_boundaries_are_read() {
        assert_eq!(
            with("multipart/form-data; boundary=0f3a9c").unwrap(),
            "0f3a9c"
        );
        assert_eq!(
            with("Multipart/Form-Data; charset=utf-8; boundary=\"----formdata-undici-012\"")
                .unwrap(),
            "----formdata-undici-012"
        );
    }

    #[test]
    fn other_types_and_missing_boundaries_are_refused() {
        for ct in [
            "application/json",
            "multipart/form-data",
            "multipart/mixed; boundary=x",
            "multipart/form-data; boundary=",
        ] {
            let e = with(ct).unwrap_err();
            assert!(e.contains("expected multipart/form-data"), "{ct}: {e}");
        }
        assert!(boundary(&HeaderMap::new())
            .unwrap_err()
            .to_string()
            .contains("(none)"));
    }
}
