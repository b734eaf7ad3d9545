use super::*;
use proptest::prelude::*;

fn redactor(secrets: &[&str]) -> Redactor {
    let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::new(*s)).collect();
    Redactor::new(&secrets)
}

#[test]
fn configured_secrets_are_replaced_wherever_they_are() {
    let r = redactor(&["plain-secret-1", "admin-token-xyz", "short"]);
    assert_eq!(
        r.secrets(),
        2,
        "values under MIN_SECRET_LEN are not looked for"
    );
    assert_eq!(
        r.redact("Incorrect API key provided: plain-secret-1."),
        "Incorrect API key provided: [redacted]."
    );
    assert_eq!(
        r.redact("xxplain-secret-1yy admin-token-xyz"),
        "xx[redacted]yy [redacted]"
    );
    assert_eq!(r.redact("short stays"), "short stays");
}

#[test]
fn the_longest_of_overlapping_secrets_wins() {
    let r = redactor(&["abcdefgh", "abcdefgh-longer"]);
    assert_eq!(r.redact("key abcdefgh-longer!"), "key [redacted]!");
}

#[test]
fn key_shaped_tokens_keep_only_their_prefix() {
    let r = Redactor::default();
    let cases = [
        (
            "Incorrect API key provided: sk-proj-abcdefghijklmnopqrstuvwxyz0123.",
            "Incorrect API key provided: sk-[redacted].",
        ),
        (
            "key sk-ant-api03-abcdefghijklmnopqrstuvwxyz-_0123 refused",
            "key sk-ant-[redacted] refused",
        ),
        ("xai-abcdefghijklmnopqrstuvwxyz0123456789", "xai-[redacted]"),
        (
            "google AIzaSyA1234567890abcdefghijklmnopqrstuv ok",
            "google AIza[redacted] ok",
        ),
        (
            "authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
            "authorization: Bearer [redacted]",
        ),
        (
            r#"{"x-api-key":"0123456789abcdefXYZ"}"#,
            r#"{"x-api-key":"[redacted]"}"#,
        ),
        (
            "url?api_key=0123456789abcdefXYZ&x=1",
            "url?api_key=[redacted]&x=1",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(r.redact(text), want, "{text}");
    }
}

#[test]
fn ordinary_words_are_not_key_shaped() {
    let r = Redactor::default();
    for text in [
        "use sk-learn or xai-docs",
        "task-abcdefghijklmnopqrstuvwxyz0123 is a task id, not a key",
        "the bearer of bad news",
        "Bearer short",
        "AIza too short",
        "api_key: short",
        "req_011CSHoEeqs5C35K2UUqR7Fy msg_01AbC chatcmpl-7Xq",
        "",
    ] {
        assert!(matches!(r.redact(text), Cow::Borrowed(_)), "{text}");
    }
}

#[test]
fn json_strings_are_redacted_in_place() {
    let r = redactor(&["secret-value-1"]);
    let mut v = serde_json::json!({"error": {"message": "bad secret-value-1", "n": 1,
        "list": ["secret-value-1", true]}});
    r.redact_json(&mut v);
    assert_eq!(
        v,
        serde_json::json!({"error": {"message": "bad [redacted]", "n": 1,
            "list": ["[redacted]", true]}})
    );
}

#[test]
fn debug_shows_no_secret() {
    let r = redactor(&["secret-value-1"]);
    assert_eq!(format!("{r:?}"), "Redactor(1 secrets)");
}

/// Text that holds no key shape: no `-` after `sk`/`xai`, no `AIza`, no long word after
/// `bearer` or `api key` (spaces come often).
fn plain_text() -> impl Strategy<Value = String> {
    "[a-z0-9 .,:{}\"]{0,200}"
}

fn secret() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{8,40}"
}

proptest! {
    /// A configured secret anywhere in random text, any number of times, is gone afterwards.
    #[test]
    fn a_configured_secret_anywhere_is_gone(
        secrets in proptest::collection::vec(secret(), 1..4),
        parts in proptest::collection::vec(plain_text(), 1..5),
        picks in proptest::collection::vec(any::<prop::sample::Index>(), 0..5),
    ) {
        let mut text = String::new();
        for (i, part) in parts.iter().enumerate() {
            text.push_str(part);
            if let Some(p) = picks.get(i) {
                text.push_str(&secrets[p.index(secrets.len())]);
            }
        }
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let out = redactor(&refs).redact(&text).into_owned();
        for s in &secrets {
            prop_assert!(!out.contains(s.as_str()), "{} left in {}", s, out);
        }
    }

    /// A key-shaped token anywhere (after a word boundary) is gone, known or not.
    #[test]
    fn a_key_shaped_token_anywhere_is_gone(
        before in plain_text(),
        after in plain_text(),
        prefix in prop::sample::select(vec!["sk-", "sk-ant-api03-", "sk-proj-", "xai-"]),
        body in "[A-Za-z0-9]{20,60}",
    ) {
        let key = format!("{prefix}{body}");
        let text = format!("{before} {key} {after}");
        let out = Redactor::default().redact(&text).into_owned();
        prop_assert!(!out.contains(&body), "{}", out);
    }

    /// Text without a secret or a key shape comes back unchanged (and unallocated).
    #[test]
    fn text_without_secrets_is_unchanged(
        text in plain_text(),
        secrets in proptest::collection::vec(secret(), 0..4),
    ) {
        prop_assume!(secrets.iter().all(|s| !text.contains(s.as_str())));
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let out = redactor(&refs).redact(&text);
        prop_assert!(matches!(out, Cow::Borrowed(_)));
        prop_assert_eq!(out, text.as_str());
    }
}
