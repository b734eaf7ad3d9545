use super::*;

/// A form as the Python SDK writes one: text fields, then a file.
fn python_form(boundary: &str) -> Vec<u8> {
    let mut b = Vec::new();
    for (k, v) in [("model", "whisper-1"), ("response_format", "srt")] {
        b.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    b.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".wav\"\r\nContent-Type: audio/wav\r\n\r\n"
        )
        .as_bytes(),
    );
    // A file holding near-delimiters.
    b.extend_from_slice(b"RIFF\r\n--notit\r\n-");
    b.extend_from_slice(&[0u8, 13, 10, 45, 45]);
    b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    b
}

fn scan_in(body: &[u8], boundary: &str, cuts: &[usize]) -> Vec<Event> {
    let mut s = Scanner::new(boundary);
    let mut out = Vec::new();
    let mut last = 0;
    for &c in cuts.iter().chain(std::iter::once(&body.len())) {
        s.feed(&body[last..c], &mut out).unwrap();
        last = c;
    }
    out
}

#[test]
fn parts_are_found_wherever_the_chunks_split() {
    let body = python_form("abc123");
    let whole = scan_in(&body, "abc123", &[]);
    assert_eq!(whole.len(), 5, "{whole:?}");
    let Event::Part {
        name,
        text,
        value_at,
        ..
    } = &whole[0]
    else {
        panic!("{whole:?}")
    };
    assert_eq!(
        (name.as_str(), text.as_deref()),
        ("model", Some("whisper-1"))
    );
    assert_eq!(
        &body[value_at.start as usize..value_at.end as usize],
        b"whisper-1"
    );
    assert_eq!(
        whole[2],
        Event::FileStarts {
            name: "file".into()
        }
    );
    assert!(matches!(
        &whole[3],
        Event::Part {
            file: true,
            text: None,
            ..
        }
    ));
    assert_eq!(whole[4], Event::End);
    for cut in 0..body.len() {
        for step in [1, 7] {
            let cuts: Vec<usize> = (cut..body.len()).step_by(step.max(1)).take(3).collect();
            assert_eq!(scan_in(&body, "abc123", &cuts), whole, "cuts {cuts:?}");
        }
    }
}

#[test]
fn file_values_lie_where_multer_reads_them() {
    let body = python_form("xyz");
    let events = scan_in(&body, "xyz", &[10]);
    let Event::Part { value_at, .. } = &events[3] else {
        panic!("{events:?}")
    };
    let ours = body[value_at.start as usize..value_at.end as usize].to_vec();
    let theirs = tokio_test::block_on(async {
        let stream =
            futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(body.clone()))]);
        let mut m = multer::Multipart::new(stream, "xyz");
        let mut found = Vec::new();
        while let Some(f) = m.next_field().await.unwrap() {
            let file = f.file_name().map(str::to_owned);
            let data = f.bytes().await.unwrap();
            if let Some(name) = file {
                assert_eq!(name, "a \"b\".wav");
                found = data.to_vec();
            }
        }
        found
    });
    assert_eq!(ours, theirs);
}

#[test]
fn a_preamble_an_empty_value_and_unquoted_names_are_read() {
    let body = b"ignored preamble\r\n--B\r\ncontent-disposition: form-data; name=n\r\n\r\n\r\n--B\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\ndall-e-2\r\n--B--";
    let events = scan_in(body, "B", &[]);
    assert!(
        matches!(&events[0], Event::Part { name, text: Some(t), .. } if name == "n" && t.is_empty())
    );
    assert!(
        matches!(&events[1], Event::Part { name, text: Some(t), .. } if name == "model" && t == "dall-e-2")
    );
    assert_eq!(events[2], Event::End);
}

#[test]
fn broken_framing_is_refused() {
    let mut s = Scanner::new("B");
    let mut out = Vec::new();
    assert_eq!(s.feed(b"--Bxx", &mut out), Err(ScanError::AfterBoundary));
    let mut s = Scanner::new("B");
    assert_eq!(
        s.feed(b"--B\r\nContent-Type: text/plain\r\n\r\nv", &mut out),
        Err(ScanError::Unnamed)
    );
    let mut s = Scanner::new("B");
    let long = vec![b'a'; MAX_HEADERS + 10];
    s.feed(b"--B\r\n", &mut out).unwrap();
    assert_eq!(s.feed(&long, &mut out), Err(ScanError::HeadersTooLong));
}

#[test]
fn a_text_value_past_the_bound_is_not_kept() {
    let big = "p".repeat(MAX_TEXT + 1);
    let body =
        format!("--B\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\n{big}\r\n--B--");
    let events = scan_in(body.as_bytes(), "B", &[100, 70_000]);
    assert!(
        matches!(&events[0], Event::Part { text: None, .. }),
        "{:?}",
        events.len()
    );
}
