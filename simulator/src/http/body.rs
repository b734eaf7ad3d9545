//! A response body played from a script: data frames, pauses, stalls and aborts.
//! Owns frame timing; must never build provider content.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

/// One step of a scripted body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Send these bytes as one frame (and let the connection flush it).
    Data(Bytes),
    /// Wait before the next step.
    Pause(Duration),
    /// Return to the connection once so it writes what it holds (headers included).
    Flush,
    /// Send nothing more, ever (until the client leaves or the server stops).
    Stall,
    /// Fail the body: the connection is closed without a proper end.
    Abort,
}

/// The error a scripted body fails with on [`Step::Abort`].
#[derive(Debug, thiserror::Error)]
#[error("simulated connection abort")]
pub(crate) struct Aborted;

/// A body that plays [`Step`]s in order.
pub(crate) struct ScriptBody {
    steps: VecDeque<Step>,
    pause: Option<Pin<Box<Sleep>>>,
    yield_next: bool,
    exact_len: Option<u64>,
}

impl ScriptBody {
    /// Plays `steps`; `exact_len` is the Content-Length to promise, if any.
    pub(crate) fn new(steps: Vec<Step>, exact_len: Option<u64>) -> Self {
        ScriptBody {
            steps: steps.into(),
            pause: None,
            yield_next: false,
            exact_len,
        }
    }

    /// One frame with its exact length: the usual JSON body.
    pub(crate) fn full(bytes: Bytes) -> Self {
        let len = bytes.len() as u64;
        Self::new(vec![Step::Data(bytes)], Some(len))
    }
}

impl Body for ScriptBody {
    type Data = Bytes;
    type Error = Aborted;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Aborted>>> {
        loop {
            if let Some(pause) = self.pause.as_mut() {
                if pause.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.pause = None;
            }
            if self.yield_next {
                // Return to the connection once so it flushes the frame just sent.
                self.yield_next = false;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            match self.steps.pop_front() {
                None => return Poll::Ready(None),
                Some(Step::Data(b)) => {
                    self.yield_next = !self.steps.is_empty();
                    return Poll::Ready(Some(Ok(Frame::data(b))));
                }
                Some(Step::Pause(d)) => self.pause = Some(Box::pin(tokio::time::sleep(d))),
                Some(Step::Flush) => self.yield_next = true,
                Some(Step::Stall) => {
                    self.steps.push_front(Step::Stall);
                    return Poll::Pending;
                }
                Some(Step::Abort) => return Poll::Ready(Some(Err(Aborted))),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.steps.is_empty() && self.pause.is_none() && !self.yield_next
    }

    fn size_hint(&self) -> SizeHint {
        match self.exact_len {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn plays_data_and_pauses() {
        let steps = vec![
            Step::Data(Bytes::from_static(b"a")),
            Step::Pause(Duration::from_millis(1)),
            Step::Data(Bytes::from_static(b"b")),
        ];
        let body = ScriptBody::new(steps, None);
        let out = body.collect().await.map(|c| c.to_bytes());
        assert_eq!(out.ok(), Some(Bytes::from_static(b"ab")));
    }

    #[tokio::test]
    async fn abort_is_an_error() {
        let body = ScriptBody::new(
            vec![Step::Data(Bytes::from_static(b"a")), Step::Abort],
            None,
        );
        assert!(body.collect().await.is_err());
    }
}
