//! Reading Gemini's media answers for the bridges: the `inlineData` parts of candidate 0 of a
//! `generateContent` answer (images, or a TTS model's PCM) with its text, finish and usage by
//! modality; and Imagen's `:predict` predictions, filtered samples told apart.
//!
//! Owns: those shapes (providers-media.md section 4); Google's words (finish, usage, PCM) are
//! read through `providers::gemini`. Must never: decode media (the bytes stay base64 until a
//! converter needs them), or fail on members it does not know.

use serde_json::Value;

use super::read::{candidate, Candidate};
use crate::bridges::common::json::{arr, obj, req_str};
use crate::bridges::common::Side;
use crate::providers::gemini::{self, media::modality_tokens};
use crate::wire::{ConvertError, StopReason, Usage};

const UP: Side = Side::Upstream;

/// One media part: its type and its bytes in base64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Inline {
    pub(crate) mime_type: String,
    pub(crate) data: String,
}

/// Tokens by modality, as `usageMetadata` details them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Modal {
    pub(crate) prompt_text: u64,
    pub(crate) prompt_image: u64,
    pub(crate) output_text: u64,
    pub(crate) output_image: u64,
}

/// What a `generateContent` answer holds for a media request.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct MediaReading {
    /// Candidate 0's `inlineData` parts, in order.
    pub(crate) media: Vec<Inline>,
    /// Its text parts (not thoughts), joined.
    pub(crate) text: String,
    /// Its `finishReason` word, or the prompt's `blockReason`.
    pub(crate) finish: Option<String>,
    /// The finish read: a content filter for a blocked prompt.
    pub(crate) stop: Option<StopReason>,
    pub(crate) usage: Option<Usage>,
    pub(crate) modal: Modal,
}

/// Reads a `generateContent` answer's media.
pub(crate) fn read_inline(v: &Value) -> Result<MediaReading, ConvertError> {
    let r = obj(v, "upstream response", UP)?;
    let mut out = MediaReading {
        usage: gemini::usage::of(v),
        ..MediaReading::default()
    };
    if let Some(u) = r.get("usageMetadata") {
        let output_image = modality_tokens(u, "candidatesTokensDetails", "IMAGE");
        out.modal = Modal {
            prompt_text: modality_tokens(u, "promptTokensDetails", "TEXT"),
            prompt_image: modality_tokens(u, "promptTokensDetails", "IMAGE"),
            output_image,
            output_text: out
                .usage
                .map_or(0, |u| u.completion_tokens.saturating_sub(output_image)),
        };
    }
    let (finish, parts) = match candidate(r)? {
        Candidate::None { blocked } => {
            if let Some(b) = blocked {
                out.finish = Some(b.to_owned());
                out.stop = Some(StopReason::ContentFilter);
            }
            return Ok(out);
        }
        Candidate::First { finish, parts } => (finish, parts),
    };
    out.finish = finish.map(str::to_owned);
    out.stop = finish.map(gemini::finish::read);
    for p in parts {
        let p = obj(p, "upstream part", UP)?;
        if let Some(d) = p.get("inlineData") {
            let d = obj(d, "upstream inlineData", UP)?;
            out.media.push(Inline {
                mime_type: req_str(d, "mimeType", "upstream inlineData", UP)?.to_owned(),
                data: req_str(d, "data", "upstream inlineData", UP)?.to_owned(),
            });
        } else if let Some(t) = p.get("text").and_then(Value::as_str) {
            if p.get("thought").and_then(Value::as_bool) != Some(true) {
                out.text.push_str(t);
            }
        }
    }
    Ok(out)
}

/// Whether an answer is Imagen's (`predictions`), not `generateContent`'s.
pub(crate) fn is_predictions(v: &Value) -> bool {
    v.get("predictions").is_some()
}

/// One image Imagen made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sample {
    pub(crate) image: Inline,
    /// The prompt Imagen drew from when it rewrote it (`enhancePrompt`).
    pub(crate) prompt: Option<String>,
}

/// Imagen's predictions: the images, and the reasons of the samples its filters withheld.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Predictions {
    pub(crate) samples: Vec<Sample>,
    pub(crate) filtered: Vec<String>,
}

/// Reads a `:predict` answer (none at all, `{}`, is every sample withheld without a reason).
pub(crate) fn read_predictions(v: &Value) -> Result<Predictions, ConvertError> {
    let r = obj(v, "upstream response", UP)?;
    let empty = Vec::new();
    let list = match r.get("predictions") {
        None | Some(Value::Null) => &empty,
        Some(p) => arr(p, "upstream predictions", UP)?,
    };
    let mut out = Predictions::default();
    for p in list {
        let p = obj(p, "upstream prediction", UP)?;
        match p.get("bytesBase64Encoded").and_then(Value::as_str) {
            Some(data) => out.samples.push(Sample {
                image: Inline {
                    mime_type: p
                        .get("mimeType")
                        .and_then(Value::as_str)
                        .unwrap_or("image/png")
                        .to_owned(),
                    data: data.to_owned(),
                },
                prompt: p.get("prompt").and_then(Value::as_str).map(str::to_owned),
            }),
            None => out.filtered.push(
                p.get("raiFilteredReason")
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given")
                    .to_owned(),
            ),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inline_parts_text_finish_and_modal_usage() {
        let r = read_inline(&json!({"candidates":[{"content":{"parts":[
            {"text":"thinking","thought":true},{"text":"Here it is"},
            {"inlineData":{"mimeType":"image/png","data":"iVBO"}}]},"finishReason":"STOP","index":0}],
            "usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":1300,
            "promptTokensDetails":[{"modality":"TEXT","tokenCount":5}],
            "candidatesTokensDetails":[{"modality":"TEXT","tokenCount":10},{"modality":"IMAGE","tokenCount":1290}]}}))
        .unwrap();
        assert_eq!(
            r.media,
            vec![Inline {
                mime_type: "image/png".into(),
                data: "iVBO".into()
            }]
        );
        assert_eq!(r.text, "Here it is");
        assert_eq!(
            (r.finish.as_deref(), r.stop),
            (Some("STOP"), Some(StopReason::EndTurn))
        );
        assert_eq!(
            r.modal,
            Modal {
                prompt_text: 5,
                prompt_image: 0,
                output_text: 10,
                output_image: 1290
            }
        );
        let blocked = read_inline(&json!({"promptFeedback":{"blockReason":"SAFETY"}})).unwrap();
        assert_eq!(blocked.stop, Some(StopReason::ContentFilter));
        assert!(blocked.media.is_empty());
        for bad in [
            json!([]),
            json!({"candidates":[{"content":{"parts":[{"inlineData":{"data":"x"}}]}}]}),
            json!({"candidates":[{"content":{"parts":{}}}]}),
        ] {
            assert!(read_inline(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn predictions_and_filtered_samples() {
        let v = json!({"predictions":[{"bytesBase64Encoded":"aa","mimeType":"image/jpeg","prompt":"p+"},
            {"raiFilteredReason":"filtered"},{"bytesBase64Encoded":"bb"}]});
        assert!(is_predictions(&v));
        let p = read_predictions(&v).unwrap();
        assert_eq!(p.samples.len(), 2);
        assert_eq!(p.samples[0].image.mime_type, "image/jpeg");
        assert_eq!(p.samples[0].prompt.as_deref(), Some("p+"));
        assert_eq!(p.samples[1].image.mime_type, "image/png");
        assert_eq!(p.filtered, vec!["filtered".to_owned()]);
        assert_eq!(
            read_predictions(&json!({})).unwrap(),
            Predictions::default()
        );
        assert!(!is_predictions(&json!({"candidates":[]})));
        assert!(read_predictions(&json!({"predictions":{}})).is_err());
    }
}
