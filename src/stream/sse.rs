//! Incremental Server-Sent Events parsing and encoding.
//!
//! Owns: turning upstream bytes into events (any chunking, `\n`/`\r\n`/`\r` line ends, comments,
//! multi-line data) and events into bytes, with one bound on event size. Google writes its
//! in-stream errors as bare (pretty-printed) JSON between its `data:` events: a line that
//! starts with `{` outside an event opens such a block, which ends where its braces balance,
//! and is delivered as one event's data (its SDK reads them the same way).
//! Must never: buffer more than one event plus one partial line, or panic on any input.

use bytes::{BufMut, Bytes, BytesMut};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SseError {
    #[error("stream event larger than the {0}-byte limit")]
    EventTooLarge(usize),
}

#[derive(Debug)]
pub struct SseParser {
    max_event: usize,
    line: Vec<u8>,
    /// A `\r` ended the previous chunk: a leading `\n` in the next one belongs to it.
    after_cr: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    /// Inside a bare JSON block: its brace depth so far (its text is in `data`).
    bare: Option<i64>,
}

impl SseParser {
    pub fn new(max_event: usize) -> Self {
        Self {
            max_event,
            line: Vec::new(),
            after_cr: false,
            event: None,
            data: String::new(),
            has_data: false,
            bare: None,
        }
    }

    /// Feeds a chunk; complete events are appended to `out`.
    pub fn push(&mut self, mut chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if chunk.is_empty() {
            // Nothing to read, and a pending `\r` must still see the next byte.
            return Ok(());
        }
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        while let Some(pos) = chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.extend_line(&chunk[..pos])?;
            let was_cr = chunk[pos] == b'\r';
            chunk = &chunk[pos + 1..];
            if was_cr {
                match chunk.first() {
                    Some(b'\n') => chunk = &chunk[1..],
                    None => self.after_cr = true,
                    Some(_) => {}
                }
            }
            let line = std::mem::take(&mut self.line);
            self.take_line(&line, out)?;
        }
        self.extend_line(chunk)
    }

    /// The upstream ended: an event not yet closed by a blank line is still delivered.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            // An event over the bound is dropped: the stream ends without it.
            let _too_large = self.take_line(&line, out);
        }
        self.dispatch(out);
    }

    fn extend_line(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        // A bare JSON block keeps its line ends in the data.
        let joint = usize::from(self.bare.is_some() && self.has_data);
        if self.line.len() + bytes.len() + self.data.len() + joint > self.max_event {
            self.line.clear();
            self.data.clear();
            self.bare = None;
            return Err(SseError::EventTooLarge(self.max_event));
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn take_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let opens_bare = !self.has_data && self.event.is_none() && line.first() == Some(&b'{');
        if self.bare.is_some() || opens_bare {
            return self.take_bare(line, out);
        }
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match field {
            b"event" => self.event = Some(value.into_owned()),
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&value);
                self.has_data = true;
            }
            _ => {}
        }
        self.within_bound()
    }

    /// The event's data within the bound (invalid UTF-8 grows as it is replaced): else it is
    /// dropped, and an error.
    fn within_bound(&mut self) -> Result<(), SseError> {
        if self.data.len() <= self.max_event {
            return Ok(());
        }
        self.data.clear();
        self.has_data = false;
        self.bare = None;
        Err(SseError::EventTooLarge(self.max_event))
    }

    /// One line of a bare JSON block; the block is an event once its braces balance.
    fn take_bare(&mut self, line: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let depth = self.bare.unwrap_or(0) + brace_balance(line);
        if self.has_data {
            self.data.push('\n');
        }
        self.data.push_str(&String::from_utf8_lossy(line));
        self.has_data = true;
        self.within_bound()?;
        if depth <= 0 {
            self.bare = None;
            self.dispatch(out);
        } else {
            self.bare = Some(depth);
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if self.has_data {
            out.push(SseEvent {
                event: self.event.take(),
                data: std::mem::take(&mut self.data),
            });
        }
        self.event = None;
        self.has_data = false;
        self.bare = None;
    }
}

/// Opening minus closing braces of one JSON line, those inside strings not counted.
fn brace_balance(line: &[u8]) -> i64 {
    let (mut depth, mut in_string, mut escaped) = (0, false, false);
    for &b in line {
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') | (false, _, b'"') => in_string = !in_string,
            (false, _, b'{') => depth += 1,
            (false, _, b'}') => depth -= 1,
            _ => {}
        }
    }
    depth
}

/// Encodes one event; multi-line data becomes several `data:` lines.
pub fn encode(event: Option<&str>, data: &str) -> Bytes {
    let mut b = BytesMut::with_capacity(data.len() + 32);
    if let Some(name) = event {
        b.put_slice(b"event: ");
        b.put_slice(name.as_bytes());
        b.put_u8(b'\n');
    }
    for line in data.split('\n') {
        b.put_slice(b"data: ");
        b.put_slice(line.as_bytes());
        b.put_u8(b'\n');
    }
    b.put_u8(b'\n');
    b.freeze()
}

/// An SSE comment line that keeps intermediaries from timing out an idle stream.
pub const KEEPALIVE: &[u8] = b": keep-alive\n\n";

#[cfg(test)]
mod tests;
