//! Text a client sent that the relay repeats: in its access log, other log lines and error
//! messages. Such text is attacker-chosen, so it is accepted only in a safe shape or clipped to a
//! bound before it is repeated (design.md §4: "every value from a client that reaches a log is
//! bounded and escaped"; escaping is the log formatter's, given `&str` fields).
//!
//! Owns: the request-id rule ([`safe_request_id`]) and [`clip`].
//! Must never: let a value of unbounded length through, or split a UTF-8 character.

/// Longest client request id accepted (longer ones are replaced by a generated id).
pub(crate) const MAX_REQUEST_ID: usize = 128;

/// Longest client-supplied value (a model name, a path, an error text quoting one) repeated in a
/// log line or message.
pub(crate) const MAX_LOGGED: usize = 256;

/// Whether a client's `x-request-id` may be used as is: 1 to 128 characters of
/// `[A-Za-z0-9._:-]` (UUIDs, ULIDs, trace ids, `req_...`, `host:1234`).
pub(crate) fn safe_request_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub(crate) fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_bounded_and_plain() {
        for ok in [
            "a",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            "req_01HX.9:z",
            &"x".repeat(128),
        ] {
            assert!(safe_request_id(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "",
            "a b",
            "id\" status=200",
            "line\nbreak",
            "tab\there",
            "é",
            "semi;colon",
            &"x".repeat(129),
        ] {
            assert!(!safe_request_id(bad.as_bytes()), "{bad:?}");
        }
    }

    #[test]
    fn clip_keeps_whole_characters() {
        assert_eq!(clip("hello", 10), "hello");
        assert_eq!(clip("hello", 3), "hel");
        assert_eq!(clip("héllo", 2), "h");
        assert_eq!(clip("ééé", 5), "éé");
        assert_eq!(clip("", 0), "");
    }
}
