//! Test support shared by sluice's tests and benches: start a simulator and a relay in front of
//! it on port 0, talk to them, read SSE, and wait for conditions with a deadline.
//!
//! Owns: the builder language of end-to-end tests (`Harness::builder()...start()`).
//! Must never: talk to anything but loopback, or wait without a deadline.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support: a failure here is a failed test"
)]

pub mod access_log;
pub mod cluster;
pub mod db;
pub mod leak;
pub mod multipart;
pub mod proxy;
pub mod redis;
mod sse;

pub use sse::{read_sse, SseEvent};

use serde_json::Value;
use sluice::{AppState, Config, Server};
use sluice_sim::{Provider, SimConfig, SimHandle};
use std::net::SocketAddr;
use std::time::Duration;

/// The token every harness relay accepts.
pub const TOKEN: &str = sluice::demo::DEMO_TOKEN;

/// The `admin_token` of every harness relay (a test may unset it).
pub const ADMIN_TOKEN: &str = "sluice-test-admin-token";

/// A simulator and a relay in front of it, both on ephemeral loopback ports.
pub struct Harness {
    pub sim: SimHandle,
    pub relay: Server,
    /// The relay's state, for reading its own counts.
    pub state: std::sync::Arc<AppState>,
    pub client: reqwest::Client,
}

type Tweak = Box<dyn FnOnce(&mut Config, &SimHandle)>;

pub struct HarnessBuilder {
    sim: SimConfig,
    tweaks: Vec<Tweak>,
}

impl Harness {
    pub fn builder() -> HarnessBuilder {
        HarnessBuilder {
            sim: SimConfig::default(),
            tweaks: Vec::new(),
        }
    }

    /// The demo channels (OpenAI, Anthropic, xAI models) with short test deadlines.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    pub fn addr(&self) -> SocketAddr {
        self.relay.addr()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.relay.addr(), path)
    }

    /// A URL on the admin listener (harness relays have one unless a test removed it; then the
    /// public listener's).
    pub fn admin_url(&self, path: &str) -> String {
        let addr = self.relay.admin_addr().unwrap_or(self.relay.addr());
        format!("http://{addr}{path}")
    }

    /// `GET` an admin surface (health, `/metrics`, `/api/...`) with the admin token.
    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.admin(reqwest::Method::GET, path).await
    }

    /// `POST` to the admin API (no body) with the admin token.
    pub async fn admin_post(&self, path: &str) -> reqwest::Response {
        self.admin(reqwest::Method::POST, path).await
    }

    /// Calls the admin API with the admin token and an optional JSON body: its status and JSON
    /// answer (`null` when the answer is not JSON).
    pub async fn admin_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let resp = self.admin_request(method, path, body).await;
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or_default())
    }

    async fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::Response {
        self.admin_request(method, path, None).await
    }

    async fn admin_request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self.client.request(method, self.admin_url(path));
        if let Some(t) = &self.state.config.admin_token {
            req = req.bearer_auth(t.expose());
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("admin listener unreachable")
    }

    /// The full health JSON (from the admin listener, with the token) and its status code.
    pub async fn health(&self) -> (u16, Value) {
        let resp = self.admin_get("/api/monitor/health").await;
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("health JSON"))
    }

    /// POST JSON with the OpenAI-style bearer token.
    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(TOKEN)
            .json(body)
            .send()
            .await
            .expect("relay unreachable")
    }

    /// POST JSON as the Anthropic SDK does (`x-api-key`, `anthropic-version`).
    pub async fn post_anthropic(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("x-api-key", TOKEN)
            .header("anthropic-version", "2023-06-01")
            .json(body)
            .send()
            .await
            .expect("relay unreachable")
    }

    /// The upstream model that served the answer with `request_id` (its `x-request-id`): the
    /// serving channel's mapping of `client_model`, from the relay's access record.
    pub async fn served_model(&self, request_id: &str, client_model: &str) -> String {
        let record = access_log::take(request_id).await;
        let channel = self
            .state
            .config
            .channels
            .iter()
            .find(|c| c.name == record.channel);
        channel.map_or_else(String::new, |c| {
            c.model_mapping
                .get(client_model)
                .cloned()
                .unwrap_or_else(|| client_model.to_owned())
        })
    }

    /// Stops the relay (draining) and then the simulator.
    pub async fn shutdown(self) {
        self.relay.shutdown().await;
        self.sim.shutdown().await;
    }
}

impl HarnessBuilder {
    pub fn sim(mut self, f: impl FnOnce(&mut SimConfig)) -> Self {
        f(&mut self.sim);
        self
    }

    /// Adjusts the relay's config before it starts.
    pub fn config(mut self, f: impl FnOnce(&mut Config, &SimHandle) + 'static) -> Self {
        self.tweaks.push(Box::new(f));
        self
    }

    pub async fn start(self) -> Harness {
        access_log::install();
        let sim = sluice_sim::start(self.sim).await.expect("simulator start");
        let mut config = sluice::demo::config(&sim, SocketAddr::from(([127, 0, 0, 1], 0)));
        config.timeouts.first_byte = Duration::from_secs(5);
        config.timeouts.stream_idle = Duration::from_secs(5);
        config.timeouts.total = Duration::from_secs(30);
        config.shutdown_grace = Duration::from_secs(5);
        // The recommended setup: admin surfaces on their own loopback listener, behind a token.
        config.admin_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        config.admin_token = Some(sluice::config::Secret::new(ADMIN_TOKEN));
        for t in self.tweaks {
            t(&mut config, &sim);
        }
        let state = AppState::open(config).await.expect("relay config");
        let relay = Server::start(state.clone()).await.expect("relay start");
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Harness {
            sim,
            relay,
            state,
            client,
        }
    }
}

/// The relay's request id of a response (`x-request-id`).
pub fn request_id(resp: &reqwest::Response) -> String {
    resp.headers()["x-request-id"].to_str().unwrap().to_owned()
}

/// The simulator's base URL for a provider, for direct calls in tests.
pub fn direct_url(sim: &SimHandle, provider: Provider, path: &str) -> String {
    format!("{}{}", sim.base_url(provider), path)
}

/// Polls `cond` until it holds or `within` passes; panics with `what` on timeout.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if cond().await {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("not true within {within:?}: {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `assert_eventually!(cond, "what")`: polls a synchronous condition for up to 5 s.
#[macro_export]
macro_rules! assert_eventually {
    ($cond:expr, $($what:tt)+) => {
        $crate::eventually(std::time::Duration::from_secs(5), &format!($($what)+), || {
            let ok = $cond;
            async move { ok }
        })
        .await
    };
}

/// The model name the routing tests ask for; each test channel maps it to a real model name.
pub const ROUTED_MODEL: &str = "m";

/// An OpenAI channel on the simulator serving [`ROUTED_MODEL`] as `upstream_model`, with one
/// valid key. Tests set priority, weight, faults (`headers`) and the rest on the result.
pub fn openai_channel(
    sim: &SimHandle,
    name: &str,
    upstream_model: &str,
) -> sluice::config::ChannelConfig {
    let text = format!(
        r#"
        [[channels]]
        name = "{name}"
        provider = "openai"
        base_url = "{base}"
        keys = ["sk-{name}-key"]
        models = ["{ROUTED_MODEL}"]
        model_mapping = {{ "{ROUTED_MODEL}" = "{upstream_model}" }}
        [[tokens]]
        key = "unused"
        "#,
        base = sim.base_url(Provider::OpenAi),
    );
    Config::parse(&text).unwrap().channels.remove(0)
}

/// An `openai-compatible` channel on the simulator's `dialect` serving `models` (client name,
/// upstream name: mapped where they differ), with one valid key.
pub fn compat_channel(
    sim: &SimHandle,
    name: &str,
    dialect: sluice_sim::Dialect,
    models: &[(&str, &str)],
) -> sluice::config::ChannelConfig {
    let mut ch = openai_channel(sim, name, "unused");
    ch.provider = sluice::config::ProviderKind::OpenaiCompatible;
    ch.base_url = dialect.base_url(sim.addr());
    ch.models = models.iter().map(|(c, _)| (*c).to_owned()).collect();
    ch.model_mapping = models
        .iter()
        .filter(|(c, u)| c != u)
        .map(|(c, u)| ((*c).to_owned(), (*u).to_owned()))
        .collect();
    ch
}

/// Makes every request of a channel fail with the simulator fault `spec` (`x-sim-fault`).
pub fn with_fault(
    mut ch: sluice::config::ChannelConfig,
    spec: &str,
) -> sluice::config::ChannelConfig {
    ch.headers
        .insert(sluice_sim::FAULT_HEADER.to_owned(), spec.to_owned());
    ch
}

/// A loopback port nothing listens on: a dead upstream.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Leak check after traffic: upstream connections settle at most at the pool's idle bound
/// (`max_idle` for the one simulator host) and the relay's count agrees with the simulator's.
pub async fn assert_upstream_settled(h: &Harness, max_idle: usize) {
    eventually(
        Duration::from_secs(10),
        "upstream connections settle",
        || {
            let sim = h.sim.stats().connections_open as usize;
            let relay = h.state.upstream.open_connections();
            async move { sim == relay && relay <= max_idle }
        },
    )
    .await;
}
