//! `POST /v1/moderations`: one result per input (string, strings, or text/image parts),
//! flagged when the text holds a word of a small fixed list; scores from the text's hash.
//! Owns the moderation shapes; must never read the clock.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::errors::ApiError;
use crate::gen::words::{hash, splitmix};
use crate::headers::respond;
use crate::http::reply::SimReply;
use crate::openai::{common, Api};

const CATEGORIES: [&str; 13] = [
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
];

/// Words that flag a text, and the category each flags.
const TRIGGERS: [(&str, &str); 4] = [
    ("kill", "violence"),
    ("hate", "hate"),
    ("harass", "harassment"),
    ("gore", "violence/graphic"),
];

#[derive(Deserialize)]
struct ModerationRequest {
    model: Option<String>,
    input: Option<Value>,
}

pub(crate) async fn handle(State(api): State<Api>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let result = answer(&api, &headers, &body);
    respond(api.ctx.provider, &api.ctx.shared.ids, started, result)
}

/// The inputs as (text, has an image).
fn inputs(input: &Value) -> Vec<(String, bool)> {
    match input {
        Value::String(s) => vec![(s.clone(), false)],
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .map(|s| (s.as_str().unwrap_or("").to_owned(), false))
            .collect(),
        Value::Array(parts) => {
            let text: Vec<&str> = parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect();
            let image = parts
                .iter()
                .any(|p| p.get("type").and_then(Value::as_str) == Some("image_url"));
            vec![(text.join(" "), image)]
        }
        _ => Vec::new(),
    }
}

fn result(text: &str, image: bool) -> Value {
    let lower = text.to_ascii_lowercase();
    let mut state = hash(text.as_bytes());
    let mut categories = Map::new();
    let mut scores = Map::new();
    let mut types = Map::new();
    let mut flagged = false;
    for c in CATEGORIES {
        let hit = TRIGGERS
            .iter()
            .any(|(w, cat)| *cat == c && lower.contains(w));
        flagged |= hit;
        let noise = (splitmix(&mut state) % 1000) as f64 / 100_000.0;
        categories.insert(c.to_owned(), json!(hit));
        scores.insert(c.to_owned(), json!(if hit { 0.9 + noise } else { noise }));
        let mut applied = vec!["text"];
        if image
            && matches!(
                c,
                "self-harm"
                    | "self-harm/intent"
                    | "self-harm/instructions"
                    | "sexual"
                    | "violence"
                    | "violence/graphic"
            )
        {
            applied.push("image");
        }
        types.insert(c.to_owned(), json!(applied));
    }
    json!({"flagged": flagged, "categories": categories, "category_scores": scores,
        "category_applied_input_types": types})
}

fn answer(api: &Api, headers: &HeaderMap, body: &[u8]) -> Result<SimReply, ApiError> {
    common::check_auth(api.ctx.provider, headers)?;
    let req: ModerationRequest = common::parse(body)?;
    let model = api.model(Some(
        req.model
            .unwrap_or_else(|| "omni-moderation-latest".to_owned()),
    ))?;
    let input = req.input.ok_or_else(|| common::missing("input"))?;
    let items = inputs(&input);
    if items.is_empty() {
        return Err(ApiError::invalid("Invalid 'input': expected a string, an array of strings, or an array of content parts."));
    }
    let results: Vec<Value> = items.iter().map(|(t, i)| result(t, *i)).collect();
    let id = api.ctx.shared.ids.next("modr-");
    Ok(SimReply::json(
        StatusCode::OK,
        &json!({"id": id, "model": model, "results": results}),
    ))
}
