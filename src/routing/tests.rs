use super::*;
use crate::upstream::UpstreamError;
use http::StatusCode;

fn routes_from(extra: &str) -> Routes {
    routes_with("", extra)
}

/// Routes with `routing` added to `[routing]` and `extra` to the second channel.
fn routes_with(routing: &str, extra: &str) -> Routes {
    let text = format!(
        r#"
        [routing]
        seed = 7
        {routing}
        [routing.breaker]
        consecutive_failures = 2
        backoff = "1s"

        [[channels]]
        name = "a"
        provider = "anthropic"
        base_url = "http://127.0.0.1:1/"
        keys = ["k1", "k2"]
        models = ["claude-x", "shared"]
        model_mapping = {{ "claude-x" = "claude-real" }}
        [[channels]]
        name = "o"
        provider = "openai"
        base_url = "http://127.0.0.1:2/v1"
        keys = ["o1"]
        models = ["shared", "emb"]
        {extra}
        [[tokens]]
        key = "t"
    "#
    );
    let cfg = Config::parse(&text).unwrap();
    cfg.validate().unwrap();
    Routes::new(&cfg).unwrap()
}

fn routes() -> Routes {
    routes_from("")
}

fn go(r: &Routes, model: &str, endpoint: Endpoint, tried: &[usize]) -> Selected {
    match r.select(model, endpoint, tried, Instant::now()) {
        Ok(Pick::Go(s)) => *s,
        Ok(Pick::WaitUntil(_)) => panic!("wait"),
        Err(e) => panic!("{e}"),
    }
}

/// An upstream's error answer `code` (an empty body), as an OpenAI-format provider reads it.
fn status(code: u16) -> UpstreamError {
    answer(code, http::HeaderMap::new())
}

fn answer(code: u16, headers: http::HeaderMap) -> UpstreamError {
    let provider = crate::providers::provider_for(crate::config::ProviderKind::Openai);
    let status = StatusCode::from_u16(code).unwrap();
    let r = crate::upstream::Redactor::default();
    UpstreamError::Status(Box::new(provider.fault(status, &headers, b"", &r)))
}

/// An upstream `code` with `retry-after: secs`.
fn status_after(code: u16, secs: &'static str) -> UpstreamError {
    let mut headers = http::HeaderMap::new();
    headers.insert("retry-after", http::HeaderValue::from_static(secs));
    answer(code, headers)
}

/// The 503 the routes answer for `model`: why, and the wait advised.
fn refused(
    r: &Routes,
    model: &str,
    endpoint: Endpoint,
    now: Instant,
) -> (String, std::time::Duration) {
    match r.select(model, endpoint, &[], now) {
        Err(RelayError::Unavailable {
            why, retry_after, ..
        }) => (why, retry_after),
        Ok(_) => panic!("a channel was given"),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn maps_models_and_rotates_keys() {
    let r = routes();
    let a = go(&r, "claude-x", Endpoint::Chat, &[]);
    assert_eq!(a.upstream_model, "claude-real");
    assert_eq!(
        a.lease.target().base_url,
        "http://127.0.0.1:1/v1",
        "normalised"
    );
    let b = go(&r, "claude-x", Endpoint::Chat, &[]);
    assert_ne!(a.lease.target().key.expose(), b.lease.target().key.expose());
}

#[test]
fn skips_channels_that_cannot_serve_the_endpoint() {
    let r = routes();
    assert_eq!(
        go(&r, "shared", Endpoint::Embeddings, &[]).channel().name,
        "o"
    );
    assert!(matches!(
        r.select("claude-x", Endpoint::Embeddings, &[], Instant::now()),
        Err(RelayError::EndpointNotSupported { .. })
    ));
    assert!(matches!(
        r.select("nope", Endpoint::Chat, &[], Instant::now()),
        Err(RelayError::ModelNotFound(_))
    ));
}

#[test]
fn avoids_tried_channels_while_another_is_left() {
    let r = routes();
    for _ in 0..20 {
        assert_eq!(go(&r, "shared", Endpoint::Chat, &[0]).channel().name, "o");
        assert_eq!(go(&r, "shared", Endpoint::Chat, &[1]).channel().name, "a");
    }
    // both tried: one of them again rather than nothing
    go(&r, "shared", Endpoint::Chat, &[0, 1]);
}

#[test]
fn leases_count_in_flight_and_the_cap_holds() {
    let r = routes_from("max_concurrency = 1\npriority = 1");
    let first = go(&r, "shared", Endpoint::Chat, &[]);
    assert_eq!(first.channel().name, "o", "higher priority");
    assert_eq!(r.channels()[1].in_flight(), 1);
    let second = go(&r, "shared", Endpoint::Chat, &[]);
    assert_eq!(second.channel().name, "a", "o is at its cap");
    drop(first);
    assert_eq!(r.channels()[1].in_flight(), 0);
    assert_eq!(go(&r, "shared", Endpoint::Chat, &[]).channel().name, "o");
}

#[test]
fn open_circuit_and_disabled_channels_get_no_traffic() {
    let r = routes_from("priority = 1");
    for _ in 0..2 {
        let mut s = go(&r, "shared", Endpoint::Chat, &[]);
        assert_eq!(s.channel().name, "o");
        s.lease.failed(classify(&status(500)), Instant::now());
    }
    let snap = r.channel_snapshot("o").unwrap();
    assert_eq!(snap.breaker, BreakerState::Open);
    assert_eq!(snap.faults, 2);
    assert_eq!(go(&r, "shared", Endpoint::Chat, &[]).channel().name, "a");
    assert!(r.disable("a"));
    // `o` is the one enabled channel left: panic mode (the default for that) still tries it.
    assert_eq!(go(&r, "shared", Endpoint::Chat, &[]).channel().name, "o");
    assert_eq!(
        r.channel_snapshot("o").unwrap().breaker,
        BreakerState::Open,
        "an unreported panic attempt changes nothing"
    );
    assert!(r.enable("o"));
    assert_eq!(go(&r, "shared", Endpoint::Chat, &[]).channel().name, "o");
    assert!(!r.enable("nope"));
}

#[test]
fn every_key_rejected_disables_the_channel() {
    let r = routes();
    for _ in 0..2 {
        let mut s = go(&r, "claude-x", Endpoint::Chat, &[]);
        s.lease.failed(classify(&status(401)), Instant::now());
    }
    let snap = r.channel_snapshot("a").unwrap();
    assert_eq!(
        (snap.enabled, snap.disabled_by),
        (false, Some(DisabledBy::Auth))
    );
    assert!(snap.keys.iter().all(|k| k.state == "auth"));
    assert_eq!(snap.breaker, BreakerState::Closed, "not a channel fault");
    assert!(matches!(
        r.select("claude-x", Endpoint::Chat, &[], Instant::now()),
        Err(RelayError::Unavailable { .. })
    ));
    r.enable("a");
    go(&r, "claude-x", Endpoint::Chat, &[]);
}

#[test]
fn a_rate_limited_only_channel_asks_to_wait() {
    let r = routes();
    let mut s = go(&r, "emb", Endpoint::Embeddings, &[]);
    let now = Instant::now();
    s.lease.failed(classify(&status_after(429, "2")), now);
    drop(s);
    match r.select("emb", Endpoint::Embeddings, &[], now) {
        Ok(Pick::WaitUntil(t)) => assert_eq!(t - now, std::time::Duration::from_secs(2)),
        _ => panic!("expected a wait"),
    }
    let snap = r.snapshot();
    assert_eq!(snap.channels[1].keys[0].state, "cooling");
    assert!(serde_json::to_string(&snap)
        .unwrap()
        .contains("\"breaker\":\"closed\""));
}

/// Opens `o`'s circuit (the only channel for `emb`) with two faults.
fn open_o(r: &Routes, now: Instant) {
    for _ in 0..2 {
        let mut s = match r.select("emb", Endpoint::Embeddings, &[], now) {
            Ok(Pick::Go(s)) => s,
            _ => panic!("o is closed"),
        };
        s.lease.failed(classify(&status(500)), now);
    }
    assert_eq!(r.channel_snapshot("o").unwrap().breaker, BreakerState::Open);
}

#[test]
fn panic_mode_heals_a_single_channel_on_success_and_never_mode_refuses() {
    let r = routes();
    let now = Instant::now();
    open_o(&r, now);
    let mut s = match r.select("emb", Endpoint::Embeddings, &[], now) {
        Ok(Pick::Go(s)) => s,
        _ => panic!("panic mode tries the one channel"),
    };
    s.lease.failed(classify(&status(500)), now);
    assert_eq!(
        r.channel_snapshot("o").unwrap().breaker,
        BreakerState::Open,
        "a failed panic attempt leaves the circuit as it was"
    );
    let index = s.index;
    drop(s);
    assert!(
        matches!(
            r.select("emb", Endpoint::Embeddings, &[index], now),
            Err(RelayError::Unavailable { .. })
        ),
        "no second panic attempt on the channel for the same request"
    );
    let mut s = match r.select("emb", Endpoint::Embeddings, &[], now) {
        Ok(Pick::Go(s)) => s,
        _ => panic!("panic mode tries the one channel"),
    };
    s.lease.succeeded(now);
    assert_eq!(
        r.channel_snapshot("o").unwrap().breaker,
        BreakerState::Closed
    );

    let r = routes_with("panic = \"never\"", "");
    open_o(&r, now);
    assert_eq!(
        refused(&r, "emb", Endpoint::Embeddings, now),
        (
            "`o`: circuit open (probe in 1s)".to_owned(),
            std::time::Duration::from_secs(1)
        ),
        "never: no panic"
    );
}

#[test]
fn a_long_overload_cool_down_is_a_503_and_a_rate_limit_is_a_wait() {
    let r = routes();
    let now = Instant::now();
    let mut s = go(&r, "emb", Endpoint::Embeddings, &[]);
    s.lease.failed(classify(&status_after(503, "30")), now);
    drop(s);
    assert_eq!(
        refused(&r, "emb", Endpoint::Embeddings, now),
        (
            "`o`: overloaded (back in 30s)".to_owned(),
            std::time::Duration::from_secs(30)
        ),
        "30 s of overload is beyond max_retry_wait: a 503"
    );
    let r = routes();
    let mut s = go(&r, "emb", Endpoint::Embeddings, &[]);
    s.lease.failed(classify(&status_after(503, "1")), now);
    drop(s);
    assert!(matches!(
        r.select("emb", Endpoint::Embeddings, &[], now),
        Ok(Pick::WaitUntil(_))
    ));
}

#[test]
fn replace_keeps_the_named_channels_and_rebuilds_the_rest() {
    let r = routes();
    let before = r.channels();
    let configs: Vec<ChannelConfig> = Config::parse(
        r#"
        [[channels]]
        name = "a"
        provider = "anthropic"
        base_url = "http://127.0.0.1:1/"
        keys = ["k1"]
        models = ["claude-x"]
        [[channels]]
        name = "o"
        provider = "openai"
        base_url = "http://127.0.0.1:2/v1"
        keys = ["o1"]
        models = ["emb"]
        [[channels]]
        name = "new"
        provider = "openai"
        base_url = "http://127.0.0.1:3/v1"
        keys = ["n1"]
        models = ["fresh"]
        [[tokens]]
        key = "t"
    "#,
    )
    .unwrap()
    .channels;
    let keep: HashSet<String> = ["a".to_owned()].into();
    assert_eq!(r.replace(&configs, &keep), 3);
    let after = r.channels();
    assert!(Arc::ptr_eq(&before[0], &after[0]), "kept as it was");
    assert!(!Arc::ptr_eq(&before[1], &after[1]), "rebuilt");
    assert!(after[1].serves("emb") && !after[1].serves("shared"));
    assert!(after[2].serves("fresh"));
    // A request that leased the old channel keeps it: the old list is still whole.
    assert!(before[1].serves("shared"));
    assert_eq!(r.replace(&configs[..1], &keep), 1);
    assert!(r.channel_snapshot("o").is_none());
}

#[tokio::test(start_paused = true)]
async fn a_channel_at_its_limit_is_skipped_and_every_one_at_its_limit_is_a_429() {
    let r = routes_from("rpm = 1\nrate_window = \"10s\"");
    let s = std::time::Duration::from_secs(1);
    let now = Instant::now();
    let channels = r.channels();
    let o = channels.iter().position(|c| c.name == "o").unwrap();
    let a = 1 - o;
    let limits = channels[o].limits().unwrap();
    assert!(channels[a].limits().is_none());
    limits.rpm().unwrap().check().unwrap();
    let refused = limits.rpm().unwrap().check().unwrap_err();
    limits.refused(&refused, now);
    for _ in 0..20 {
        assert_eq!(go(&r, "shared", Endpoint::Chat, &[]).index, a, "skipped");
    }
    // Not a failure: the breaker saw nothing, and no attempt is counted.
    let snap = r.channel_snapshot("o").unwrap();
    assert_eq!((snap.consecutive_failures, snap.attempts), (0, 0));
    let lim = snap.rate_limits.unwrap();
    assert_eq!(
        (lim.rpm, lim.skipped, lim.limited_for_ms),
        (Some(1), 1, Some(10_000))
    );
    // The other one turned this request away too: 429 with the soonest wait.
    match r.pick("shared", Endpoint::Chat, &[], &[(a, now + 3 * s)], now) {
        Err(RelayError::ChannelLimit { retry_after, .. }) => assert_eq!(retry_after, 3 * s),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a channel at its limit was picked"),
    }
    tokio::time::advance(10 * s).await;
    let mut seen = HashSet::new();
    for _ in 0..40 {
        seen.insert(go(&r, "shared", Endpoint::Chat, &[]).index);
    }
    assert!(seen.contains(&o), "back once its window refilled");
}

#[test]
fn a_rebuilt_channel_with_the_same_limits_keeps_its_limiter() {
    let r = routes_from("rpm = 5");
    let o = r.channels().iter().position(|c| c.name == "o").unwrap();
    let before = r.channels()[o].limits().unwrap() as *const ChannelLimits;
    let mut configs: Vec<ChannelConfig> = r.channels().iter().map(|c| c.config().clone()).collect();
    configs[o].weight = 3;
    assert_eq!(r.replace(&configs, &HashSet::new()), 2);
    let after = r.channels()[o].limits().unwrap() as *const ChannelLimits;
    assert_eq!(before, after, "same limits: the same limiter");
    configs[o].rpm = Some(6);
    r.replace(&configs, &HashSet::new());
    let changed = r.channels()[o].limits().unwrap() as *const ChannelLimits;
    assert_ne!(before, changed);
}
