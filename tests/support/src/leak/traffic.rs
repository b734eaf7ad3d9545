//! Traffic for leak tests and property tests: the client-facing routes through the relay (each
//! endpoint, native and converted), requests carrying a simulator fault directive, and a check
//! that what came back is a well-formed answer or a well-formed error in the client's format.
//!
//! Owns: the routes, request bodies, and the shape check. Must never: wait without a deadline.

use crate::{Harness, TOKEN};
use serde_json::{json, Value};
use std::time::Duration;

/// A client endpoint and the channel behind it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/v1/chat/completions` on an OpenAI channel (native).
    OpenAiChat,
    /// `/v1/chat/completions` on an Anthropic channel (converted both ways).
    ClaudeViaChat,
    /// `/v1/chat/completions` on the xAI channel (native, OpenAI format).
    GrokChat,
    /// `/v1/completions` on an OpenAI channel.
    Completions,
    /// `/v1/embeddings` on an OpenAI channel (never streams).
    Embeddings,
    /// `/v1/messages` on an Anthropic channel (native).
    ClaudeMessages,
    /// `/v1/messages` on an OpenAI channel (converted both ways).
    GptViaMessages,
    /// Google's `/v1beta/models/{model}:generateContent` (`:streamGenerateContent?alt=sse`) on
    /// the Gemini channel (native).
    GeminiGenerate,
    /// The same on the Vertex AI channel (native, with an exchanged token).
    VertexGenerate,
}

impl Route {
    /// The four paths that differ most: OpenAI and Anthropic channels, native and converted.
    pub const MAIN: [Route; 4] = [
        Route::OpenAiChat,
        Route::ClaudeViaChat,
        Route::ClaudeMessages,
        Route::GptViaMessages,
    ];
    pub const ALL: [Route; 7] = [
        Route::OpenAiChat,
        Route::ClaudeViaChat,
        Route::GrokChat,
        Route::Completions,
        Route::Embeddings,
        Route::ClaudeMessages,
        Route::GptViaMessages,
    ];

    /// Google's routes, native on Gemini and on Vertex AI.
    pub const GOOGLE: [Route; 2] = [Route::GeminiGenerate, Route::VertexGenerate];

    /// The path of a non-streamed request (Google's routes name the stream in theirs:
    /// [`Self::path_for`]).
    pub fn path(self) -> &'static str {
        self.path_for(false)
    }

    pub fn path_for(self, stream: bool) -> &'static str {
        match (self, stream) {
            (Route::OpenAiChat | Route::ClaudeViaChat | Route::GrokChat, _) => {
                "/v1/chat/completions"
            }
            (Route::Completions, _) => "/v1/completions",
            (Route::Embeddings, _) => "/v1/embeddings",
            (Route::ClaudeMessages | Route::GptViaMessages, _) => "/v1/messages",
            (Route::GeminiGenerate, false) => "/v1beta/models/gemini-2.5-flash:generateContent",
            (Route::GeminiGenerate, true) => {
                "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
            }
            (Route::VertexGenerate, false) => {
                "/v1beta/models/gemini-2.0-flash-vertex:generateContent"
            }
            (Route::VertexGenerate, true) => {
                "/v1beta/models/gemini-2.0-flash-vertex:streamGenerateContent?alt=sse"
            }
        }
    }

    pub fn model(self) -> &'static str {
        match self {
            Route::OpenAiChat | Route::GptViaMessages => "gpt-4o-mini",
            Route::ClaudeViaChat | Route::ClaudeMessages => "claude-sonnet-4-20250514",
            Route::GrokChat => "grok-3",
            Route::Completions => "gpt-3.5-turbo-instruct",
            Route::Embeddings => "text-embedding-3-small",
            Route::GeminiGenerate => "gemini-2.5-flash",
            Route::VertexGenerate => "gemini-2.0-flash-vertex",
        }
    }

    /// The client speaks Google's format (errors as `{"error":{code,message,status}}`).
    pub fn google_client(self) -> bool {
        matches!(self, Route::GeminiGenerate | Route::VertexGenerate)
    }

    /// The client speaks Anthropic's format (errors as `{"type":"error",...}`).
    pub fn anthropic_client(self) -> bool {
        matches!(self, Route::ClaudeMessages | Route::GptViaMessages)
    }

    pub fn can_stream(self) -> bool {
        self != Route::Embeddings
    }

    /// A request body whose prompt carries `fault` (if any) as a `<<sim:...>>` directive.
    pub fn body(self, fault: Option<&str>, stream: bool, max_tokens: u32) -> Value {
        let prompt = match fault {
            Some(f) => format!("count to ten <<sim:{f}>>"),
            None => "count to ten".to_owned(),
        };
        let stream = stream && self.can_stream();
        match self {
            Route::Completions => json!({"model": self.model(), "prompt": prompt,
                "stream": stream, "max_tokens": max_tokens}),
            Route::Embeddings => json!({"model": self.model(), "input": prompt}),
            // The stream is in the path: `request` reads `stream` from here and sends the rest.
            Route::GeminiGenerate | Route::VertexGenerate => json!({"stream": stream,
                "contents": [{"role": "user", "parts": [{"text": prompt}]}],
                "generationConfig": {"maxOutputTokens": max_tokens,
                    "thinkingConfig": {"thinkingBudget": 0}}}),
            _ => json!({"model": self.model(), "stream": stream, "max_tokens": max_tokens,
                "messages": [{"role": "user", "content": prompt}]}),
        }
    }

    /// The request, authenticated as this route's client does it.
    pub fn request(self, h: &Harness, body: &Value) -> reqwest::RequestBuilder {
        if self.google_client() {
            let stream = body["stream"] == true;
            let mut body = body.clone();
            if let Some(o) = body.as_object_mut() {
                o.remove("stream");
            }
            return h
                .client
                .post(h.url(self.path_for(stream)))
                .header("x-goog-api-key", TOKEN)
                .json(&body);
        }
        let req = h.client.post(h.url(self.path())).json(body);
        if self.anthropic_client() {
            req.header("x-api-key", TOKEN)
                .header("anthropic-version", "2023-06-01")
        } else {
            req.bearer_auth(TOKEN)
        }
    }
}

/// What a client got back, read to the end (or as far as the connection went).
#[derive(Clone, Debug)]
pub struct Outcome {
    pub route: Route,
    pub stream: bool,
    pub status: u16,
    pub body: String,
    /// The body ended with a transport error (a cut connection), not a clean end.
    pub cut: bool,
}

/// Sends one request and reads the whole answer, all within `within`; `None` if the deadline
/// passed or the relay could not be reached.
pub async fn send(
    h: &Harness,
    route: Route,
    fault: Option<&str>,
    stream: bool,
    max_tokens: u32,
    within: Duration,
) -> Option<Outcome> {
    let body = route.body(fault, stream, max_tokens);
    let stream = stream && route.can_stream();
    let exchange = async {
        let resp = route.request(h, &body).send().await.ok()?;
        Some(read(route, stream, resp).await)
    };
    tokio::time::timeout(within, exchange).await.ok().flatten()
}

/// Reads a response to its end (or until its connection breaks). Bound it with a timeout.
pub async fn read(route: Route, stream: bool, mut resp: reqwest::Response) -> Outcome {
    let status = resp.status().as_u16();
    let mut bytes = Vec::new();
    let mut cut = false;
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => bytes.extend_from_slice(&c),
            Ok(None) => break,
            Err(_) => {
                cut = true;
                break;
            }
        }
    }
    Outcome {
        route,
        stream,
        status,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        cut,
    }
}

/// How a well-formed outcome ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A complete answer: the expected JSON object, or a stream ending with its terminator.
    Answer,
    /// An error in the client's format, before (status) or inside (final event) a stream.
    Error,
}

impl Outcome {
    /// Checks the outcome is a well-formed answer or a well-formed error; says what is wrong.
    pub fn shape(&self) -> Result<Shape, String> {
        let fail = |why: &str| Err(format!("{why}: {self:?}"));
        if self.status != 200 {
            let v: Value = match serde_json::from_str(&self.body) {
                Ok(v) => v,
                Err(_) => return fail("error status without a JSON body"),
            };
            return if is_error(self.route, &v) {
                Ok(Shape::Error)
            } else {
                fail("error body not in the client's format")
            };
        }
        if self.stream {
            return self.stream_shape(true);
        }
        if self.cut {
            return fail("a 200 JSON body cut short");
        }
        let v: Value = match serde_json::from_str(&self.body) {
            Ok(v) => v,
            Err(_) => return fail("a 200 whose body is not JSON"),
        };
        let ok = match self.route {
            Route::OpenAiChat | Route::ClaudeViaChat | Route::GrokChat => {
                v["object"] == "chat.completion" && v["choices"].is_array()
            }
            Route::Completions => v["object"] == "text_completion" && v["choices"].is_array(),
            Route::Embeddings => v["object"] == "list" && v["data"].is_array(),
            Route::ClaudeMessages | Route::GptViaMessages => {
                v["type"] == "message" && v["content"].is_array()
            }
            Route::GeminiGenerate | Route::VertexGenerate => v["candidates"].is_array(),
        };
        if ok {
            Ok(Shape::Answer)
        } else {
            fail("a 200 that is not the endpoint's answer object")
        }
    }

    /// Like [`Self::shape`], but a stream's events before its end need not be JSON: native
    /// streams are passed through without being parsed (design.md §6), so a broken upstream
    /// event reaches the client as it was sent. The end must still be well-formed.
    pub fn shape_passthrough(&self) -> Result<Shape, String> {
        if self.status == 200 && self.stream {
            self.stream_shape(false)
        } else {
            self.shape()
        }
    }

    fn stream_shape(&self, strict: bool) -> Result<Shape, String> {
        let fail = |why: &str| Err(format!("{why}: {self:?}"));
        if self.cut {
            return fail("the relay cut the stream without an error event");
        }
        if !self.body.ends_with("\n\n") {
            return fail("the stream ends inside an event");
        }
        let (events, _) = crate::sse::parse(&self.body);
        let Some((last, before)) = events.split_last() else {
            return fail("a stream with no event");
        };
        for ev in before {
            if ev.event.as_deref() == Some("error") || ev.data == "[DONE]" {
                return fail("an error or terminator before the end of the stream");
            }
            let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
                if strict {
                    return fail("a stream event that is not JSON");
                }
                continue;
            };
            if v.get("error").is_some() {
                return fail("an error event before the end of the stream");
            }
        }
        if self.route.anthropic_client() {
            let v: Value = serde_json::from_str(&last.data).unwrap_or(Value::Null);
            match (last.event.as_deref(), v["type"].as_str()) {
                (Some("message_stop"), Some("message_stop")) => Ok(Shape::Answer),
                (Some("error"), Some("error")) if v["error"]["message"].is_string() => {
                    Ok(Shape::Error)
                }
                _ => fail("an Anthropic stream not ending with message_stop or an error event"),
            }
        } else if self.route.google_client() {
            // No terminator: the last chunk gives the finish reason, or is Google's error.
            let v: Value = serde_json::from_str(&last.data).unwrap_or(Value::Null);
            if v["candidates"][0]["finishReason"].is_string() {
                Ok(Shape::Answer)
            } else if v["error"]["message"].is_string() && v["error"]["status"].is_string() {
                Ok(Shape::Error)
            } else {
                fail("a Gemini stream not ending with a finishReason or an error chunk")
            }
        } else if last.data == "[DONE]" {
            Ok(Shape::Answer)
        } else {
            let v: Value = serde_json::from_str(&last.data).unwrap_or(Value::Null);
            // xAI's own in-stream error (`{"code":...,"error":"..."}`) is passed through to its
            // OpenAI-format clients as xAI sent it; the OpenAI SDKs raise on either shape.
            let xai_error = self.route == Route::GrokChat && v["error"].is_string();
            if v["error"]["message"].is_string() || xai_error {
                Ok(Shape::Error)
            } else {
                fail("an OpenAI stream not ending with [DONE] or an error event")
            }
        }
    }
}

fn is_error(route: Route, v: &Value) -> bool {
    if route.google_client() {
        v["error"]["message"].is_string() && v["error"]["status"].is_string()
    } else if route.anthropic_client() {
        v["type"] == "error" && v["error"]["message"].is_string() && v["error"]["type"].is_string()
    } else {
        v["error"]["message"].is_string()
    }
}
