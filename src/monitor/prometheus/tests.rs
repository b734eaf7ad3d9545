use super::*;
use crate::config::MonitorConfig;
use crate::monitor::Monitor;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// One parsed sample line.
#[derive(Debug)]
struct Line {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// A strict reader of the text format: HELP and TYPE once per family and before its samples,
/// valid names, quoted and escaped label values, numeric values.
fn parse(text: &str) -> (HashMap<String, String>, Vec<Line>) {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helps: HashMap<String, String> = HashMap::new();
    let mut lines = Vec::new();
    for raw in text.lines() {
        assert!(
            !raw.is_empty() && raw == raw.trim_end(),
            "stray whitespace: {raw:?}"
        );
        if let Some(rest) = raw.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap();
            assert!(valid_name(name) && !help.is_empty(), "{raw}");
            assert!(
                helps.insert(name.to_owned(), help.to_owned()).is_none(),
                "dup {raw}"
            );
            continue;
        }
        if let Some(rest) = raw.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["gauge", "counter", "histogram"].contains(&kind), "{raw}");
            assert!(helps.contains_key(name), "TYPE before HELP: {raw}");
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "dup {raw}"
            );
            continue;
        }
        assert!(!raw.starts_with('#'), "unknown comment {raw}");
        let (series, value) = raw.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value in {raw}"));
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}').unwrap())),
        };
        assert!(valid_name(name), "{raw}");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "sample before its TYPE: {raw}");
        lines.push(Line {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    (types, lines)
}

fn parse_labels(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").unwrap();
        assert!(valid_name(key), "label {key}");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().unwrap() {
                (_, '\\') => match chars.next().unwrap().1 {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    c => panic!("bad escape \\{c}"),
                },
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        out.insert(key.to_owned(), value);
        rest = after[end + 1..]
            .strip_prefix(',')
            .unwrap_or(&after[end + 1..]);
    }
    out
}

fn find<'a>(lines: &'a [Line], name: &str, labels: &[(&str, &str)]) -> Option<&'a Line> {
    lines.iter().find(|l| {
        l.name == name
            && l.labels.len() == labels.len()
            && labels
                .iter()
                .all(|(k, v)| l.labels.get(*k).map(String::as_str) == Some(*v))
    })
}

#[tokio::test]
async fn exposition_parses_and_carries_every_metric() {
    let m = Monitor::new(
        &MonitorConfig::default(),
        &["main".to_owned(), "odd \"name\"\\x".to_owned()],
    );
    let l = m.ledger();
    let _c = l.inbound_connection();
    let _f = l.in_flight(crate::wire::Family::Chat);
    l.request(200);
    l.request(429);
    l.upstream_error("main", 503u16);
    l.upstream_error("odd \"name\"\\x", crate::monitor::ErrorKind::Connect);
    l.retry();
    l.timeout(crate::monitor::TimeoutKind::StreamIdle);
    l.observe_upstream_latency(Duration::from_millis(30));
    l.observe_upstream_latency(Duration::from_secs(400));
    let text = m.render_prometheus();
    let (types, lines) = parse(&text);

    for (name, kind) in [
        ("sluice_live_tasks", "gauge"),
        ("sluice_inbound_connections", "gauge"),
        ("sluice_upstream_connections", "gauge"),
        ("sluice_in_flight_requests", "gauge"),
        ("sluice_open_streams", "gauge"),
        ("sluice_requests_total", "counter"),
        ("sluice_upstream_errors_total", "counter"),
        ("sluice_retries_total", "counter"),
        ("sluice_client_disconnects_total", "counter"),
        ("sluice_timeouts_total", "counter"),
        ("sluice_upstream_latency_seconds", "histogram"),
        ("sluice_time_to_first_token_seconds", "histogram"),
        ("sluice_relay_overhead_seconds", "histogram"),
    ] {
        assert_eq!(types.get(name).map(String::as_str), Some(kind), "{name}");
    }
    if cfg!(target_os = "linux") {
        for name in [
            "sluice_open_fds",
            "sluice_resident_memory_bytes",
            "sluice_threads",
            "sluice_tcp_sockets",
        ] {
            assert_eq!(types[name], "gauge", "{name}");
        }
    }
    let v = |name, labels: &[(&str, &str)]| find(&lines, name, labels).map(|l| l.value);
    if cfg!(target_os = "linux") {
        // Zeros are rendered too, so alert rules never see a series vanish.
        assert!(v("sluice_tcp_sockets", &[("state", "CLOSE_WAIT")]).is_some());
    }
    assert_eq!(v("sluice_inbound_connections", &[]), Some(1.0));
    assert_eq!(
        v("sluice_in_flight_requests", &[("family", "chat")]),
        Some(1.0)
    );
    assert_eq!(
        v("sluice_in_flight_requests", &[("family", "embeddings")]),
        Some(0.0)
    );
    assert_eq!(v("sluice_requests_total", &[("status", "429")]), Some(1.0));
    assert_eq!(
        v(
            "sluice_upstream_errors_total",
            &[("channel", "main"), ("status", "503")]
        ),
        Some(1.0)
    );
    assert_eq!(
        v(
            "sluice_upstream_errors_total",
            &[("channel", "odd \"name\"\\x"), ("status", "connect")]
        ),
        Some(1.0)
    );
    assert_eq!(v("sluice_retries_total", &[]), Some(1.0));
    assert_eq!(
        v("sluice_timeouts_total", &[("kind", "stream_idle")]),
        Some(1.0)
    );
    assert_eq!(
        v("sluice_timeouts_total", &[("kind", "connect")]),
        Some(0.0)
    );
    // A current-thread test runtime runs the test body outside any task: zero is right.
    assert!(v("sluice_live_tasks", &[]).is_some());

    // Histogram: cumulative buckets, +Inf equals the count, sum in seconds.
    let buckets: Vec<f64> = lines
        .iter()
        .filter(|l| l.name == "sluice_upstream_latency_seconds_bucket")
        .map(|l| l.value)
        .collect();
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(
        v("sluice_upstream_latency_seconds_bucket", &[("le", "0.05")]),
        Some(1.0)
    );
    assert_eq!(
        v("sluice_upstream_latency_seconds_bucket", &[("le", "+Inf")]),
        Some(2.0)
    );
    assert_eq!(v("sluice_upstream_latency_seconds_count", &[]), Some(2.0));
    assert!((v("sluice_upstream_latency_seconds_sum", &[]).unwrap() - 400.03).abs() < 1e-6);
    assert!(text.ends_with('\n'));
}

#[test]
fn escapes_label_values() {
    let mut s = String::new();
    escape_into(&mut s, "a\\b\"c\nd");
    assert_eq!(s, "a\\\\b\\\"c\\nd");
}

#[test]
fn jobs_render_by_name_with_running_and_restarts() {
    let m = Monitor::new(&MonitorConfig::default(), &[]);
    let mut text = m.render_prometheus();
    let jobs = [
        JobStatus {
            name: "sampler",
            critical: true,
            running: true,
            restarts: 2,
        },
        JobStatus {
            name: "store_writer",
            critical: false,
            running: false,
            restarts: 0,
        },
    ];
    render_jobs(&mut text, &jobs);
    let (types, lines) = parse(&text);
    assert_eq!(types["sluice_background_job_running"], "gauge");
    assert_eq!(types["sluice_background_job_restarts_total"], "counter");
    let v = |name, job| find(&lines, name, &[("job", job)]).map(|l| l.value);
    assert_eq!(v("sluice_background_job_running", "sampler"), Some(1.0));
    assert_eq!(
        v("sluice_background_job_running", "store_writer"),
        Some(0.0)
    );
    assert_eq!(
        v("sluice_background_job_restarts_total", "sampler"),
        Some(2.0)
    );
    assert_eq!(
        v("sluice_background_job_restarts_total", "store_writer"),
        Some(0.0)
    );
}

/// The label sets come from the enums' lists: every family and every timeout kind is exposed
/// from the start, at 0, so none is missing from a dashboard or counted under another.
#[test]
fn every_family_and_timeout_kind_is_exposed_at_zero() {
    let m = Monitor::new(&MonitorConfig::default(), &[]);
    let (_, lines) = parse(&m.render_prometheus());
    let value =
        |name: &str, key: &str, label: &str| find(&lines, name, &[(key, label)]).map(|l| l.value);
    for f in crate::wire::Family::ALL {
        assert_eq!(
            value("sluice_in_flight_requests", "family", f.as_str()),
            Some(0.0),
            "{f:?}"
        );
    }
    for k in crate::monitor::TimeoutKind::ALL {
        assert_eq!(
            value("sluice_timeouts_total", "kind", k.as_str()),
            Some(0.0),
            "{k:?}"
        );
    }
    let families = lines
        .iter()
        .filter(|l| l.name == "sluice_in_flight_requests")
        .count();
    assert_eq!(
        families,
        crate::wire::Family::ALL.len(),
        "no `other` family"
    );
}

#[test]
fn video_tasks_are_exposed_with_fixed_labels() {
    use crate::store::tasks::TaskCounts;
    use crate::tasks::gauges::PollErrorKind;
    use crate::tasks::TaskState;
    let m = Monitor::new(&MonitorConfig::default(), &[]);
    let g = m.video();
    g.poll();
    g.poll();
    g.poll_error(PollErrorKind::Deadline);
    g.callback();
    g.set_counts(
        TaskCounts {
            pending: vec![("kling".to_owned(), TaskState::InProgress, 4)],
            oldest_pending_created_at: Some(1_000),
            overdue: 2,
        },
        61_000,
    );
    let (types, lines) = parse(&m.render_prometheus());
    for (name, kind) in [
        ("sluice_video_tasks_pending", "gauge"),
        ("sluice_video_oldest_pending_seconds", "gauge"),
        ("sluice_video_tasks_overdue", "gauge"),
        ("sluice_video_polls_total", "counter"),
        ("sluice_video_poll_errors_total", "counter"),
        ("sluice_video_callbacks_total", "counter"),
    ] {
        assert_eq!(types.get(name).map(String::as_str), Some(kind), "{name}");
    }
    let v = |name, labels: &[(&str, &str)]| find(&lines, name, labels).map(|l| l.value);
    let pending = |p, s| {
        v(
            "sluice_video_tasks_pending",
            &[("provider", p), ("state", s)],
        )
    };
    assert_eq!(pending("kling", "in_progress"), Some(4.0));
    assert_eq!(pending("kling", "queued"), Some(0.0), "zeros are rendered");
    assert_eq!(pending("runway", "queued"), Some(0.0));
    assert_eq!(
        pending("kling", "completed"),
        None,
        "ended tasks are not pending"
    );
    assert_eq!(v("sluice_video_oldest_pending_seconds", &[]), Some(60.0));
    assert_eq!(v("sluice_video_tasks_overdue", &[]), Some(2.0));
    assert_eq!(v("sluice_video_polls_total", &[]), Some(2.0));
    assert_eq!(
        v("sluice_video_poll_errors_total", &[("kind", "deadline")]),
        Some(1.0)
    );
    assert_eq!(
        v(
            "sluice_video_poll_errors_total",
            &[("kind", "channel_gone")]
        ),
        Some(0.0)
    );
    assert_eq!(v("sluice_video_callbacks_total", &[]), Some(1.0));
}
