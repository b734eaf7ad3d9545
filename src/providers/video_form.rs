//! A `multipart/form-data` body built whole, for the video adapters: Viggle's render form, and
//! Sora's create when the image comes as bytes (`input_reference`).
//!
//! Owns: the fixed boundary, part headers, and refusing a name or value that would break the
//! form (quotes or line breaks in a name, the boundary inside a value).
//! Must never: stream (these bodies are small: fields and one image the client already sent
//! whole), or know a provider's field names.

use super::video::VideoError;
use bytes::Bytes;
use http::HeaderValue;
use serde_json::Value;

/// The one fixed random boundary, written once for both constants below.
macro_rules! boundary {
    () => {
        "sluice-form-5c81e9f0a3d2b7468e1f"
    };
}

/// No value or file may hold it (checked, refused if one does).
pub(crate) const BOUNDARY: &str = boundary!();

/// The form's content type.
const CONTENT_TYPE: &str = concat!("multipart/form-data; boundary=", boundary!());

/// A multipart form being built.
pub(crate) struct Form {
    body: Vec<u8>,
}

impl Form {
    pub(crate) fn new() -> Self {
        Self { body: Vec::new() }
    }

    /// A text field.
    pub(crate) fn text(&mut self, name: &str, value: &str) -> Result<(), VideoError> {
        self.part(name, None, None, value.as_bytes())
    }

    /// A JSON member as a text field: strings as they are, numbers and booleans as written,
    /// objects and arrays as their JSON text; `null` is left out.
    pub(crate) fn value(&mut self, name: &str, value: &Value) -> Result<(), VideoError> {
        match value {
            Value::Null => Ok(()),
            Value::String(s) => self.text(name, s),
            Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_) => {
                self.text(name, &value.to_string())
            }
        }
    }

    /// A file part.
    pub(crate) fn file(
        &mut self,
        name: &str,
        filename: &str,
        mime: &str,
        data: &[u8],
    ) -> Result<(), VideoError> {
        self.part(name, Some(filename), Some(mime), data)
    }

    fn part(
        &mut self,
        name: &str,
        filename: Option<&str>,
        mime: Option<&str>,
        data: &[u8],
    ) -> Result<(), VideoError> {
        let words = [Some(name), filename, mime];
        if words.into_iter().flatten().any(|w| !plain_word(w)) {
            return Err(VideoError::Unsupported(
                "a form field name, file name or type holds quotes or line breaks".to_owned(),
            ));
        }
        if memchr::memmem::find(data, BOUNDARY.as_bytes()).is_some() {
            return Err(VideoError::Unsupported(format!(
                "the form field `{name}` holds the relay's multipart boundary"
            )));
        }
        self.body.extend_from_slice(b"--");
        self.body.extend_from_slice(BOUNDARY.as_bytes());
        self.body
            .extend_from_slice(b"\r\nContent-Disposition: form-data; name=\"");
        self.body.extend_from_slice(name.as_bytes());
        self.body.push(b'"');
        if let Some(f) = filename {
            self.body.extend_from_slice(b"; filename=\"");
            self.body.extend_from_slice(f.as_bytes());
            self.body.push(b'"');
        }
        if let Some(m) = mime {
            self.body.extend_from_slice(b"\r\nContent-Type: ");
            self.body.extend_from_slice(m.as_bytes());
        }
        self.body.extend_from_slice(b"\r\n\r\n");
        self.body.extend_from_slice(data);
        self.body.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// The content type (with the boundary) and the whole body.
    pub(crate) fn finish(mut self) -> (HeaderValue, Bytes) {
        self.body.extend_from_slice(b"--");
        self.body.extend_from_slice(BOUNDARY.as_bytes());
        self.body.extend_from_slice(b"--\r\n");
        (
            HeaderValue::from_static(CONTENT_TYPE),
            Bytes::from(self.body),
        )
    }
}

/// Printable ASCII other than `"` and `\`: safe inside a quoted part header.
fn plain_word(w: &str) -> bool {
    !w.is_empty()
        && w.bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

/// A file name for an image of `mime` (`image/png` → `image.png`).
pub(crate) fn image_name(mime: &str) -> &'static str {
    match mime {
        "image/jpeg" | "image/jpg" => "image.jpg",
        "image/webp" => "image.webp",
        "image/gif" => "image.gif",
        _ => "image.png",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_parses_back_with_its_fields_and_file() {
        let mut f = Form::new();
        f.text("model", "V4_Preview").unwrap();
        f.value("fast", &Value::Bool(true)).unwrap();
        f.value("skip", &Value::Null).unwrap();
        f.file("ref_image", "image.png", "image/png", b"\x89PNG\r\n--x")
            .unwrap();
        let (ct, body) = f.finish();
        assert_eq!(
            ct.to_str().unwrap(),
            format!("multipart/form-data; boundary={BOUNDARY}")
        );
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("name=\"model\"\r\n\r\nV4_Preview\r\n"));
        assert!(text.contains("name=\"fast\"\r\n\r\ntrue\r\n"));
        assert!(!text.contains("skip"));
        assert!(text.contains(
            "name=\"ref_image\"; filename=\"image.png\"\r\nContent-Type: image/png\r\n\r\n"
        ));
        assert!(text.ends_with(&format!("--{BOUNDARY}--\r\n")));
    }

    #[test]
    fn names_with_quotes_and_values_with_the_boundary_are_refused() {
        let mut f = Form::new();
        assert!(matches!(
            f.text("a\"b", "v"),
            Err(VideoError::Unsupported(_))
        ));
        assert!(matches!(
            f.text("a\r\nX-Evil: 1", "v"),
            Err(VideoError::Unsupported(_))
        ));
        let sneaky = format!("x--{BOUNDARY}y");
        assert!(matches!(
            f.text("ok", &sneaky),
            Err(VideoError::Unsupported(_))
        ));
    }
}
