use super::*;
use proptest::prelude::*;

fn parse_all(chunks: &[&[u8]], max: usize) -> Result<Vec<SseEvent>, SseError> {
    let mut p = SseParser::new(max);
    let mut out = Vec::new();
    for c in chunks {
        p.push(c, &mut out)?;
    }
    p.finish(&mut out);
    Ok(out)
}

fn ev(event: Option<&str>, data: &str) -> SseEvent {
    SseEvent {
        event: event.map(str::to_owned),
        data: data.to_owned(),
    }
}

#[test]
fn parses_named_events_comments_and_crlf() {
    let text = b": hello\r\nevent: ping\r\ndata: {\"type\":\"ping\"}\r\n\r\ndata: [DONE]\n\n";
    let out = parse_all(&[text], 1024).unwrap();
    assert_eq!(
        out,
        [ev(Some("ping"), "{\"type\":\"ping\"}"), ev(None, "[DONE]")]
    );
}

#[test]
fn joins_multi_line_data_and_accepts_no_space() {
    let out = parse_all(&[b"data:a\ndata: b\n\n"], 1024).unwrap();
    assert_eq!(out, [ev(None, "a\nb")]);
}

#[test]
fn cr_split_across_chunks_is_one_line_end() {
    let out = parse_all(&[b"data: x\r", b"\n\r", b"\ndata: y\r\r"], 1024).unwrap();
    assert_eq!(out, [ev(None, "x"), ev(None, "y")]);
}

#[test]
fn empty_chunk_after_a_cr_keeps_the_pending_line_end() {
    // Found by `any_chunking_gives_the_same_events`: an empty read between `\r` and `\n` made
    // the `\n` a blank line, which dispatched the event and lost its name.
    let out = parse_all(&[b"event: a\r", b"", b"\ndata: \r\n\r\n"], 1024).unwrap();
    assert_eq!(out, [ev(Some("a"), "")]);
}

#[test]
fn unterminated_last_event_is_delivered_on_finish() {
    let out = parse_all(&[b"data: tail"], 1024).unwrap();
    assert_eq!(out, [ev(None, "tail")]);
}

#[test]
fn event_over_the_bound_is_an_error_not_a_silent_cut() {
    let big = format!("data: {}\n\n", "x".repeat(100));
    assert_eq!(
        parse_all(&[big.as_bytes()], 64).unwrap_err(),
        SseError::EventTooLarge(64)
    );
    // Large events under the bound pass intact, whatever the chunking.
    let huge = "y".repeat(300_000);
    let text = format!("data: {huge}\n\n");
    let chunks: Vec<&[u8]> = text.as_bytes().chunks(7_001).collect();
    let out = parse_all(&chunks, 1 << 20).unwrap();
    assert_eq!(out[0].data.len(), 300_000);
}

#[test]
fn encode_round_trips() {
    let b = encode(Some("message_stop"), "{\"type\":\"message_stop\"}");
    assert_eq!(
        &b[..],
        b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
    );
}

proptest! {
    /// Any split of an encoded event sequence parses back to the same events.
    #[test]
    fn any_chunking_gives_the_same_events(
        events in prop::collection::vec((prop::option::of("[a-z_]{1,12}"), "[ -~]{0,40}"), 0..8),
        cuts in prop::collection::vec(0usize..400, 0..10),
        crlf in any::<bool>(),
    ) {
        let mut text = Vec::new();
        for (name, data) in &events {
            let e = encode(name.as_deref(), data);
            let e = if crlf { String::from_utf8_lossy(&e).replace('\n', "\r\n").into_bytes() } else { e.to_vec() };
            text.extend_from_slice(&e);
        }
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(text.len())).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut prev = 0;
        for c in cuts { chunks.push(&text[prev..c]); prev = c; }
        chunks.push(&text[prev..]);
        let out = parse_all(&chunks, 1 << 16).unwrap();
        let want: Vec<SseEvent> = events.iter().map(|(n, d)| ev(n.as_deref(), d)).collect();
        prop_assert_eq!(out, want);
    }

    /// Arbitrary bytes never panic and never exceed the bound.
    #[test]
    fn arbitrary_bytes_never_panic(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..16)) {
        let mut p = SseParser::new(128);
        let mut out = Vec::new();
        for c in &chunks { let _ = p.push(c, &mut out); }
        p.finish(&mut out);
        for e in out { prop_assert!(e.data.len() <= 128); }
    }
}

#[test]
fn googles_bare_json_error_between_events_is_one_event() {
    let text = b"data: {\"a\": 1}\r\n\r\n{\n  \"error\": {\n    \"code\": 503,\n    \"message\": \"a } in {text\"\n  }\n}\ndata: {\"b\": 2}\n\n";
    for split in [1usize, 7, 19, text.len()] {
        let chunks: Vec<&[u8]> = text.chunks(split).collect();
        let out = parse_all(&chunks, 1024).unwrap();
        assert_eq!(out.len(), 3, "{split}: {out:?}");
        let v: serde_json::Value = serde_json::from_str(&out[1].data).unwrap();
        assert_eq!(v["error"]["code"], 503);
        assert_eq!(out[2], ev(None, "{\"b\": 2}"));
    }
    assert!(parse_all(&[b"{\n\"x\": \"", &[b'y'; 64], b"\"\n"], 32).is_err());
}
