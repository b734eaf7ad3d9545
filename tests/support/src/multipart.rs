//! Multipart uploads as the SDKs send them, for the upload tests: a form builder (any part
//! order, a boundary of the Python SDK's shape), small real files (a WAV of silence, a PNG
//! header of a given size), and a raw client that writes an upload piece by piece over its own
//! socket, to stall or hang up mid-body.
//!
//! Owns: the bytes of test uploads. Must never: talk to anything but loopback, or wait for an
//! answer without a deadline.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A form's parts in the order they are added.
pub struct Form {
    boundary: String,
    parts: Vec<u8>,
}

impl Default for Form {
    fn default() -> Self {
        Self::new()
    }
}

impl Form {
    /// An empty form; its boundary is 32 lowercase hex characters, as openai-python's.
    pub fn new() -> Self {
        Self {
            boundary: format!("{:032x}", rand::random::<u128>()),
            parts: Vec::new(),
        }
    }

    pub fn text(mut self, name: &str, value: &str) -> Self {
        self.parts.extend_from_slice(
            format!(
                "--{}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n",
                self.boundary
            )
            .as_bytes(),
        );
        self
    }

    pub fn file(mut self, name: &str, filename: &str, content_type: &str, bytes: &[u8]) -> Self {
        self.parts.extend_from_slice(
            format!(
                "--{}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n",
                self.boundary
            )
            .as_bytes(),
        );
        self.parts.extend_from_slice(bytes);
        self.parts.extend_from_slice(b"\r\n");
        self
    }

    /// The `content-type` to send it with.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The whole body, closed.
    pub fn bytes(&self) -> Vec<u8> {
        let mut b = self.parts.clone();
        b.extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        b
    }
}

/// `seconds` of 16 kHz mono 16-bit silence as a WAV file.
pub fn wav(seconds: f64) -> Vec<u8> {
    let samples = (seconds * 16_000.0) as u32;
    let data = samples * 2;
    let mut b = Vec::with_capacity(44 + data as usize);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&16_000u32.to_le_bytes());
    b.extend_from_slice(&32_000u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data.to_le_bytes());
    b.resize(44 + data as usize, 0);
    b
}

/// A PNG's signature and `IHDR` chunk for a `w`x`h` image, then `pad` bytes of data.
pub fn png(w: u32, h: u32, pad: usize) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend_from_slice(&13u32.to_be_bytes());
    b.extend_from_slice(b"IHDR");
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    b.resize(b.len() + pad, 0);
    b
}

/// An upload written by hand over its own connection.
pub struct RawUpload {
    stream: TcpStream,
    chunked: bool,
}

impl RawUpload {
    /// Connects and writes the request head: `content-length` when `length` is given, else
    /// chunked.
    pub async fn start(
        addr: SocketAddr,
        path: &str,
        token: &str,
        content_type: &str,
        length: Option<usize>,
    ) -> Self {
        let mut stream = TcpStream::connect(addr).await.expect("relay unreachable");
        let framing = match length {
            Some(n) => format!("content-length: {n}"),
            None => "transfer-encoding: chunked".to_owned(),
        };
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\ncontent-type: {content_type}\r\n{framing}\r\nconnection: close\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.expect("write head");
        Self {
            stream,
            chunked: length.is_none(),
        }
    }

    /// `form` announced whole (`content-length`) and its first `sent` bytes written: a client
    /// that stops or leaves mid-upload.
    pub async fn partial(
        addr: SocketAddr,
        path: &str,
        token: &str,
        form: &Form,
        sent: usize,
    ) -> Self {
        let body = form.bytes();
        let mut up = Self::start(addr, path, token, &form.content_type(), Some(body.len())).await;
        up.send(&body[..sent.min(body.len())]).await;
        up
    }

    /// Writes more of the body (as one chunk when chunked).
    pub async fn send(&mut self, bytes: &[u8]) {
        if self.chunked {
            let size = format!("{:x}\r\n", bytes.len());
            self.stream.write_all(size.as_bytes()).await.expect("write");
            self.stream.write_all(bytes).await.expect("write");
            self.stream.write_all(b"\r\n").await.expect("write");
        } else {
            self.stream.write_all(bytes).await.expect("write");
        }
    }

    /// Writes the chunked body's end.
    pub async fn finish(&mut self) {
        if self.chunked {
            self.stream.write_all(b"0\r\n\r\n").await.expect("write");
        }
    }

    /// The answer's status and body (read to the connection's close, within `within`).
    pub async fn response(mut self, within: Duration) -> (u16, String) {
        let mut out = Vec::new();
        tokio::time::timeout(within, self.stream.read_to_end(&mut out))
            .await
            .expect("an answer within the deadline")
            .expect("read the answer");
        let text = String::from_utf8_lossy(&out).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }
}
