use super::*;

const MINIMAL: &str = r#"
listen = "127.0.0.1:9999"

[timeouts]
connect = "2s"
total = "1m 30s"

[[channels]]
name = "main"
provider = "openai"
base_url = "https://api.openai.com/v1"
keys = ["sk-one", "sk-two"]
models = ["gpt-4o-mini"]
model_mapping = { "gpt-4o-mini" = "gpt-4o-mini-2024-07-18" }

[[tokens]]
key = "sk-client"
"#;

#[test]
fn parses_a_minimal_config_with_defaults() {
    let c = Config::parse(MINIMAL).unwrap();
    c.validate().unwrap();
    assert_eq!(c.listen.port(), 9999);
    assert_eq!(c.timeouts.connect, Duration::from_secs(2));
    assert_eq!(c.timeouts.total, Duration::from_secs(90));
    assert_eq!(c.timeouts.stream_idle, Duration::from_secs(120));
    assert_eq!(c.channels[0].provider, ProviderKind::Openai);
    assert_eq!(c.channels[0].keys.len(), 2);
    assert_eq!(c.limits.max_error_body, 64 * 1024);
}

#[test]
fn unknown_key_is_named_with_its_line() {
    let text = MINIMAL.replace(
        "connect = \"2s\"",
        "connect = \"2s\"\nconect_timeout = \"1s\"",
    );
    let err = Config::parse(&text).unwrap_err().to_string();
    assert!(err.contains("conect_timeout"), "{err}");
    assert!(err.contains("line 6"), "{err}");
}

#[test]
fn bad_duration_and_provider_are_clear() {
    let err = Config::parse(&MINIMAL.replace("\"2s\"", "\"two seconds\""))
        .unwrap_err()
        .to_string();
    assert!(err.contains("connect") || err.contains("line 5"), "{err}");
    let err = Config::parse(&MINIMAL.replace("\"openai\"", "\"opanai\""))
        .unwrap_err()
        .to_string();
    assert!(err.contains("opanai"), "{err}");
}

#[test]
fn env_overrides_channel_keys() {
    let mut c = Config::parse(MINIMAL).unwrap();
    c.apply_env(|name| (name == "SLUICE_CHANNEL_MAIN_KEYS").then(|| "sk-a, sk-b,sk-c".into()));
    let keys: Vec<&str> = c.channels[0].keys.iter().map(Secret::expose).collect();
    assert_eq!(keys, ["sk-a", "sk-b", "sk-c"]);
}

#[test]
fn validation_rejects_unusable_configs() {
    let no_tokens = MINIMAL.split("[[tokens]]").next().unwrap();
    let err = Config::parse(no_tokens).unwrap().validate().unwrap_err();
    assert!(err.to_string().contains("tokens"));
    let bad_url = MINIMAL.replace("https://api.openai.com/v1", "api.openai.com");
    let err = Config::parse(&bad_url).unwrap().validate().unwrap_err();
    assert!(err.to_string().contains("base_url"));
    let zero = MINIMAL.replace("\"2s\"", "\"0s\"");
    let err = Config::parse(&zero).unwrap().validate().unwrap_err();
    assert!(err.to_string().contains("timeouts.connect"));
}

#[test]
fn routing_keys_have_defaults_and_parse() {
    let c = Config::parse(MINIMAL).unwrap();
    let ch = &c.channels[0];
    assert_eq!((ch.priority, ch.weight, ch.enabled), (0, 1, true));
    assert_eq!(ch.max_concurrency, None);
    assert_eq!(c.routing.max_attempts, 3);
    assert_eq!(c.routing.breaker.consecutive_failures, 5);
    assert_eq!(c.overload.max_in_flight, 4096);
    assert!(c.overload.memory_budget.is_none() && c.admin_token.is_none());

    let text = MINIMAL.replace(
        "[[tokens]]",
        "priority = 2\nweight = 3\nmax_concurrency = 8\nenabled = false\n\
         timeouts = { first_byte = \"3s\" }\n\n\
         [routing]\nmax_retry_wait = \"500ms\"\n[routing.breaker]\nbackoff = \"1s\"\n\
         [overload]\nmemory_budget = 1000000\n\n[[tokens]]",
    );
    let c = Config::parse(&text).unwrap();
    c.validate().unwrap();
    let ch = &c.channels[0];
    assert_eq!((ch.priority, ch.weight, ch.enabled), (2, 3, false));
    assert_eq!(ch.max_concurrency, Some(8));
    assert_eq!(ch.timeouts.first_byte, Some(Duration::from_secs(3)));
    assert_eq!(ch.timeouts.total, None);
    assert_eq!(c.routing.max_retry_wait, Duration::from_millis(500));
    assert_eq!(c.routing.breaker.backoff, Duration::from_secs(1));
    assert_eq!(c.overload.memory_budget, Some(1_000_000));
}

#[test]
fn routing_validation_names_the_key() {
    let with = |extra: &str| MINIMAL.replace("[[tokens]]", &format!("{extra}\n[[tokens]]"));
    for (extra, key) in [
        ("weight = 0", "weight"),
        ("max_concurrency = 0", "max_concurrency"),
        ("timeouts = { total = \"0s\" }", "timeouts.total"),
        ("\n[routing]\nmax_attempts = 0", "routing.max_attempts"),
        (
            "\n[routing]\nretry_budget_ratio = 1.5",
            "retry_budget_ratio",
        ),
        ("\n[routing.breaker]\nerror_rate = 0.0", "error_rate"),
        ("\n[overload]\nmax_in_flight = 0", "max_in_flight"),
    ] {
        let err = Config::parse(&with(extra)).unwrap().validate().unwrap_err();
        assert!(err.to_string().contains(key), "{extra}: {err}");
    }
}

#[test]
fn channel_rate_limits_parse_and_are_validated() {
    let with = |extra: &str| MINIMAL.replace("[[tokens]]", &format!("{extra}\n[[tokens]]"));
    let c = Config::parse(&with("rpm = 3\ntpm = 9000\nrate_window = \"10s\"")).unwrap();
    c.validate().unwrap();
    let ch = &c.channels[0];
    assert_eq!(
        (ch.rpm, ch.tpm, ch.rate_window),
        (Some(3), Some(9000), Some(Duration::from_secs(10)))
    );
    let none = &Config::parse(MINIMAL).unwrap().channels[0];
    assert_eq!((none.rpm, none.tpm, none.rate_window), (None, None, None));
    for (extra, key) in [
        ("rpm = 0", "rpm and tpm must be above 0"),
        ("tpm = 0", "rpm and tpm must be above 0"),
        ("rpm = 1\nrate_window = \"0s\"", "rate_window"),
        ("rpm = 1\nrate_window = \"2d\"", "rate_window"),
    ] {
        let err = Config::parse(&with(extra)).unwrap().validate().unwrap_err();
        assert!(err.to_string().contains(key), "{extra}: {err}");
        assert!(err.to_string().contains("channel `main`"), "{extra}: {err}");
    }
    assert!(Config::parse(&with("rpm = -1")).is_err());
}

#[test]
fn base_urls_are_checked_and_normalised_with_the_channels_name() {
    let with =
        |url: &str| Config::parse(&MINIMAL.replace("https://api.openai.com/v1", url)).unwrap();
    let c = with("https://api.openai.com/");
    c.validate().unwrap();
    assert_eq!(
        c.channels[0].api_base().unwrap(),
        "https://api.openai.com/v1"
    );
    assert_eq!(
        c.channels[0].base_url, "https://api.openai.com/",
        "kept as written"
    );
    for bad in ["https://api.openai.com/v1?x=1", "https://", "mailto:a@b.c"] {
        let err = with(bad).validate().unwrap_err().to_string();
        assert!(err.contains("channel `main`: base_url"), "{bad}: {err}");
    }
}

#[test]
fn provider_names_print_as_written_and_panic_mode_parses() {
    for (kind, name) in [
        (ProviderKind::Openai, "openai"),
        (ProviderKind::Anthropic, "anthropic"),
        (ProviderKind::Xai, "xai"),
        (ProviderKind::OpenaiCompatible, "openai-compatible"),
    ] {
        assert_eq!(kind.to_string(), name);
        let c = Config::parse(&MINIMAL.replace("\"openai\"", &format!("\"{name}\""))).unwrap();
        assert_eq!(c.channels[0].provider, kind);
    }
    assert_eq!(
        Config::parse(MINIMAL).unwrap().routing.panic,
        PanicMode::SingleChannel
    );
    for (text, mode) in [
        ("always", PanicMode::Always),
        ("never", PanicMode::Never),
        ("single-channel", PanicMode::SingleChannel),
    ] {
        let c = Config::parse(&format!("{MINIMAL}\n[routing]\npanic = \"{text}\"\n")).unwrap();
        assert_eq!(c.routing.panic, mode);
    }
    let err = Config::parse(&format!("{MINIMAL}\n[routing]\npanic = \"sometimes\"\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("sometimes"), "{err}");
}

#[test]
fn client_deadlines_and_admin_listen_have_defaults_and_are_validated() {
    let c = Config::parse(MINIMAL).unwrap();
    let t = &c.timeouts;
    assert_eq!(
        (t.client_header, t.client_idle, t.client_body),
        (
            Duration::from_secs(60),
            Duration::from_secs(75),
            Duration::from_secs(60)
        )
    );
    assert_eq!(t.client_body_total, Duration::from_secs(600));
    assert_eq!(c.limits.max_h2_streams, 128);
    assert!(c.admin_listen.is_none());

    let text = MINIMAL.replace(
        "listen = \"127.0.0.1:9999\"",
        "listen = \"127.0.0.1:9999\"\nadmin_listen = \"127.0.0.1:9090\"",
    );
    let c = Config::parse(&text).unwrap();
    c.validate().unwrap();
    assert_eq!(c.admin_listen.unwrap().port(), 9090);

    let same = MINIMAL.replace(
        "listen = \"127.0.0.1:9999\"",
        "listen = \"127.0.0.1:9999\"\nadmin_listen = \"127.0.0.1:9999\"",
    );
    let err = Config::parse(&same).unwrap().validate().unwrap_err();
    assert!(err.to_string().contains("admin_listen"), "{err}");
    for key in [
        "client_header",
        "client_idle",
        "client_body",
        "client_body_total",
    ] {
        let text = MINIMAL.replace("total = \"1m 30s\"", &format!("{key} = \"0s\""));
        let err = Config::parse(&text).unwrap().validate().unwrap_err();
        assert!(err.to_string().contains(key), "{key}: {err}");
    }
    let text = MINIMAL.replace(
        "[[channels]]",
        "[limits]\nmax_h2_streams = 0\n\n[[channels]]",
    );
    let err = Config::parse(&text).unwrap().validate().unwrap_err();
    assert!(err.to_string().contains("max_h2_streams"), "{err}");
}

#[test]
fn a_vertex_credentials_file_is_read_as_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let sa = dir.path().join("sa.json");
    std::fs::write(&sa, r#"{"type":"service_account"}"#).unwrap();
    let text = format!(
        r#"
        [[channels]]
        name = "v"
        provider = "vertex"
        base_url = "https://us-central1-aiplatform.googleapis.com/v1"
        models = ["gemini-2.0-flash"]
        project = "p"
        location = "us-central1"
        credentials_file = "{}"
        [[tokens]]
        key = "sk-t"
        "#,
        sa.display()
    );
    let path = dir.path().join("sluice.toml");
    std::fs::write(&path, text).unwrap();
    let c = Config::load(&path).unwrap();
    assert_eq!(c.channels[0].keys.len(), 1);
    assert_eq!(
        c.channels[0].keys[0].expose(),
        r#"{"type":"service_account"}"#
    );
    assert_eq!(
        c.channels[0].api_base().unwrap(),
        "https://us-central1-aiplatform.googleapis.com/v1"
    );
    std::fs::remove_file(&sa).unwrap();
    assert!(matches!(Config::load(&path), Err(ConfigError::Read { .. })));
}
