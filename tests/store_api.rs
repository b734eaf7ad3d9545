//! The store's admin API (through its router, no socket) and CLI, on a real SQLite store.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use axum::body::Body;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sluice::config::{Secret, TokenConfig};
use sluice::server::store_api::{router, StoreApi};
use sluice::store::usage::{Outcome, UsageRecord};
use sluice::store::KeyHash;
use sluice_test_support::db::TestSqlite;
use std::collections::HashSet;
use std::sync::Arc;
use tower::ServiceExt;

struct Api {
    app: axum::Router,
    api: Arc<StoreApi>,
}

impl Api {
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, String, String) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let ctype = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, ctype, String::from_utf8(bytes.to_vec()).unwrap())
    }

    async fn json(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (status, _, text) = self.call(method, path, body).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

async fn api(db: &TestSqlite) -> Api {
    let store = db.store().await;
    let table = sluice::limits::TokenTable::load(store.clone(), &db.config())
        .await
        .unwrap();
    let api = Arc::new(StoreApi {
        store,
        tokens: Some(table),
        file_channels: HashSet::from(["from-file".to_owned()]),
    });
    Api {
        app: router(api.clone()),
        api,
    }
}

#[tokio::test]
async fn tokens_through_the_admin_api() {
    let db = TestSqlite::new();
    let a = api(&db).await;
    let (status, created) = a
        .json(
            Method::POST,
            "/api/tokens",
            Some(json!({"name": "web", "quota_limit": 1000, "models": ["gpt-*"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("sk-sluice-"));
    let table = a.api.tokens.as_ref().unwrap();
    assert!(
        table.get(&KeyHash::of(&key)).is_some(),
        "usable at once on this instance"
    );

    let (_, _, listed) = a.call(Method::GET, "/api/tokens", None).await;
    assert!(
        !listed.contains(&key) && !listed.contains("\"key\""),
        "the key is shown once only"
    );
    let (status, one) = a.json(Method::GET, "/api/tokens/web", None).await;
    assert_eq!(
        (status, one["quota_limit"].as_i64()),
        (StatusCode::OK, Some(1000))
    );
    let id = one["id"].as_i64().unwrap();
    let (status, patched) = a
        .json(
            Method::PATCH,
            &format!("/api/tokens/{id}"),
            Some(json!({"rpm": 30, "models": null})),
        )
        .await;
    assert_eq!(
        (status, patched["rpm"].as_i64(), patched["models"].clone()),
        (StatusCode::OK, Some(30), Value::Null)
    );
    let (status, err) = a
        .json(Method::PATCH, "/api/tokens/web", Some(json!({"rpm": 0})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("rpm"));
    let (status, _) = a
        .json(Method::POST, "/api/tokens", Some(json!({"name": "web"})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = a.json(Method::GET, "/api/tokens/9999", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    a.api
        .store
        .sync_file_tokens(&[TokenConfig {
            name: Some("ops".into()),
            key: Secret::new("sk-file-ops-key"),
            models: None,
        }])
        .await
        .unwrap();
    let (status, err) = a.json(Method::DELETE, "/api/tokens/ops", None).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "file tokens are read-only: {err}"
    );

    let (status, revoked) = a
        .json(Method::DELETE, &format!("/api/tokens/{id}"), None)
        .await;
    assert_eq!(
        (status, revoked["enabled"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    assert!(
        table.authenticate(&key).await.is_err(),
        "revoked at once on this instance"
    );
    let (_, all) = a.json(Method::GET, "/api/tokens?all=true", None).await;
    assert_eq!(all.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn channels_through_the_admin_api() {
    let db = TestSqlite::new();
    let a = api(&db).await;
    let spec = json!({"name": "oa", "provider": "openai", "base_url": "https://api.openai.com/v1",
                      "keys": ["sk-very-secret-upstream-key"], "models": ["gpt-4o"]});
    let (status, _, text) = a.call(Method::POST, "/api/channels", Some(spec)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(!text.contains("very-secret"), "{text}");
    let (status, _, text) = a.call(Method::GET, "/api/channels/oa", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !text.contains("very-secret") && text.contains("sk-***ey"),
        "{text}"
    );
    let (status, c) = a
        .json(
            Method::PATCH,
            "/api/channels/oa",
            Some(json!({"priority": 3, "enabled": false})),
        )
        .await;
    assert_eq!(
        (status, c["priority"].as_i64(), c["enabled"].as_bool()),
        (StatusCode::OK, Some(3), Some(false))
    );
    let (status, _) = a
        .json(Method::PATCH, "/api/channels/oa", Some(json!({"keys": []})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let file = json!({"name": "from-file", "provider": "openai", "base_url": "https://h/v1", "keys": ["k"], "models": ["m"]});
    let (status, _) = a.json(Method::POST, "/api/channels", Some(file)).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "file channels win their names"
    );
    let (status, _) = a
        .json(Method::DELETE, "/api/channels/from-file", None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let resp = a
        .api
        .set_channel_enabled("oa", true)
        .await
        .map_err(|_| ())
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (status, _, _) = a.call(Method::DELETE, "/api/channels/oa", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = a.json(Method::GET, "/api/channels/oa", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn usage_through_the_admin_api_and_csv() {
    let db = TestSqlite::new();
    let a = api(&db).await;
    let store = &a.api.store;
    let t = store
        .create_token(sluice::store::TokenSpec {
            name: "bill".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let records: Vec<UsageRecord> = (0..250)
        .map(|i| {
            let mut r = UsageRecord::new("r", "chat", ["gpt-4o", "grok-3"][i % 2]);
            r.token_id = Some(t.token.id);
            r.cost_units = 2;
            r.outcome = Outcome::Ok;
            r.created_at = 1_767_225_600_000 + i as i64 * 1000; // 2026-01-01
            r
        })
        .collect();
    store.write_usage(&records, 0).await.unwrap();

    let (status, body) = a
        .json(
            Method::GET,
            "/api/usage?group_by=model&token=bill&from=2026-01-01&to=2026-01-02",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let rows = body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["model"], "gpt-4o");
    assert_eq!(
        rows[0]["requests"].as_i64().unwrap() + rows[1]["requests"].as_i64().unwrap(),
        250
    );
    let (status, ctype, csv) = a
        .call(
            Method::GET,
            "/api/usage?group_by=day,token&format=csv",
            None,
        )
        .await;
    assert_eq!(
        (status, ctype.as_str()),
        (StatusCode::OK, "text/csv; charset=utf-8")
    );
    assert!(csv
        .lines()
        .nth(1)
        .unwrap()
        .starts_with(&format!("2026-01-01,{},bill,", t.token.id)));

    let mut seen = 0;
    let mut path = "/api/usage/events?limit=100".to_owned();
    loop {
        let (status, page) = a.json(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK);
        seen += page["rows"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/usage/events?limit=100&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, 250);
    let (_, _, csv) = a
        .call(
            Method::GET,
            "/api/usage/events?format=csv&model=grok-3",
            None,
        )
        .await;
    assert_eq!(csv.lines().count(), 126, "header + 125 rows");
    for bad in [
        "/api/usage?group_by=week",
        "/api/usage?from=yesterday",
        "/api/usage?format=xml",
        "/api/usage/events?cursor=zz",
    ] {
        let (status, _) = a.json(Method::GET, bad, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_creates_updates_and_revokes() {
    use clap::Parser;
    use sluice::store::cli::{run_migrate, run_token, MigrateArgs, TokenArgs};
    #[derive(Parser)]
    enum Top {
        Token(TokenArgs),
        Migrate(MigrateArgs),
    }
    let db = TestSqlite::new();
    let config = db.dir.path().join("sluice.toml");
    std::fs::write(
        &config,
        format!("[store]\ndata_dir = \"{}\"\n", db.dir.path().display()),
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let run = |args: &[&str]| {
        let top =
            Top::try_parse_from(std::iter::once("sluice").chain(args.iter().copied())).unwrap();
        async move {
            match top {
                Top::Token(t) => run_token(t).await,
                Top::Migrate(m) => run_migrate(m).await,
            }
        }
    };
    assert_eq!(
        run(&["migrate", "--config", c]).await,
        std::process::ExitCode::SUCCESS
    );
    assert_eq!(
        run(&["migrate", "--check", "--config", c]).await,
        std::process::ExitCode::SUCCESS
    );
    assert_eq!(
        run(&["token", "--config", c, "create", "cli", "--quota", "77", "--rpm", "5"]).await,
        std::process::ExitCode::SUCCESS
    );
    assert_eq!(
        run(&[
            "token",
            "--config",
            c,
            "update",
            "cli",
            "--no-quota",
            "--tpm",
            "900"
        ])
        .await,
        std::process::ExitCode::SUCCESS
    );
    let store = db.store().await;
    let t = store.find_token("cli").await.unwrap();
    assert_eq!((t.quota_limit, t.rpm, t.tpm), (None, Some(5), Some(900)));
    assert_eq!(
        run(&["token", "--config", c, "revoke", "cli"]).await,
        std::process::ExitCode::SUCCESS
    );
    assert!(store.get_token(t.id).await.unwrap().is_revoked());
    assert_eq!(
        run(&["token", "--config", c, "show", "nobody"]).await,
        std::process::ExitCode::FAILURE
    );
}
