//! Uploads aborted mid-body: a client that hangs up while the relay holds the first parts of
//! its upload (spooled to disk, before `model`) or while the rest streams to the upstream must
//! leave nothing behind: no task, no connection either way, no fd, no spool file.

use super::SETTLE;
use sluice_sim::Provider;
use sluice_test_support::leak::{self, Baseline};
use sluice_test_support::multipart::{png, wav, Form, RawUpload};
use sluice_test_support::{eventually, Harness, TOKEN};
use std::path::Path;
use std::time::Duration;

const EDITS: &str = "/v1/images/edits";
const TRANSCRIBE: &str = "/v1/audio/transcriptions";
/// Uploads of each kind (file first, spooled; model first, streaming) aborted at once.
const EACH: usize = 6;

#[test]
fn edits_aborted_mid_upload_leave_no_task_connection_fd_or_spool() {
    let image = |model_first: bool| {
        let file = png(64, 64, 400_000);
        let form = Form::new().text("prompt", "a lighthouse");
        if model_first {
            form.text("model", "gpt-image-1")
                .file("image", "a.png", "image/png", &file)
        } else {
            form.file("image", "a.png", "image/png", &file)
                .text("model", "gpt-image-1")
        }
    };
    leak::run(|| aborted_mid_upload(EDITS, image));
}

#[test]
fn transcriptions_aborted_mid_upload_leave_no_task_connection_fd_or_spool() {
    let audio = |model_first: bool| {
        let file = wav(15.0);
        if model_first {
            Form::new()
                .text("model", "whisper-1")
                .file("file", "a.wav", "audio/wav", &file)
        } else {
            Form::new()
                .file("file", "a.wav", "audio/wav", &file)
                .text("model", "whisper-1")
        }
    };
    leak::run(|| aborted_mid_upload(TRANSCRIBE, audio));
}

fn spools(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(usize::MAX, Iterator::count)
}

/// Warms the relay with whole uploads to `path`, then opens `EACH` uploads of each order, sends
/// half of each body, waits until the relay holds them (spooled, or streaming upstream), hangs
/// them all up, and requires every count back and no spool left.
async fn aborted_mid_upload(path: &'static str, form: impl Fn(bool) -> Form) {
    let spool = tempfile::tempdir().unwrap();
    let dir = spool.path().to_owned();
    let h = leak::harness(move |c, _| {
        c.media.spool_dir = Some(dir);
        c.media.upload_memory = 64 * 1024;
    })
    .await;
    for model_first in [true, false] {
        let f = form(model_first);
        let resp = h
            .client
            .post(h.url(path))
            .bearer_auth(TOKEN)
            .header("content-type", f.content_type())
            .body(f.bytes())
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            200,
            "warm-up: {}",
            resp.text().await.unwrap()
        );
    }
    let base = Baseline::take(&h).await;
    let before = h.sim.stats().uploads_to(Provider::OpenAi, path);
    let mut open = Vec::new();
    for i in 0..2 * EACH {
        let f = form(i % 2 == 0);
        let half = f.bytes().len() / 2;
        open.push(RawUpload::partial(h.addr(), path, TOKEN, &f, half).await);
    }
    held(&h, path, before, spool.path()).await;
    drop(open);
    base.assert_returns(&h, SETTLE).await;
    assert_eq!(spools(spool.path()), 0, "every spool removed");
    assert_eq!(
        base.requests_since(&h),
        2 * EACH as u64,
        "each request counted once"
    );
    h.shutdown().await;
}

/// Waits until the relay holds every open upload: `EACH` spools, `EACH` upstream uploads.
async fn held(h: &Harness, path: &str, before: u64, spool: &Path) {
    eventually(
        Duration::from_secs(10),
        "every upload held (spooled or upstream)",
        || {
            let upstream = h.sim.stats().uploads_to(Provider::OpenAi, path) - before;
            let spooled = spools(spool);
            async move { upstream == EACH as u64 && spooled == EACH }
        },
    )
    .await;
}
