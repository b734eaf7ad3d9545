//! How JSON text is spaced: compact (`{"a":1,"b":[1,2]}`, as Rust, Go, pydantic's
//! `model_dump_json` and Starlette's `JSONResponse` write it) or Python's `json.dumps` default
//! (`{"a": 1, "b": [1, 2]}`, with non-ASCII characters escaped as `\uXXXX`).
//! Owns JSON serialisation for the OpenAI-shaped answers; must never change a value.

use std::io;

use serde_json::ser::{CompactFormatter, Formatter, Serializer};
use serde_json::Value;

/// The separators a server writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Spacing {
    Compact,
    /// `json.dumps(obj)` with its defaults: `", "`, `": "` and `ensure_ascii=True`.
    Python,
}

/// `json.dumps` defaults as a serde_json formatter.
struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.begin_array_value(w, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        for c in fragment.chars() {
            if c.is_ascii() {
                w.write_all(&[c as u8])?;
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(w, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

/// `value` as JSON text with `spacing`.
pub(crate) fn to_text(value: &Value, spacing: Spacing) -> String {
    let mut out = Vec::with_capacity(256);
    let written = match spacing {
        Spacing::Compact => serde::Serialize::serialize(
            value,
            &mut Serializer::with_formatter(&mut out, CompactFormatter),
        ),
        Spacing::Python => serde::Serialize::serialize(
            value,
            &mut Serializer::with_formatter(&mut out, PythonFormatter),
        ),
    };
    // Serialising a `Value` into memory cannot fail, and the formatters write UTF-8 only.
    match written {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_separators_and_ascii_escapes() {
        let v = json!({"id": "x", "choices": [{"index": 0, "delta": {}}], "t": "café", "u": null});
        assert_eq!(
            to_text(&v, Spacing::Python),
            r#"{"id": "x", "choices": [{"index": 0, "delta": {}}], "t": "caf\u00e9", "u": null}"#
        );
        assert_eq!(
            to_text(&v, Spacing::Compact),
            r#"{"id":"x","choices":[{"index":0,"delta":{}}],"t":"café","u":null}"#
        );
        assert_eq!(to_text(&json!("😀"), Spacing::Python), r#""\ud83d\ude00""#);
        let parsed: Value = serde_json::from_str(&to_text(&v, Spacing::Python)).unwrap();
        assert_eq!(parsed, v);
    }
}
