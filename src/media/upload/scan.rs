//! An incremental scanner of a `multipart/form-data` body: fed the raw bytes as they arrive, it
//! says where each part starts and ends, its name, whether it is a file, and (text parts) its
//! value, with the absolute offset of every part's value in the body.
//!
//! Owns: the framing of RFC 7578 / RFC 2046 (delimiter `CRLF--boundary`, a preamble before the
//! first, `--` after the last, headers up to a blank line, `Content-Disposition`'s `name` and
//! `filename`), and its bounds: headers at most [`MAX_HEADERS`] bytes, text values kept up to
//! [`MAX_TEXT`] bytes, and never more than one delimiter's length of a file held back.
//! Must never: copy a file part's bytes beyond that tail, or change a byte (it only reads: the
//! body goes upstream as the client sent it).

use memchr::memmem::Finder;
use std::ops::Range;

/// The most of one part's header block read before the body is refused.
pub(super) const MAX_HEADERS: usize = 16 * 1024;
/// The most of a text part's value kept (`prompt` is at most 32000 characters).
pub(super) const MAX_TEXT: usize = 128 * 1024;

/// What the scanner saw in the bytes fed to it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Event {
    /// A file part's headers were read (its bytes follow).
    FileStarts { name: String },
    /// A part ended: a text part with its value (`None` when longer than [`MAX_TEXT`] or not
    /// UTF-8), or a file part. `value_at` is where its value lies in the body.
    Part {
        name: String,
        file: bool,
        text: Option<String>,
        value_at: Range<u64>,
    },
    /// The closing delimiter: nothing after it is a part.
    End,
}

/// A body that breaks the framing.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(super) enum ScanError {
    #[error("a part's headers are longer than {MAX_HEADERS} bytes")]
    HeadersTooLong,
    #[error("a part has no Content-Disposition name")]
    Unnamed,
    #[error("unexpected bytes after a boundary")]
    AfterBoundary,
}

enum State {
    /// Before the first delimiter (or inside a part's value).
    Value(Option<Current>),
    /// Just after a delimiter: `--` (the end) or CRLF (a part) follows.
    AfterDelimiter,
    Headers,
    Done,
}

struct Current {
    name: String,
    file: bool,
    start: u64,
    text: Option<Vec<u8>>,
}

pub(super) struct Scanner {
    delimiter: Finder<'static>,
    blank_line: Finder<'static>,
    /// Bytes not yet decided on, starting at `base` (virtual offsets: the body is read as if
    /// prefixed with CRLF, so a first boundary at offset 0 is a delimiter too).
    carry: Vec<u8>,
    base: u64,
    state: State,
}

/// The virtual CRLF before the body.
const PREFIX: u64 = 2;

impl Scanner {
    pub(super) fn new(boundary: &str) -> Self {
        let delimiter = format!("\r\n--{boundary}").into_bytes();
        Self {
            delimiter: Finder::new(&delimiter).into_owned(),
            blank_line: Finder::new(b"\r\n\r\n").into_owned(),
            carry: b"\r\n".to_vec(),
            base: 0,
            state: State::Value(None),
        }
    }

    /// Reads `chunk` (the next bytes of the body), pushing what it completes to `out`.
    pub(super) fn feed(&mut self, chunk: &[u8], out: &mut Vec<Event>) -> Result<(), ScanError> {
        if matches!(self.state, State::Done) {
            return Ok(());
        }
        let mut buf = std::mem::take(&mut self.carry);
        buf.extend_from_slice(chunk);
        let mut i = 0;
        let dlen = self.delimiter.needle().len();
        loop {
            let at = self.base + i as u64;
            match &mut self.state {
                State::Done => return Ok(()),
                State::Value(current) => match self.delimiter.find(&buf[i..]) {
                    Some(j) => {
                        if let Some(mut c) = current.take() {
                            append(&mut c, &buf[i..i + j]);
                            out.push(ended(c, at + j as u64 - PREFIX));
                        }
                        i += j + dlen;
                        self.state = State::AfterDelimiter;
                    }
                    None => {
                        // All but a delimiter's length minus one are surely value bytes.
                        let keep = buf.len().saturating_sub(i).min(dlen - 1);
                        let sure = buf.len() - keep;
                        if let Some(c) = current.as_mut() {
                            append(c, &buf[i..sure]);
                        }
                        i = sure;
                        break;
                    }
                },
                State::AfterDelimiter => {
                    let rest = &buf[i..];
                    let pad = rest
                        .iter()
                        .take_while(|b| matches!(b, b' ' | b'\t'))
                        .count();
                    let rest = &rest[pad..];
                    if rest.len() < 2 {
                        if pad > 64 {
                            return Err(ScanError::AfterBoundary);
                        }
                        break;
                    }
                    if rest.starts_with(b"--") {
                        out.push(Event::End);
                        self.state = State::Done;
                        return Ok(());
                    }
                    if !rest.starts_with(b"\r\n") {
                        return Err(ScanError::AfterBoundary);
                    }
                    // The headers start with their CRLF, so an empty block is found as well.
                    i += pad;
                    self.state = State::Headers;
                }
                State::Headers => match self.blank_line.find(&buf[i..]) {
                    Some(j) => {
                        let block = &buf[i + 2..i + j.max(2)];
                        let (name, file) = disposition(block).ok_or(ScanError::Unnamed)?;
                        i += j + 4;
                        if file {
                            out.push(Event::FileStarts { name: name.clone() });
                        }
                        self.state = State::Value(Some(Current {
                            name,
                            file,
                            start: self.base + i as u64 - PREFIX,
                            text: (!file).then(Vec::new),
                        }));
                    }
                    None if buf.len() - i > MAX_HEADERS => return Err(ScanError::HeadersTooLong),
                    None => break,
                },
            }
        }
        self.base += i as u64;
        self.carry = buf.split_off(i);
        Ok(())
    }
}

/// Adds value bytes to a text part (dropping its text once past [`MAX_TEXT`]).
fn append(c: &mut Current, bytes: &[u8]) {
    if let Some(t) = c.text.as_mut() {
        if t.len() + bytes.len() > MAX_TEXT {
            c.text = None;
        } else {
            t.extend_from_slice(bytes);
        }
    }
}

fn ended(c: Current, end: u64) -> Event {
    Event::Part {
        name: c.name,
        file: c.file,
        text: c.text.and_then(|t| String::from_utf8(t).ok()),
        value_at: c.start..end,
    }
}

/// The `name` of a part's `Content-Disposition: form-data; name="..."` and whether it has a
/// `filename` (a file part).
fn disposition(block: &[u8]) -> Option<(String, bool)> {
    let text = String::from_utf8_lossy(block);
    let line = text.split("\r\n").find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-disposition")
            .then_some(v)
    })?;
    let mut name = None;
    let mut file = false;
    for (k, v) in params(line) {
        if k.eq_ignore_ascii_case("name") {
            name = Some(v);
        } else if k.eq_ignore_ascii_case("filename") || k.eq_ignore_ascii_case("filename*") {
            file = true;
        }
    }
    Some((name?, file))
}

/// The `key=value` parameters after the disposition type, values unquoted (`\"` unescaped).
fn params(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    // Skip the type (`form-data`).
    for c in chars.by_ref() {
        if c == ';' {
            break;
        }
    }
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ';').is_some() {}
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ';')).collect();
        if key.is_empty() && chars.peek().is_none() {
            return out;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'=').is_some() {
            if chars.next_if_eq(&'"').is_some() {
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => value.extend(chars.next()),
                        c => value.push(c),
                    }
                }
            } else {
                value = std::iter::from_fn(|| chars.next_if(|c| *c != ';')).collect();
                value = value.trim().to_owned();
            }
        }
        out.push((key.trim().to_owned(), value));
    }
}

#[cfg(test)]
mod tests;
