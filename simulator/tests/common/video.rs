//! Video helpers: a fast simulator, one driver per provider (create, poll until terminal,
//! where the result is), MP4 reading and a loopback callback receiver.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use sluice_sim::{Provider, SimConfig, SimHandle, VideoConfig, FAULT_HEADER};
use tokio::task::JoinSet;

use super::media::{httpx_form, Part};
use super::{auth, client, expect, GEMINI_KEY};

/// Every provider with a video API.
pub const VIDEO_PROVIDERS: [Provider; 8] = [
    Provider::OpenAi,
    Provider::Kling,
    Provider::Runway,
    Provider::Luma,
    Provider::Zhipu,
    Provider::Dashscope,
    Provider::Viggle,
    Provider::Gemini,
];

/// Fast video timings: queue 20 ms, run 80 ms, 4 steps.
pub fn fast() -> VideoConfig {
    VideoConfig {
        queue: Duration::from_millis(20),
        run: Duration::from_millis(80),
        ..VideoConfig::default()
    }
}

pub async fn video_sim_with(seed: u64, video: VideoConfig) -> SimHandle {
    sluice_sim::start(SimConfig {
        seed,
        video,
        ..SimConfig::default()
    })
    .await
    .expect("start simulator")
}

pub async fn video_sim() -> SimHandle {
    video_sim_with(0, fast()).await
}

/// Where a task is, read from a provider's poll body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Pending,
    Done,
    Failed,
    Cancelled,
}

/// One provider's video API, driven as its clients drive it.
pub struct Video<'a> {
    pub sim: &'a SimHandle,
    pub provider: Provider,
    /// The Vertex AI access token.
    pub token: Option<String>,
}

impl<'a> Video<'a> {
    pub async fn new(sim: &'a SimHandle, provider: Provider) -> Video<'a> {
        let token = match provider {
            Provider::Vertex => Some(super::google::vertex_token(sim).await),
            _ => None,
        };
        Video {
            sim,
            provider,
            token,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url(self.provider))
    }

    fn vertex_model_url(&self, method: &str) -> String {
        self.url(&format!(
            "/v1/projects/p1/locations/us-central1/publishers/google/models/veo-3.0-generate-001:{method}"
        ))
    }

    pub fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => auth(rb, self.provider),
        }
    }

    /// The create request of a task with `prompt`.
    pub fn create_req(&self, prompt: &str) -> reqwest::RequestBuilder {
        let c = client();
        let veo = json!({"instances": [{"prompt": prompt}], "parameters": {"durationSeconds": 6}});
        let rb = match self.provider {
            Provider::OpenAi => c
                .post(self.url("/videos"))
                .json(&json!({"prompt": prompt, "model": "sora-2", "seconds": "4"})),
            Provider::Kling => c
                .post(self.url("/v1/videos/text2video"))
                .json(&json!({"model_name": "kling-v1-6", "prompt": prompt, "duration": "5"})),
            Provider::Runway => c.post(self.url("/v1/image_to_video")).json(&json!({
                "model": "gen4_turbo", "promptText": prompt,
                "promptImage": "https://example.com/a.png", "ratio": "1280:720", "duration": 5})),
            Provider::Luma => c
                .post(self.url("/dream-machine/v1/generations"))
                .json(&json!({"prompt": prompt, "model": "ray-2", "duration": "5s"})),
            Provider::Zhipu => c
                .post(self.url("/api/paas/v4/videos/generations"))
                .json(&json!({"model": "cogvideox-3", "prompt": prompt})),
            Provider::Dashscope => c
                .post(self.url("/api/v1/services/aigc/video-generation/video-synthesis"))
                .json(
                    &json!({"model": "wan2.2-t2v-plus", "input": {"prompt": prompt},
                    "parameters": {"duration": 5}}),
                ),
            Provider::Viggle => {
                let (ct, body) = httpx_form(&[
                    Part::Text("ref_image_url", "https://example.com/a.png"),
                    Part::Text("driving_video_url", "https://example.com/a.mp4"),
                    Part::Text("model", "V4_Preview"),
                    Part::Text("prompt", prompt),
                ]);
                c.post(self.url("/api/render"))
                    .header("content-type", ct)
                    .body(body)
            }
            Provider::Gemini => c
                .post(self.url("/v1beta/models/veo-3.0-generate-001:predictLongRunning"))
                .json(&veo),
            Provider::Vertex => c
                .post(self.vertex_model_url("predictLongRunning"))
                .json(&veo),
            Provider::Anthropic | Provider::Xai | Provider::GoogleOAuth => {
                panic!("no video API")
            }
        };
        self.auth(rb)
    }

    /// Creates a task (with `fault` in `x-sim-fault` if given); returns its id (Veo: the
    /// operation name).
    pub async fn create(&self, prompt: &str, fault: Option<&str>) -> String {
        let mut rb = self.create_req(prompt);
        if let Some(f) = fault {
            rb = rb.header(FAULT_HEADER, f);
        }
        let status = if self.provider == Provider::Luma {
            201
        } else {
            200
        };
        let v = expect(rb, status).await;
        let id = match self.provider {
            Provider::OpenAi | Provider::Runway | Provider::Zhipu => &v["id"],
            Provider::Kling => &v["data"]["task_id"],
            Provider::Luma => &v["id"],
            Provider::Dashscope => &v["output"]["task_id"],
            Provider::Viggle => &v["job_id"],
            Provider::Gemini | Provider::Vertex => &v["name"],
            Provider::Anthropic | Provider::Xai | Provider::GoogleOAuth => &Value::Null,
        };
        id.as_str()
            .unwrap_or_else(|| panic!("no id in {v}"))
            .to_owned()
    }

    pub fn poll_req(&self, id: &str) -> reqwest::RequestBuilder {
        let c = client();
        let rb = match self.provider {
            Provider::OpenAi => c.get(self.url(&format!("/videos/{id}"))),
            Provider::Kling => c.get(self.url(&format!("/v1/videos/text2video/{id}"))),
            Provider::Runway => c.get(self.url(&format!("/v1/tasks/{id}"))),
            Provider::Luma => c.get(self.url(&format!("/dream-machine/v1/generations/{id}"))),
            Provider::Zhipu => c.get(self.url(&format!("/api/paas/v4/async-result/{id}"))),
            Provider::Dashscope => c.get(self.url(&format!("/api/v1/tasks/{id}"))),
            Provider::Viggle => c.get(self.url(&format!("/api/render/{id}"))),
            Provider::Gemini => c.get(self.url(&format!("/v1beta/{id}"))),
            Provider::Vertex => c
                .post(self.vertex_model_url("fetchPredictOperation"))
                .json(&json!({"operationName": id})),
            Provider::Anthropic | Provider::Xai | Provider::GoogleOAuth => panic!("no video API"),
        };
        self.auth(rb)
    }

    pub async fn poll(&self, id: &str) -> Value {
        expect(self.poll_req(id), 200).await
    }

    /// Where the task is, by the provider's words.
    pub fn seen(&self, v: &Value) -> Seen {
        let word = match self.provider {
            Provider::OpenAi => v["status"].as_str(),
            Provider::Kling => v["data"]["task_status"].as_str(),
            Provider::Runway | Provider::Viggle => v["status"].as_str(),
            Provider::Luma => v["state"].as_str(),
            Provider::Zhipu => v["task_status"].as_str(),
            Provider::Dashscope => v["output"]["task_status"].as_str(),
            Provider::Gemini | Provider::Vertex => {
                if v["done"] != true {
                    return Seen::Pending;
                }
                let r = &v["response"];
                let filtered = r["raiMediaFilteredCount"].as_u64().unwrap_or(0)
                    + r["generateVideoResponse"]["raiMediaFilteredCount"]
                        .as_u64()
                        .unwrap_or(0);
                return if filtered > 0 {
                    Seen::Failed
                } else {
                    Seen::Done
                };
            }
            Provider::Anthropic | Provider::Xai | Provider::GoogleOAuth => None,
        };
        match word.unwrap_or_else(|| panic!("no status in {v}")) {
            "completed" | "succeed" | "SUCCEEDED" | "SUCCESS" | "complete" => Seen::Done,
            "failed" | "FAILED" | "FAIL" => Seen::Failed,
            "CANCELLED" | "CANCELED" | "cancelled" => Seen::Cancelled,
            _ => Seen::Pending,
        }
    }

    /// Polls until the task ends (at most 500 polls, 10 ms apart); returns the last body.
    pub async fn until_terminal(&self, id: &str) -> Value {
        for _ in 0..500 {
            let v = self.poll(id).await;
            if self.seen(&v) != Seen::Pending {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{} task {id} never ended", self.provider);
    }

    /// The download request of a finished task's video (Vertex: none, its bytes are inline).
    pub fn download_req(&self, id: &str, v: &Value) -> Option<reqwest::RequestBuilder> {
        let c = client();
        let url = match self.provider {
            Provider::OpenAi => {
                return Some(self.auth(c.get(self.url(&format!("/videos/{id}/content")))))
            }
            Provider::Kling => v["data"]["task_result"]["videos"][0]["url"].as_str(),
            Provider::Runway => v["output"][0].as_str(),
            Provider::Luma => v["assets"]["video"].as_str(),
            Provider::Zhipu => v["video_result"][0]["url"].as_str(),
            Provider::Dashscope => v["output"]["video_url"].as_str(),
            Provider::Viggle => v["cdn_url"].as_str(),
            Provider::Gemini => {
                let uri = v["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]
                    ["uri"]
                    .as_str()?;
                return Some(c.get(uri).header("x-goog-api-key", GEMINI_KEY));
            }
            Provider::Vertex | Provider::Anthropic | Provider::Xai | Provider::GoogleOAuth => None,
        }?;
        Some(c.get(url))
    }
}

/// The `mvhd` duration of an MP4, in seconds, after checking its top-level boxes are
/// `ftyp`, `moov`, `mdat` and fill the file.
pub fn mp4_seconds(b: &[u8]) -> u32 {
    let mut kinds = Vec::new();
    let mut at = 0;
    while at + 8 <= b.len() {
        let len = u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
        kinds.push(String::from_utf8_lossy(&b[at + 4..at + 8]).into_owned());
        assert!(len >= 8, "box of {len} bytes");
        at += len;
    }
    assert_eq!(at, b.len(), "boxes fill the file");
    assert_eq!(kinds, ["ftyp", "moov", "mdat"]);
    let m = b.windows(4).position(|w| w == b"mvhd").expect("mvhd");
    let word = |o: usize| u32::from_be_bytes([b[m + o], b[m + o + 1], b[m + o + 2], b[m + o + 3]]);
    word(20) / word(16)
}

/// A loopback HTTP receiver of callbacks: every JSON body POSTed to `/cb` (answered 200).
pub struct Receiver {
    pub url: String,
    pub bodies: Arc<Mutex<Vec<Value>>>,
    _server: JoinSet<()>,
}

async fn keep(State(bodies): State<Arc<Mutex<Vec<Value>>>>, Json(v): Json<Value>) -> &'static str {
    bodies.lock().unwrap().push(v);
    "ok"
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/cb", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/cb", post(keep))
            .with_state(bodies.clone());
        let mut server = JoinSet::new();
        server.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url,
            bodies,
            _server: server,
        }
    }

    pub fn got(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }

    /// Waits (at most 5 s) until `n` bodies arrived; returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        for _ in 0..500 {
            if self.got().len() >= n {
                return self.got();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "only {} of {n} callbacks arrived: {:?}",
            self.got().len(),
            self.got()
        );
    }
}
