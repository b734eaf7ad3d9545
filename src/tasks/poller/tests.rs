//! The poller against a fake video API and a tiny local upstream (axum on 127.0.0.1:0), over a
//! real SQLite store in a temporary directory: rounds, the concurrency bound, backoff and
//! `retry-after`, compare-and-set races that leave one settlement, the deadline sweep, tasks
//! whose channel is gone, and cancellation.

use super::*;
use crate::config::{Config, StoreConfig};
use crate::monitor::Ledger;
use crate::providers::video::{Content, Submitted, TaskRef, Variant, VideoError, VideoResult};
use crate::providers::Target;
use crate::store::usage;
use crate::upstream::{Redactor, UpstreamRequest};
use crate::wire::{FaultKind, UpstreamFault, WireFormat};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use tokio::sync::Notify;

/// A video API of our own words: `GET {base}/tasks/{id}` answered with `{"state", "progress",
/// "url", "seconds", "poll_after_ms"}`.
struct FakeApi;

impl VideoApi for FakeApi {
    fn submit(
        &self,
        _target: &Target<'_>,
        _spec: &crate::providers::video::VideoSpec,
    ) -> Result<UpstreamRequest, VideoError> {
        Err(VideoError::Unsupported("not here".to_owned()))
    }

    fn read_submit(&self, _body: &[u8], _redactor: &Redactor) -> Result<Submitted, VideoError> {
        Err(VideoError::Unsupported("not here".to_owned()))
    }

    fn poll(&self, target: &Target<'_>, task: &TaskRef<'_>) -> UpstreamRequest {
        UpstreamRequest {
            method: Method::GET,
            url: format!("{}/tasks/{}", target.base_url, task.upstream_id),
            headers: HeaderMap::new(),
            body: Bytes::new().into(),
        }
    }

    fn read_poll(
        &self,
        _headers: &HeaderMap,
        body: &[u8],
        _redactor: &Redactor,
    ) -> Result<PollReport, VideoError> {
        let v: Value =
            serde_json::from_slice(body).map_err(|e| VideoError::Invalid(e.to_string()))?;
        let state = v["state"]
            .as_str()
            .and_then(TaskState::parse)
            .ok_or_else(|| VideoError::Invalid("no state".to_owned()))?;
        let mut r = PollReport::of(state);
        r.progress = v["progress"].as_u64().map(|p| p.min(100) as u8);
        r.result = v["url"].as_str().map(|u| VideoResult::Url(u.to_owned()));
        r.seconds = v["seconds"].as_f64();
        r.poll_after = v["poll_after_ms"].as_u64().map(Duration::from_millis);
        Ok(r)
    }

    fn content(
        &self,
        _target: &Target<'_>,
        _task: &TaskRef<'_>,
        _variant: Variant,
    ) -> Result<Content, VideoError> {
        Err(VideoError::Unsupported("not here".to_owned()))
    }

    fn cancel(&self, _target: &Target<'_>, _task: &TaskRef<'_>) -> Option<UpstreamRequest> {
        None
    }

    fn fault(
        &self,
        status: StatusCode,
        _headers: &HeaderMap,
        _body: &[u8],
        _redactor: &Redactor,
    ) -> UpstreamFault {
        UpstreamFault {
            wire: WireFormat::OpenAi,
            status: Some(status),
            kind: FaultKind::of_status(status),
            message: None,
            retry_after: Vec::new(),
            documented: None,
        }
    }

    fn min_poll_interval(&self) -> Duration {
        Duration::from_millis(50)
    }
}

static FAKE: FakeApi = FakeApi;

/// What the fake upstream saw, and the gates tests hold it at.
#[derive(Default)]
struct FakeUpstream {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    hits: Mutex<HashMap<String, u32>>,
    entered: Notify,
    release: Notify,
}

struct InFlight<'a>(&'a FakeUpstream);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Answers by the upstream id's first word.
async fn answer(State(up): State<Arc<FakeUpstream>>, Path(id): Path<String>) -> Response {
    let n = up.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    up.max_in_flight.fetch_max(n, Ordering::SeqCst);
    let _guard = InFlight(&up);
    let hits = {
        let mut h = up.hits.lock().unwrap();
        let e = h.entry(id.clone()).or_default();
        *e += 1;
        *e
    };
    let ok = |v: Value| (StatusCode::OK, axum::Json(v)).into_response();
    match id.split('-').next().unwrap_or_default() {
        "done" => {
            ok(json!({"state": "completed", "url": "https://cdn.test/v.mp4", "seconds": 8.0}))
        }
        "fail" => ok(json!({"state": "failed"})),
        "run" => ok(json!({"state": "in_progress", "progress": 50, "poll_after_ms": 10})),
        "steps" if hits < 3 => ok(json!({"state": "in_progress", "progress": hits * 30})),
        "steps" => ok(json!({"state": "completed", "seconds": 4.0})),
        "limited" => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "120")],
            axum::Json(json!({"error": {"message": "slow down", "type": "rate_limit"}})),
        )
            .into_response(),
        "bad" => (StatusCode::OK, "not json").into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            ok(json!({"state": "in_progress"}))
        }
        "wait" => {
            tokio::time::sleep(Duration::from_millis(30)).await;
            ok(json!({"state": "in_progress"}))
        }
        "gate" => {
            up.entered.notify_one();
            up.release.notified().await;
            ok(json!({"state": "completed", "seconds": 4.0}))
        }
        "hang" => {
            up.entered.notify_one();
            tokio::time::sleep(Duration::from_secs(60)).await;
            ok(json!({"state": "in_progress"}))
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A relay's parts around one SQLite store, with an OpenAI-kind channel `sim` pointing at the
/// fake upstream.
struct Rig {
    store: Store,
    config: Config,
    writers: Mutex<Vec<usage::UsageWriter>>,
    _dir: tempfile::TempDir,
}

impl Rig {
    async fn new(url: &str) -> Self {
        let text = format!(
            "[[channels]]\nname = \"sim\"\nprovider = \"openai\"\nbase_url = \"{url}/v1\"\n\
             keys = [\"sk-sim-0123456789\"]\nmodels = [\"sora-2\"]\n\
             [[prices.models]]\nmatch = [\"sora-2\"]\nvideo_second = 0.1\n"
        );
        let mut config = Config::parse(&text).unwrap();
        config.video.poll_interval = Duration::from_millis(20);
        config.video.max_poll_interval = Duration::from_secs(60);
        config.video.poll_timeout = Duration::from_millis(500);
        config.video.poll_concurrency = 4;
        config.video.poll_batch = 100;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with(&StoreConfig::in_dir(dir.path()), None)
            .await
            .unwrap();
        Self {
            store,
            config,
            writers: Mutex::new(Vec::new()),
            _dir: dir,
        }
    }

    fn poller(&self, instance: &str) -> Poller {
        let ledger = Ledger::new(&[]);
        let sc = StoreConfig::in_dir(self._dir.path().join(instance));
        let (sink, writer) = usage::pipeline(&self.store, &sc, None).unwrap();
        // Kept (not run): the sink's records wait in its queue for the test to count.
        self.writers.lock().unwrap().push(writer);
        Poller::new(PollerParts {
            store: self.store.clone(),
            routes: Arc::new(Routes::new(&self.config).unwrap()),
            upstream: Upstream::new(&self.config, ledger).unwrap(),
            credentials: Arc::new(Credentials::new(&self.config)),
            sink,
            prices: Arc::new(PriceTable::new(&self.config.prices).unwrap()),
            config: self.config.video.clone(),
            gauges: Arc::new(VideoGauges::default()),
        })
        .with_apis(Arc::new(|_| Some(&FAKE as &'static dyn VideoApi)))
        .with_instance(instance)
    }

    async fn insert(&self, upstream_id: &str, f: impl FnOnce(&mut Task)) -> Task {
        let now = now_ms();
        let mut t = Task {
            id: crate::tasks::new_public_id(),
            token_id: None,
            owner: "o".to_owned(),
            front: crate::tasks::Front::Openai,
            channel: "sim".to_owned(),
            key_index: 0,
            provider: ProviderKind::Openai,
            model: "sora-2".to_owned(),
            upstream_model: "sora-2".to_owned(),
            upstream_id: upstream_id.to_owned(),
            upstream_ref: None,
            spec: crate::tasks::TaskSpec {
                seconds: Some(4),
                ..Default::default()
            },
            state: TaskState::Queued,
            progress: 0,
            failure: None,
            result_url: None,
            video_ms: None,
            charged_units: 400,
            request_id: format!("req-{upstream_id}"),
            created_at: now - 60_000,
            updated_at: now - 60_000,
            completed_at: None,
            expires_at: None,
            deadline_at: now + 3_600_000,
            next_poll_at: now - 1,
            polls: 0,
            poll_errors: 0,
            lease_owner: None,
            lease_until: 0,
            version: 0,
            deleted: false,
        };
        f(&mut t);
        self.store.insert_task(&t).await.unwrap();
        t
    }

    async fn get(&self, t: &Task) -> Task {
        self.store.get_task(&t.id).await.unwrap().unwrap()
    }
}

/// Runs `f` with a fake upstream on 127.0.0.1:0 serving beside it.
async fn with_upstream<F, Fut>(f: F)
where
    F: FnOnce(String, Arc<FakeUpstream>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let up = Arc::new(FakeUpstream::default());
    let app = Router::new()
        .route("/v1/tasks/{id}", get(answer))
        .with_state(up.clone());
    tokio::select! {
        r = axum::serve(listener, app).into_future() => panic!("server ended: {r:?}"),
        () = f(url, up) => {}
    }
}

#[tokio::test]
async fn a_round_polls_due_tasks_and_writes_what_they_report() {
    with_upstream(|url, _| async move {
        let rig = Rig::new(&url).await;
        let p = rig.poller("a");
        let done = rig.insert("done-1", |_| {}).await;
        let run = rig.insert("run-1", |_| {}).await;
        let fail = rig.insert("fail-1", |_| {}).await;
        let later = rig
            .insert("run-2", |t| t.next_poll_at = now_ms() + 600_000)
            .await;
        let before = now_ms();
        p.round().await;
        let done = rig.get(&done).await;
        assert_eq!(done.state, TaskState::Completed);
        assert_eq!(done.video_ms, Some(8000));
        assert_eq!(done.result_url.as_deref(), Some("https://cdn.test/v.mp4"));
        assert_eq!(done.progress, 100);
        let run = rig.get(&run).await;
        assert_eq!(
            (run.state, run.progress, run.polls),
            (TaskState::InProgress, 50, 1)
        );
        assert!(
            run.next_poll_at >= before + 16,
            "the interval (20 ms, -20%) at least"
        );
        assert_eq!(
            (run.lease_owner, run.lease_until),
            (None, 0),
            "the lease is released"
        );
        let fail = rig.get(&fail).await;
        assert_eq!(fail.state, TaskState::Failed);
        assert_eq!(fail.failure.unwrap().code, "upstream_failed");
        assert_eq!(rig.get(&later).await.polls, 0, "not due: not polled");
        assert_eq!(p.gauges().polls(), 3);
        assert_eq!(
            p.gauges().settlements(),
            2,
            "the completed and the failed one"
        );
        assert_eq!(
            p.sink.snapshot().queue_depth,
            2,
            "both settlements handed to the sink"
        );
    })
    .await;
}

#[tokio::test]
async fn the_job_polls_a_task_round_after_round_until_it_ends() {
    with_upstream(|url, up| async move {
        let rig = Rig::new(&url).await;
        let p = Arc::new(rig.poller("a"));
        let t = rig.insert("steps-1", |_| {}).await;
        let cancel = CancellationToken::new();
        let job = p.clone().run(cancel.clone());
        let watch = async {
            for _ in 0..200 {
                if rig.get(&t).await.state.is_terminal() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            cancel.cancel();
        };
        tokio::join!(job, watch);
        let t = rig.get(&t).await;
        assert_eq!(t.state, TaskState::Completed);
        assert_eq!(t.polls, 3);
        assert_eq!(up.hits.lock().unwrap()["steps-1"], 3);
        assert_eq!(p.gauges().settlements(), 1);
        assert!(
            p.gauges().snapshot().counted_at.is_some(),
            "the counts were read"
        );
    })
    .await;
}

#[tokio::test]
async fn polls_in_flight_never_exceed_poll_concurrency() {
    with_upstream(|url, up| async move {
        let rig = Rig::new(&url).await;
        let p = rig.poller("a");
        for n in 0..24 {
            rig.insert(&format!("wait-{n}"), |_| {}).await;
        }
        p.round().await;
        let max = up.max_in_flight.load(Ordering::SeqCst);
        assert!(max <= 4, "{max} polls in flight, the bound is 4");
        assert!(max >= 2, "polls ran one at a time ({max})");
        assert_eq!(p.gauges().polls(), 24);
        assert_eq!(up.hits.lock().unwrap().len(), 24);
        let open = p.upstream.open_connections();
        assert!(
            open <= 4,
            "{open} upstream connections, more than polls in flight"
        );
    })
    .await;
}

#[tokio::test]
async fn failed_polls_keep_the_state_back_off_and_honour_retry_after() {
    with_upstream(|url, _| async move {
        let rig = Rig::new(&url).await;
        let p = rig.poller("a");
        let limited = rig
            .insert("limited-1", |t| t.state = TaskState::InProgress)
            .await;
        let bad = rig.insert("bad-1", |t| t.poll_errors = 2).await;
        let slow = rig.insert("slow-1", |_| {}).await;
        let before = now_ms();
        p.round().await;
        let limited = rig.get(&limited).await;
        assert_eq!(limited.state, TaskState::InProgress);
        assert_eq!(limited.poll_errors, 1);
        assert!(
            limited.next_poll_at >= before + 120_000,
            "retry-after 120 s honoured"
        );
        let bad = rig.get(&bad).await;
        assert_eq!((bad.state, bad.poll_errors), (TaskState::Queued, 3));
        // 50 ms (the provider's interval) doubled three times, ±20%.
        assert!(
            bad.next_poll_at >= before + 320,
            "{}",
            bad.next_poll_at - before
        );
        let slow = rig.get(&slow).await;
        assert_eq!((slow.state, slow.poll_errors), (TaskState::Queued, 1));
        let g = p.gauges();
        assert_eq!(g.poll_errors(PollErrorKind::Status), 1);
        assert_eq!(g.poll_errors(PollErrorKind::Invalid), 1);
        assert_eq!(g.poll_errors(PollErrorKind::Deadline), 1);
        assert_eq!(g.settlements(), 0);
    })
    .await;
}

#[tokio::test]
async fn a_concurrent_writer_leaves_one_settlement() {
    with_upstream(|url, up| async move {
        let rig = Rig::new(&url).await;
        let (a, b) = (rig.poller("a"), rig.poller("b"));
        let t = rig.insert("gate-1", |_| {}).await;
        // While `a` polls (held at the upstream), a callback through `b` fails the task.
        let other = async {
            up.entered.notified().await;
            let mut report = PollReport::of(TaskState::Failed);
            report.failure = Some(TaskFailure::new("unsafe", "refused"));
            let written = b.apply_report(t.clone(), report).await;
            assert_eq!(written.map(|w| w.state), Some(TaskState::Failed));
            up.release.notify_one();
        };
        tokio::join!(a.round(), other);
        let stored = rig.get(&t).await;
        assert_eq!(stored.state, TaskState::Failed);
        assert_eq!(stored.failure.as_ref().unwrap().code, "unsafe");
        assert_eq!(
            a.gauges().settlements(),
            0,
            "the poller lost the compare-and-set"
        );
        assert_eq!(b.gauges().settlements(), 1);
        // The same callback again changes nothing.
        let again = b
            .apply_report(stored, PollReport::of(TaskState::Failed))
            .await;
        assert!(again.is_none());
        assert_eq!(b.gauges().settlements(), 1);
    })
    .await;
}

#[tokio::test]
async fn racing_refreshes_settle_a_task_once() {
    with_upstream(|url, _| async move {
        let rig = Rig::new(&url).await;
        let pollers: Vec<Poller> = (0..4).map(|i| rig.poller(&format!("p{i}"))).collect();
        let t = rig.insert("done-9", |_| {}).await;
        let refreshed =
            futures_util::future::join_all(pollers.iter().map(|p| p.refresh(t.clone()))).await;
        assert!(refreshed.iter().all(|r| r.state == TaskState::Completed));
        let settled: u64 = pollers.iter().map(|p| p.gauges().settlements()).sum();
        assert_eq!(settled, 1);
        assert_eq!(rig.get(&t).await.version, 1, "one write");
    })
    .await;
}

#[tokio::test]
async fn the_sweep_expires_overdue_tasks_once() {
    with_upstream(|url, up| async move {
        let rig = Rig::new(&url).await;
        let (a, b) = (rig.poller("a"), rig.poller("b"));
        let late = rig
            .insert("run-late", |t| t.deadline_at = now_ms() - 1)
            .await;
        a.round().await;
        b.round().await;
        let late = rig.get(&late).await;
        assert_eq!(late.state, TaskState::Expired);
        assert_eq!(late.failure.unwrap().code, "expired");
        assert_eq!(a.gauges().settlements() + b.gauges().settlements(), 1);
        assert_eq!(a.gauges().snapshot().expired_total, 1);
        assert!(
            up.hits.lock().unwrap().is_empty(),
            "an expired task is not polled"
        );
        a.count().await;
        assert_eq!(a.gauges().snapshot().overdue, 0);
    })
    .await;
}

#[tokio::test]
async fn a_task_whose_channel_or_key_is_gone_fails() {
    with_upstream(|url, up| async move {
        let rig = Rig::new(&url).await;
        let p = rig.poller("a");
        let gone = rig
            .insert("run-a", |t| t.channel = "removed".to_owned())
            .await;
        let keyless = rig.insert("run-b", |t| t.key_index = 5).await;
        p.round().await;
        for t in [gone, keyless] {
            let t = rig.get(&t).await;
            assert_eq!(t.state, TaskState::Failed);
            assert_eq!(t.failure.unwrap().code, "channel_gone");
        }
        assert_eq!(p.gauges().poll_errors(PollErrorKind::ChannelGone), 2);
        assert_eq!(p.gauges().settlements(), 2);
        assert!(up.hits.lock().unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn cancellation_ends_the_job_while_a_poll_hangs() {
    with_upstream(|url, up| async move {
        let mut rig = Rig::new(&url).await;
        rig.config.video.poll_timeout = Duration::from_secs(60);
        let p = Arc::new(rig.poller("a"));
        let t = rig.insert("hang-1", |_| {}).await;
        let cancel = CancellationToken::new();
        let job = p.clone().run(cancel.clone());
        let stop = async {
            up.entered.notified().await;
            cancel.cancel();
        };
        let ended = tokio::time::timeout(Duration::from_secs(10), async {
            tokio::join!(job, stop);
        })
        .await;
        assert!(ended.is_ok(), "the job did not end on cancellation");
        let t = rig.get(&t).await;
        assert_eq!(t.polls, 0, "the hung poll wrote nothing");
        assert_eq!(
            t.lease_owner.as_deref(),
            Some("a"),
            "its lease lapses on its own"
        );
    })
    .await;
}

#[tokio::test]
async fn a_refresh_inside_the_refresh_interval_answers_without_a_poll() {
    with_upstream(|url, up| async move {
        let rig = Rig::new(&url).await;
        let p = rig.poller("a");
        let t = rig.insert("run-r", |_| {}).await;
        let once = p.refresh(t).await;
        assert_eq!((once.state, once.progress), (TaskState::InProgress, 50));
        let twice = p.refresh(once.clone()).await;
        assert_eq!(twice, once);
        assert_eq!(up.hits.lock().unwrap()["run-r"], 1, "one upstream poll");
        assert_eq!(p.gauges().polls(), 1);
    })
    .await;
}

#[tokio::test]
async fn two_instances_polling_together_poll_each_task_once() {
    with_upstream(|url, up| async move {
        let rig = Rig::new(&url).await;
        let (a, b) = (rig.poller("a"), rig.poller("b"));
        for n in 0..30 {
            rig.insert(&format!("wait-{n}"), |_| {}).await;
        }
        tokio::join!(a.round(), b.round());
        let hits = up.hits.lock().unwrap().clone();
        assert_eq!(hits.len(), 30);
        assert!(hits.values().all(|n| *n == 1), "{hits:?}");
        assert_eq!(a.gauges().polls() + b.gauges().polls(), 30);
    })
    .await;
}

#[tokio::test]
async fn a_cancel_committed_by_the_front_settles_once_and_stops_the_polls() {
    with_upstream(|url, up| async move {
        let rig = Rig::new(&url).await;
        let (p, front) = (rig.poller("a"), rig.poller("front"));
        let t = rig.insert("run-c", |_| {}).await;
        let mut cancelled = t.clone();
        cancelled.state = TaskState::Cancelled;
        cancelled.failure = Some(TaskFailure::new("cancelled", "cancelled by its client"));
        let written = front.commit(cancelled.clone()).await.expect("written");
        assert_eq!((written.state, written.version), (TaskState::Cancelled, 1));
        assert!(
            front.commit(cancelled).await.is_none(),
            "a stale write is refused"
        );
        assert_eq!(front.gauges().settlements(), 1);
        p.round().await;
        assert!(
            up.hits.lock().unwrap().is_empty(),
            "an ended task is not polled"
        );
        let now = now_ms();
        let first = p.first_poll_at(ProviderKind::Openai, now);
        // The fake's 50 ms (longer than the configured 20 ms), ±20%.
        assert!((now + 40..=now + 60).contains(&first), "{}", first - now);
    })
    .await;
}
