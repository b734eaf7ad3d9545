//! Streamed `multipart/form-data` request bodies, read with `multer` as the SDKs send them
//! (text fields, files as `file`, `image`, repeated `image` or `image[]`, `mask`; chunked or
//! with a length), under a byte limit per endpoint.
//! Owns how much of a form is kept: text fields (bounded) and, per file, its size, a hash
//! and its first bytes, never the file. Must never decide what a form means.

use axum::body::Body;
use futures_util::StreamExt;
use http::header::CONTENT_TYPE;
use http::HeaderMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::gen::words::hash;

/// The most of a text field kept (longer ones are refused).
const MAX_TEXT: usize = 256 << 10;
/// The first bytes of each file that are kept (for sniffing and headers).
pub(crate) const HEAD: usize = 4096;

/// One uploaded file, summarised.
#[derive(Clone, Debug)]
pub(crate) struct FilePart {
    /// The part's name (`file`, `image`, `image[]`, `mask`).
    pub(crate) name: String,
    pub(crate) filename: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) size: u64,
    /// FNV-1a of the whole file.
    pub(crate) hash: u64,
    /// Its first [`HEAD`] bytes.
    pub(crate) head: Vec<u8>,
}

/// A read form: its text fields in order, and its files.
#[derive(Clone, Debug, Default)]
pub(crate) struct Form {
    pub(crate) fields: Vec<(String, String)>,
    pub(crate) files: Vec<FilePart>,
}

impl Form {
    /// The first text field named `name`.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The files whose part is named one of `names`, in order.
    pub(crate) fn files(&self, names: &[&str]) -> Vec<&FilePart> {
        self.files
            .iter()
            .filter(|f| names.contains(&f.name.as_str()))
            .collect()
    }

    /// Whether a text field named `name` is `true` (or `1`).
    pub(crate) fn flag(&self, name: &str) -> bool {
        matches!(self.text(name), Some("true" | "True" | "1"))
    }
}

/// Why a form could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FormError {
    #[error("body over {limit} bytes ({read} bytes read)")]
    TooLarge { limit: u64, read: u64 },
    #[error("not a multipart/form-data body")]
    NotMultipart,
    #[error("malformed multipart body: {0}")]
    Malformed(String),
}

/// Reads the multipart body of a request, refusing it once more than `limit` bytes arrive.
pub(crate) async fn read(headers: &HeaderMap, body: Body, limit: u64) -> Result<Form, FormError> {
    let boundary = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or(FormError::NotMultipart)?;
    let read = Arc::new(AtomicU64::new(0));
    let counted = read.clone();
    let stream = body.into_data_stream().map(move |chunk| {
        let chunk = chunk?;
        let total = counted.fetch_add(chunk.len() as u64, Ordering::SeqCst) + chunk.len() as u64;
        if total > limit {
            return Err(axum::Error::new(OverLimit));
        }
        Ok(chunk)
    });
    let over = |e: multer::Error| {
        let total = read.load(Ordering::SeqCst);
        if total > limit {
            FormError::TooLarge { limit, read: total }
        } else {
            FormError::Malformed(e.to_string())
        }
    };
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut form = Form::default();
    while let Some(mut field) = multipart.next_field().await.map_err(over)? {
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(ToString::to_string);
        if filename.is_none() {
            let mut text = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(over)? {
                if text.len() + chunk.len() > MAX_TEXT {
                    return Err(FormError::Malformed(format!("field `{name}` is too long")));
                }
                text.extend_from_slice(&chunk);
            }
            form.fields
                .push((name, String::from_utf8_lossy(&text).into_owned()));
            continue;
        }
        let mut part = FilePart {
            name,
            filename,
            content_type,
            size: 0,
            hash: hash(b""),
            head: Vec::new(),
        };
        while let Some(chunk) = field.chunk().await.map_err(over)? {
            part.size += chunk.len() as u64;
            part.hash = chunk.iter().fold(part.hash, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
            });
            let room = HEAD.saturating_sub(part.head.len());
            part.head.extend_from_slice(&chunk[..room.min(chunk.len())]);
        }
        form.files.push(part);
    }
    Ok(form)
}

#[derive(Debug, thiserror::Error)]
#[error("upload over its limit")]
struct OverLimit;

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, filename, data) in parts {
            out.extend_from_slice(b"--b0b\r\n");
            match filename {
                Some(f) => out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: image/png\r\n\r\n").as_bytes(),
                ),
                None => out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--b0b--\r\n");
        out
    }

    fn headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            "multipart/form-data; boundary=b0b".parse().unwrap(),
        );
        h
    }

    #[tokio::test]
    async fn fields_files_and_limits() {
        let big = vec![1u8; 10_000];
        let raw = body(&[
            ("prompt", None, b"a cat"),
            ("image[]", Some("a.png"), b"one"),
            ("image[]", Some("b.png"), &big),
        ]);
        let form = read(&headers(), Body::from(raw.clone()), 1 << 20)
            .await
            .unwrap();
        assert_eq!(form.text("prompt"), Some("a cat"));
        let files = form.files(&["image", "image[]"]);
        assert_eq!(files.len(), 2);
        assert_eq!((files[1].size, files[1].head.len()), (10_000, HEAD));
        assert_eq!(files[0].hash, hash(b"one"));
        assert_eq!(files[0].filename.as_deref(), Some("a.png"));
        let err = read(&headers(), Body::from(raw), 5000).await.unwrap_err();
        assert!(
            matches!(err, FormError::TooLarge { limit: 5000, .. }),
            "{err}"
        );
        let err = read(&HeaderMap::new(), Body::empty(), 10)
            .await
            .unwrap_err();
        assert!(matches!(err, FormError::NotMultipart));
    }
}
