//! The client's body as an upload reads it: chunk by chunk, each under the idle deadline, all
//! under the total one, counted against the largest size.
//!
//! Owns: the client-side deadlines and the size bound of an upload, both while its head is
//! read and while its live rest streams upstream.
//! Must never: wait without a deadline, or hand out a byte past `max_body`.

use super::fault::Fault;
use axum::body::Body;
use bytes::Bytes;
use http_body_util::BodyExt;
use std::time::Duration;
use tokio::time::Instant;

/// The client's body, read under its deadlines and bound.
pub(super) struct Source {
    body: Body,
    idle: Duration,
    total: Duration,
    /// When the whole body must have arrived.
    all_by: Instant,
    max_body: usize,
    read: u64,
    /// Set once it ended, or failed (then the fault, again on every read).
    done: Option<Option<Fault>>,
}

impl Source {
    pub(super) fn new(body: Body, max_body: usize, idle: Duration, total: Duration) -> Self {
        Self {
            body,
            idle,
            total,
            all_by: Instant::now() + total,
            max_body,
            read: 0,
            done: None,
        }
    }

    /// Bytes read so far.
    pub(super) fn read(&self) -> u64 {
        self.read
    }

    /// The next chunk; `None` at the end.
    pub(super) async fn next(&mut self) -> Result<Option<Bytes>, Fault> {
        if let Some(done) = &self.done {
            return done.clone().map_or(Ok(None), Err);
        }
        let next = self.next_inner().await;
        match &next {
            Ok(Some(_)) => {}
            Ok(None) => self.done = Some(None),
            Err(f) => self.done = Some(Some(f.clone())),
        }
        next
    }

    async fn next_inner(&mut self) -> Result<Option<Bytes>, Fault> {
        loop {
            let next_by = Instant::now() + self.idle;
            let frame =
                match tokio::time::timeout_at(next_by.min(self.all_by), self.body.frame()).await {
                    Ok(Some(Ok(frame))) => frame,
                    Ok(None) => return Ok(None),
                    Ok(Some(Err(e))) => {
                        return Err(Fault::Gone {
                            read: self.read,
                            why: e.to_string(),
                        })
                    }
                    Err(_) if next_by < self.all_by => return Err(Fault::Stalled(self.idle)),
                    Err(_) => return Err(Fault::TooSlow(self.total)),
                };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            self.read += data.len() as u64;
            if self.read > self.max_body as u64 {
                return Err(Fault::TooLarge {
                    limit: self.max_body,
                    read: self.read,
                });
            }
            if !data.is_empty() {
                return Ok(Some(data));
            }
        }
    }
}
