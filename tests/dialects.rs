//! End to end over every OpenAI-compatible dialect of the simulator (vLLM, LiteLLM, Ollama,
//! llama.cpp, a FastAPI clone, a JSON-only server), each behind its own `openai-compatible`
//! channel: chat and completions, stream and not, with and without `include_usage`, with a mapped
//! model and without, with tools and without, for an OpenAI client (pass-through) and an
//! Anthropic client (`/v1/messages`, converted). Every answer must be well-formed in the
//! client's format, name the model the client asked for, carry the right stop reason, leak no
//! usage chunk the relay asked for, and be accounted with the usage the simulator reported (the
//! relay's access record). The traffic runs twice, around a leak check.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use serde_json::{json, Value};
use sluice::config::ChannelConfig;
use sluice_sim::{Dialect, SimHandle};
use sluice_test_support::access_log;
use sluice_test_support::leak::{self, Baseline};
use sluice_test_support::{compat_channel, read_sse, Harness, SseEvent, TOKEN};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const SYSTEM: &str = "Be brief.";
const PROMPT: &str = "Say hello to the dialect";
const MAX_TOKENS: u64 = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Api {
    Chat,
    Completions,
    /// `/v1/messages`: an Anthropic client on an OpenAI-format channel.
    Messages,
}

#[derive(Clone, Copy, Debug)]
struct Case {
    dialect: Dialect,
    api: Api,
    stream: bool,
    /// The client asks for `stream_options.include_usage`.
    usage: bool,
    tools: bool,
    mapped: bool,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for dialect in Dialect::ALL {
        for api in [Api::Chat, Api::Completions, Api::Messages] {
            for mapped in [true, false] {
                for stream in [false, true] {
                    let usages: &[bool] = if stream && api != Api::Messages {
                        &[false, true]
                    } else {
                        &[false]
                    };
                    let tools: &[bool] = if api == Api::Completions {
                        &[false]
                    } else {
                        &[false, true]
                    };
                    for (&usage, &tools) in usages
                        .iter()
                        .flat_map(|u| tools.iter().map(move |t| (u, t)))
                    {
                        out.push(Case {
                            dialect,
                            api,
                            stream,
                            usage,
                            tools,
                            mapped,
                        });
                    }
                }
            }
        }
    }
    out
}

/// The dialect's channel: `{d}-mapped` (sent upstream as `org/{d}-7b`) and `{d}-direct`.
fn compat(sim: &SimHandle, d: Dialect) -> ChannelConfig {
    let (mapped, direct) = (format!("{d}-mapped"), format!("{d}-direct"));
    let upstream = format!("org/{d}-7b");
    let models = [
        (mapped.as_str(), upstream.as_str()),
        (direct.as_str(), direct.as_str()),
    ];
    compat_channel(sim, &format!("compat-{d}"), d, &models)
}

fn openai_tools() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather", "description": "weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])
}

impl Case {
    fn client_model(&self) -> String {
        let kind = if self.mapped { "mapped" } else { "direct" };
        format!("{}-{kind}", self.dialect)
    }

    fn upstream_model(&self) -> String {
        if self.mapped {
            format!("org/{}-7b", self.dialect)
        } else {
            self.client_model()
        }
    }

    fn path(&self) -> &'static str {
        match self.api {
            Api::Chat => "/v1/chat/completions",
            Api::Completions => "/v1/completions",
            Api::Messages => "/v1/messages",
        }
    }

    /// What the client sends.
    fn body(&self) -> Value {
        let mut b = match self.api {
            Api::Messages => {
                let mut b = json!({"system": SYSTEM, "max_tokens": MAX_TOKENS,
                    "messages": [{"role": "user", "content": PROMPT}]});
                if self.tools {
                    b["tools"] = json!([{"name": "get_weather", "description": "weather",
                        "input_schema": openai_tools()[0]["function"]["parameters"]}]);
                }
                b
            }
            Api::Chat | Api::Completions => self.openai_body(),
        };
        b["model"] = json!(self.client_model());
        b["stream"] = json!(self.stream);
        if self.usage {
            b["stream_options"] = json!({"include_usage": true});
        }
        b
    }

    /// The request in OpenAI's format (what reaches the upstream, model apart).
    fn openai_body(&self) -> Value {
        let mut b = match self.api {
            Api::Completions => json!({"prompt": PROMPT}),
            Api::Chat | Api::Messages => json!({"messages": [
                {"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}]}),
        };
        b["max_tokens"] = json!(MAX_TOKENS);
        if self.tools {
            b["tools"] = openai_tools();
        }
        b
    }

    fn upstream_path(&self) -> &'static str {
        match self.api {
            Api::Completions => "/completions",
            Api::Chat | Api::Messages => "/chat/completions",
        }
    }
}

/// What the simulator says to the same request when asked directly.
#[derive(Debug, Default)]
struct Said {
    text: String,
    /// (name, arguments) of the tool call.
    tool: Option<(String, String)>,
    /// The finish reason of the JSON answer.
    finish: String,
    /// The JSON answer's `object`, if it has one (a pass-through keeps it so).
    object: Option<String>,
    /// Its stream's chunks have an `object` (a JSON answer replayed as a stream always has).
    stream_objects: bool,
    /// The finish reasons its stream gives (what a pass-through client must see).
    stream_finishes: Vec<String>,
    prompt: u64,
    completion: u64,
}

async fn direct(h: &Harness, c: &Case, stream: bool) -> reqwest::Response {
    let mut body = c.openai_body();
    body["model"] = json!(c.upstream_model());
    body["stream"] = json!(stream);
    let url = format!("{}{}", c.dialect.base_url(h.sim.addr()), c.upstream_path());
    h.client
        .post(url)
        .bearer_auth("sk-direct")
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn said(h: &Harness, c: &Case) -> Said {
    let v: Value = direct(h, c, false).await.json().await.unwrap();
    let choice = &v["choices"][0];
    let mut s = Said {
        text: choice["message"]["content"]
            .as_str()
            .or(choice["text"].as_str())
            .unwrap_or("")
            .to_owned(),
        tool: choice["message"]["tool_calls"][0]["function"]
            .as_object()
            .map(|f| (str_of(&f["name"]), str_of(&f["arguments"]))),
        finish: str_of(&choice["finish_reason"]),
        object: v["object"].as_str().map(str::to_owned),
        prompt: v["usage"]["prompt_tokens"].as_u64().unwrap(),
        completion: v["usage"]["completion_tokens"].as_u64().unwrap(),
        ..Said::default()
    };
    let resp = direct(h, c, true).await;
    if resp.headers()["content-type"] == "application/json" {
        s.stream_finishes = vec![s.finish.clone()];
        s.stream_objects = true;
    } else {
        let stream = OpenAiStream::read(&read_sse(resp).await.0);
        s.stream_finishes = stream.finishes;
        s.stream_objects = !stream.objects.is_empty();
    }
    s
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// Failed expectations of one run, each naming its case.
#[derive(Default)]
struct Fails(Vec<String>);

impl Fails {
    fn check(&mut self, ok: bool, c: &Case, what: impl std::fmt::Display) {
        if !ok {
            self.0.push(format!("{c:?}: {what}"));
        }
    }

    /// A usage object's (input, output) counts against the simulator's.
    fn usage(&mut self, usage: &Value, [input, output]: [&str; 2], said: &Said, c: &Case) {
        let got = (usage[input].as_u64(), usage[output].as_u64());
        self.eq(got, (Some(said.prompt), Some(said.completion)), c, "usage");
    }

    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, got: T, want: T, c: &Case, what: &str) {
        let ok = got == want;
        self.check(ok, c, format_args!("{what}: got {got:?}, want {want:?}"));
    }
}

/// An OpenAI-format stream as the client saw it.
#[derive(Default)]
struct OpenAiStream {
    text: String,
    tool: Option<(String, String)>,
    finishes: Vec<String>,
    usages: Vec<Value>,
    models: Vec<String>,
    objects: Vec<String>,
    /// Chunks with usage and nothing else (no content, no finish reason).
    usage_only: usize,
    problems: Vec<String>,
}

impl OpenAiStream {
    fn read(events: &[SseEvent]) -> Self {
        let mut s = OpenAiStream::default();
        match events.split_last() {
            Some((last, _)) if last.data == "[DONE]" => {}
            _ => s
                .problems
                .push("the stream does not end with [DONE]".into()),
        }
        for e in events.iter().filter(|e| e.data != "[DONE]") {
            let Ok(v) = serde_json::from_str::<Value>(&e.data) else {
                s.problems
                    .push(format!("an event that is not JSON: {}", e.data));
                continue;
            };
            if v.get("error").is_some() {
                s.problems.push(format!("an error event: {}", e.data));
            }
            s.objects.extend(v["object"].as_str().map(str::to_owned));
            s.models.extend(v["model"].as_str().map(str::to_owned));
            let choices = v["choices"].as_array().cloned().unwrap_or_default();
            let mut said_something = false;
            for ch in &choices {
                let piece = ch["delta"]["content"].as_str().or(ch["text"].as_str());
                s.text.push_str(piece.unwrap_or(""));
                said_something |= piece.is_some_and(|p| !p.is_empty());
                if let Some(call) = ch["delta"]["tool_calls"][0].as_object() {
                    said_something = true;
                    let (name, args) = s.tool.get_or_insert_with(Default::default);
                    name.push_str(call["function"]["name"].as_str().unwrap_or(""));
                    args.push_str(call["function"]["arguments"].as_str().unwrap_or(""));
                }
                if let Some(f) = ch["finish_reason"].as_str() {
                    said_something = true;
                    s.finishes.push(f.to_owned());
                }
            }
            if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
                s.usages.push(u.clone());
                s.usage_only += usize::from(!said_something);
            }
        }
        s
    }
}

static REQUEST: AtomicU64 = AtomicU64::new(0);

async fn run(h: &Harness, c: &Case, fails: &mut Fails) {
    let said = said(h, c).await;
    let id = format!("dialects-{}", REQUEST.fetch_add(1, Ordering::Relaxed));
    let req = h
        .client
        .post(h.url(c.path()))
        .header("x-request-id", &id)
        .json(&c.body());
    let req = match c.api {
        Api::Messages => req
            .header("x-api-key", TOKEN)
            .header("anthropic-version", "2023-06-01"),
        Api::Chat | Api::Completions => req.bearer_auth(TOKEN),
    };
    let resp = tokio::time::timeout(Duration::from_secs(10), req.send())
        .await
        .expect("an answer within 10 s")
        .unwrap();
    fails.eq(resp.status().as_u16(), 200, c, "status");
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    let want_ct = if c.stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    fails.eq(ct.as_str(), want_ct, c, "content type");
    match (c.api, c.stream) {
        (Api::Messages, false) => messages_answer(c, &resp.json().await.unwrap(), &said, fails),
        (Api::Messages, true) => messages_stream(c, &read_sse(resp).await.0, &said, fails),
        (_, false) => openai_answer(c, &resp.json().await.unwrap(), &said, fails),
        (_, true) => openai_stream(c, &read_sse(resp).await.0, &said, fails),
    }
    let a = access_log::take(&id).await;
    fails.eq(
        (a.status, a.outcome.as_str(), a.usage_known),
        (200, "ok", true),
        c,
        "access record status, outcome, usage known",
    );
    fails.eq(
        (a.tokens_in, a.tokens_out),
        (said.prompt, said.completion),
        c,
        "accounted tokens (in, out) vs the simulator's usage",
    );
}

fn openai_answer(c: &Case, v: &Value, said: &Said, fails: &mut Fails) {
    fails.eq(
        v["object"].as_str(),
        said.object.as_deref(),
        c,
        "object (passed through)",
    );
    fails.eq(
        v["model"].as_str(),
        Some(c.client_model().as_str()),
        c,
        "model",
    );
    let choice = &v["choices"][0];
    let text = choice["message"]["content"]
        .as_str()
        .or(choice["text"].as_str())
        .unwrap_or("");
    fails.eq(text, said.text.as_str(), c, "text");
    let tool = choice["message"]["tool_calls"][0]["function"]
        .as_object()
        .map(|f| (str_of(&f["name"]), str_of(&f["arguments"])));
    fails.eq(&tool, &said.tool, c, "tool call");
    fails.eq(
        str_of(&choice["finish_reason"]),
        said.finish.clone(),
        c,
        "finish reason (passed through)",
    );
    fails.usage(&v["usage"], ["prompt_tokens", "completion_tokens"], said, c);
}

fn openai_stream(c: &Case, events: &[SseEvent], said: &Said, fails: &mut Fails) {
    let s = OpenAiStream::read(events);
    fails.eq(&s.problems, &Vec::<String>::new(), c, "well-formed");
    let object = if c.api == Api::Completions {
        "text_completion"
    } else {
        "chat.completion.chunk"
    };
    // Passed through, chunks have an `object` where the upstream wrote one.
    fails.check(
        s.objects.iter().all(|o| o == object) && s.objects.is_empty() != said.stream_objects,
        c,
        format_args!("every chunk is a {object}, or none says: {:?}", s.objects),
    );
    fails.check(
        !s.models.is_empty() && s.models.iter().all(|m| *m == c.client_model()),
        c,
        format_args!("every chunk names {}: {:?}", c.client_model(), s.models),
    );
    fails.eq(s.text.as_str(), said.text.as_str(), c, "text");
    fails.eq(&s.tool, &said.tool, c, "tool call");
    fails.eq(
        &s.finishes,
        &said.stream_finishes,
        c,
        "finish reasons (passed through)",
    );
    if c.usage {
        let last = s.usages.last();
        let got = last.map(|u| (u["prompt_tokens"].as_u64(), u["completion_tokens"].as_u64()));
        fails.eq(
            got,
            Some((Some(said.prompt), Some(said.completion))),
            c,
            "usage asked for",
        );
    } else {
        fails.eq(
            s.usages.len(),
            0,
            c,
            "usage objects the client did not ask for",
        );
        fails.eq(s.usage_only, 0, c, "usage-only chunks the relay asked for");
    }
}

/// The stop reason an Anthropic client must see for an upstream finish reason (None: the
/// stream gave none): an answer with tool calls asks for its tools to run.
fn want_stop(c: &Case, finish: Option<&str>) -> &'static str {
    match finish {
        _ if c.tools => "tool_use",
        Some("length") => "max_tokens",
        _ => "end_turn",
    }
}

fn messages_answer(c: &Case, v: &Value, said: &Said, fails: &mut Fails) {
    fails.eq(v["type"].as_str(), Some("message"), c, "type");
    fails.eq(
        v["model"].as_str(),
        Some(c.client_model().as_str()),
        c,
        "model",
    );
    fails.eq(
        v["stop_reason"].as_str(),
        Some(want_stop(c, Some(&said.finish))),
        c,
        "stop_reason",
    );
    let blocks = v["content"].as_array().cloned().unwrap_or_default();
    let text: String = blocks.iter().filter_map(|b| b["text"].as_str()).collect();
    fails.eq(text.as_str(), said.text.as_str(), c, "text");
    let tool = blocks
        .iter()
        .find(|b| b["type"] == "tool_use")
        .map(|b| (str_of(&b["name"]), b["input"].to_string()));
    fails.eq(&tool, &said.tool, c, "tool_use (name, input)");
    fails.usage(&v["usage"], ["input_tokens", "output_tokens"], said, c);
}

fn messages_stream(c: &Case, events: &[SseEvent], said: &Said, fails: &mut Fails) {
    let names: Vec<&str> = events
        .iter()
        .map(|e| e.event.as_deref().unwrap_or(""))
        .collect();
    fails.check(
        names.first() == Some(&"message_start") && names.last() == Some(&"message_stop"),
        c,
        format_args!("message_start .. message_stop: {names:?}"),
    );
    let (mut text, mut tool, mut stop, mut output, mut model) =
        (String::new(), None::<(String, String)>, None, None, None);
    for e in events {
        let Ok(v) = serde_json::from_str::<Value>(&e.data) else {
            fails.check(
                false,
                c,
                format_args!("an event that is not JSON: {}", e.data),
            );
            continue;
        };
        fails.eq(
            v["type"].as_str(),
            e.event.as_deref(),
            c,
            "event name = data type",
        );
        match e.event.as_deref() {
            Some("message_start") => model = v["message"]["model"].as_str().map(str::to_owned),
            Some("content_block_start") if v["content_block"]["type"] == "tool_use" => {
                tool = Some((str_of(&v["content_block"]["name"]), String::new()));
            }
            Some("content_block_delta") => {
                text.push_str(v["delta"]["text"].as_str().unwrap_or(""));
                if let (Some((_, args)), Some(part)) =
                    (&mut tool, v["delta"]["partial_json"].as_str())
                {
                    args.push_str(part);
                }
            }
            Some("message_delta") => {
                stop = v["delta"]["stop_reason"].as_str().map(str::to_owned);
                output = v["usage"]["output_tokens"].as_u64();
            }
            _ => {}
        }
    }
    fails.eq(model, Some(c.client_model()), c, "message_start model");
    fails.eq(text.as_str(), said.text.as_str(), c, "text");
    fails.eq(&tool, &said.tool, c, "tool_use (name, input)");
    let finish = said.stream_finishes.last().map(String::as_str);
    fails.eq(
        stop.as_deref(),
        Some(want_stop(c, finish)),
        c,
        "stop_reason",
    );
    fails.eq(output, Some(said.completion), c, "output_tokens");
}

async fn all_cases(h: &Harness, fails: &mut Fails) {
    for c in cases() {
        run(h, &c, fails).await;
    }
}

#[test]
fn every_dialect_passed_through_and_converted_is_well_formed_and_accounted() {
    leak::run(|| async {
        let h = leak::harness(|c, sim| {
            c.channels
                .extend(Dialect::ALL.into_iter().map(|d| compat(sim, d)));
        })
        .await;
        let mut fails = Fails::default();
        // The first round warms every route up; the second runs between the leak checks.
        all_cases(&h, &mut fails).await;
        let base = Baseline::take(&h).await;
        all_cases(&h, &mut fails).await;
        let n = cases().len() * 2;
        assert!(
            fails.0.is_empty(),
            "{} failed expectations in {n} requests:\n{}",
            fails.0.len(),
            fails.0.join("\n")
        );
        base.assert_returns(&h, Duration::from_secs(3)).await;
        h.shutdown().await;
    });
}
