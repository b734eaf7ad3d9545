//! Cheap looks into the text of one JSON event without parsing it, for the pass-through fast
//! path: whether it may have a member of a given name (whatever JSON whitespace surrounds the
//! colon: `"usage":{` and `"usage" : {` alike), and the event with a string member's value
//! replaced.
//!
//! Owns: the byte-level scan (memchr's SIMD substring search, one searcher per member name,
//! built once). Must never: allocate unless it rewrites, or claim more than "the text has this
//! member name followed by a colon" (callers parse before they act on a member's meaning).

use memchr::memmem::Finder;
use std::sync::LazyLock;

/// The members the pass-through looks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Member {
    Usage,
    Error,
    Model,
}

impl Member {
    const ALL: [Member; 3] = [Member::Usage, Member::Error, Member::Model];

    /// The member's name with its quotes, as it appears in JSON text.
    fn quoted(self) -> &'static str {
        match self {
            Member::Usage => "\"usage\"",
            Member::Error => "\"error\"",
            Member::Model => "\"model\"",
        }
    }

    fn finder(self) -> &'static Finder<'static> {
        static FINDERS: LazyLock<[Finder<'static>; 3]> =
            LazyLock::new(|| Member::ALL.map(|m| Finder::new(m.quoted())));
        &FINDERS[self as usize]
    }
}

/// JSON's insignificant whitespace (RFC 8259 §2).
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn skip_ws(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).copied().is_some_and(is_ws) {
        at += 1;
    }
    at
}

/// Offsets of the values of the members named `m`: the first byte after the quoted name,
/// whitespace, the colon and whitespace.
fn values(text: &str, m: Member) -> impl Iterator<Item = usize> + '_ {
    let bytes = text.as_bytes();
    let len = m.quoted().len();
    m.finder().find_iter(bytes).filter_map(move |at| {
        let colon = skip_ws(bytes, at + len);
        (bytes.get(colon) == Some(&b':')).then(|| skip_ws(bytes, colon + 1))
    })
}

/// Whether `text` has a member `m`.
pub(crate) fn has_member(text: &str, m: Member) -> bool {
    values(text, m).next().is_some()
}

/// Whether `text` has a member `m` whose value is an object.
pub(crate) fn has_object_member(text: &str, m: Member) -> bool {
    values(text, m).any(|v| text.as_bytes().get(v) == Some(&b'{'))
}

/// `text` with the value of its first string member `m` replaced by `literal` (a JSON string
/// literal, quotes included); `None` when it has no such member.
pub(crate) fn replace_string_member(text: &str, m: Member, literal: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let (start, end) = values(text, m)
        .filter(|&v| bytes.get(v) == Some(&b'"'))
        .find_map(|v| string_end(bytes, v).map(|end| (v, end)))?;
    let mut out = String::with_capacity(text.len() + literal.len());
    out.push_str(&text[..start]);
    out.push_str(literal);
    out.push_str(&text[end..]);
    Some(out)
}

/// The offset just past the string literal that opens at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const USAGE: Member = Member::Usage;

    #[test]
    fn members_are_found_whatever_the_spacing() {
        for text in [
            r#"{"usage":{"prompt_tokens":1}}"#,
            r#"{"id": "x", "usage": {"prompt_tokens": 1}}"#,
            "{\"usage\"\n :\t{}}",
        ] {
            assert!(has_object_member(text, USAGE), "{text}");
            assert!(has_member(text, USAGE), "{text}");
        }
        for text in [
            r#"{"usage":null}"#,
            r#"{"usage": null, "x": {"usage_total": 1}}"#,
            r#"{"choices":[{"delta":{"content":"the \"usage\": {} word"}}]}"#,
        ] {
            assert!(!has_object_member(text, USAGE), "{text}");
        }
        assert!(has_member(r#"{"usage":null}"#, USAGE));
        assert!(!has_member(r#"{"content":"usage"}"#, USAGE));
    }

    #[test]
    fn a_string_member_is_replaced_in_place() {
        let m = Member::Model;
        assert_eq!(
            replace_string_member(r#"{"id":"a","model":"up/x","choices":[]}"#, m, r#""mine""#)
                .as_deref(),
            Some(r#"{"id":"a","model":"mine","choices":[]}"#)
        );
        assert_eq!(
            replace_string_member(r#"{"model" : "a\"b", "n": 1}"#, m, r#""c""#).as_deref(),
            Some(r#"{"model" : "c", "n": 1}"#)
        );
        let nested = r#"{"type":"message_start","message":{"model":"claude-x","content":[]}}"#;
        assert_eq!(
            replace_string_member(nested, m, r#""alias""#).as_deref(),
            Some(r#"{"type":"message_start","message":{"model":"alias","content":[]}}"#)
        );
        assert_eq!(replace_string_member(r#"{"model":null}"#, m, "\"x\""), None);
        assert_eq!(replace_string_member(r#"{"model":"cut"#, m, "\"x\""), None);
        assert_eq!(replace_string_member(r#"{"id":"model"}"#, m, "\"x\""), None);
    }
}
