//! The answer of an image endpoint once its request is validated: `data` items (URL or
//! base64 PNG), GPT image usage, and the `*.partial_image` / `*.completed` event stream.
//! Owns image response shapes; must never validate requests.

use base64::Engine;
use serde_json::{json, Value};

use crate::gen::ids::unix_now;
use crate::gen::image::{dimensions, png};
use crate::http::reply::{event, SimReply};

/// The model families whose rules differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    DallE2,
    DallE3,
    /// `gpt-image-*`, `chatgpt-image-*`: always base64, token usage, streams.
    GptImage,
}

impl Family {
    pub(crate) fn of(model: &str) -> Family {
        if model.starts_with("dall-e-3") {
            Family::DallE3
        } else if model.starts_with("dall-e") {
            Family::DallE2
        } else {
            Family::GptImage
        }
    }
}

/// Which endpoint answers (its stream event names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Generation,
    Edit,
    Variation,
}

/// A validated image request.
#[derive(Clone, Debug)]
pub(crate) struct ImageJob {
    pub(crate) op: Op,
    pub(crate) family: Family,
    pub(crate) n: u64,
    pub(crate) size: String,
    pub(crate) quality: String,
    pub(crate) b64: bool,
    pub(crate) stream: bool,
    pub(crate) partial_images: u64,
    /// Words of the prompt, and images sent (edits), for usage.
    pub(crate) text_tokens: u64,
    pub(crate) input_images: u64,
    /// Chooses the pictures (the prompt's or the upload's hash).
    pub(crate) seed: u64,
    /// Where the simulator serves its files (`http://host/openai/sim-files`).
    pub(crate) files_url: String,
}

/// Tokens one input image costs (GPT image; an assumption of the simulator).
const IMAGE_INPUT_TOKENS: u64 = 85;

fn output_tokens(quality: &str) -> u64 {
    match quality {
        "low" => 272,
        "high" => 4160,
        _ => 1056,
    }
}

impl ImageJob {
    fn seed_of(&self, index: u64, partial: Option<u64>) -> u64 {
        self.seed ^ (index + 1).wrapping_mul(0x9e37_79b9) ^ partial.map_or(0, |p| (p + 1) << 40)
    }

    fn b64_png(&self, seed: u64) -> String {
        let (w, h) = dimensions(&self.size);
        base64::engine::general_purpose::STANDARD.encode(png(seed, w, h))
    }

    /// The URL of image `index`: a file route of the simulator that regenerates it.
    pub(crate) fn url(&self, seed: u64) -> String {
        let (w, h) = dimensions(&self.size);
        format!("{}/img-{seed:016x}-{w}x{h}.png", self.files_url)
    }

    fn usage(&self) -> Value {
        let image_tokens = self.input_images * IMAGE_INPUT_TOKENS;
        let input = self.text_tokens + image_tokens;
        let output = output_tokens(&self.quality) * self.n;
        json!({
            "input_tokens": input,
            "input_tokens_details": {"text_tokens": self.text_tokens, "image_tokens": image_tokens},
            "output_tokens": output,
            "total_tokens": input + output,
            "output_tokens_details": {"image_tokens": output, "text_tokens": 0},
        })
    }

    fn size_word(&self) -> &str {
        if self.size == "auto" {
            "1024x1024"
        } else {
            &self.size
        }
    }

    /// The whole answer: JSON, or the event stream of a GPT image `stream` request.
    pub(crate) fn reply(&self) -> SimReply {
        if self.stream {
            return SimReply::sse(self.events());
        }
        let data: Vec<Value> = (0..self.n)
            .map(|i| {
                let seed = self.seed_of(i, None);
                let mut item = if self.b64 {
                    json!({"b64_json": self.b64_png(seed)})
                } else {
                    json!({"url": self.url(seed)})
                };
                if self.family == Family::DallE3 {
                    item["revised_prompt"] = json!(format!("A picture, as asked ({seed:x})."));
                }
                item
            })
            .collect();
        let mut body = json!({"created": unix_now(), "data": data});
        if self.family == Family::GptImage {
            body["background"] = json!("opaque");
            body["output_format"] = json!("png");
            body["quality"] = json!(if self.quality == "auto" {
                "medium"
            } else {
                &self.quality
            });
            body["size"] = json!(self.size_word());
            body["usage"] = self.usage();
        }
        SimReply::json(http::StatusCode::OK, &body)
    }

    /// Partials, then one `completed` per image (one per image when `n > 1`: unconfirmed),
    /// each with an `event:` line equal to its `type`; no `[DONE]`, as in OpenAI's example.
    fn events(&self) -> Vec<bytes::Bytes> {
        let prefix = match self.op {
            Op::Generation | Op::Variation => "image_generation",
            Op::Edit => "image_edit",
        };
        let quality = if self.quality == "auto" {
            "medium"
        } else {
            &self.quality
        };
        let common = json!({
            "created_at": unix_now(), "size": self.size_word(), "quality": quality,
            "background": "opaque", "output_format": "png",
        });
        let mut out = Vec::new();
        for i in 0..self.n {
            for p in 0..self.partial_images {
                let name = format!("{prefix}.partial_image");
                let mut e = json!({"type": name, "b64_json": self.b64_png(self.seed_of(i, Some(p))),
                    "partial_image_index": p});
                merge(&mut e, &common);
                out.push(event(Some(&name), &e));
            }
            let name = format!("{prefix}.completed");
            let mut e = json!({"type": name, "b64_json": self.b64_png(self.seed_of(i, None))});
            merge(&mut e, &common);
            if i + 1 == self.n {
                e["usage"] = self.usage();
            }
            out.push(event(Some(&name), &e));
        }
        out
    }
}

fn merge(into: &mut Value, from: &Value) {
    if let (Some(a), Some(b)) = (into.as_object_mut(), from.as_object()) {
        for (k, v) in b {
            a.insert(k.clone(), v.clone());
        }
    }
}

/// Where the files of a request arriving at `path` are served: its prefix (the part before
/// `/v1/`) and `/sim-files`, on the host it was sent to.
pub(crate) fn files_url(headers: &http::HeaderMap, path: &str) -> String {
    let host = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let prefix = path.find("/v1/").map_or("", |at| &path[..at]);
    format!("http://{host}{prefix}/sim-files")
}
