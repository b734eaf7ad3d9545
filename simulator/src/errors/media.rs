//! The error answers of OpenAI's media endpoints (images, audio), worded as
//! `providers-media.md` quotes them: the audio 413, invalid files, content-policy refusals,
//! unknown parameters and bad sizes.
//! Owns these wordings; must never decide when they apply.

use http::StatusCode;
use serde_json::json;

use super::{ApiError, ErrorKind, Words};

/// OpenAI's 413 for a body over `limit` bytes, after reading `read` bytes (the audio endpoints'
/// text; the image endpoints are assumed to word theirs the same: unconfirmed).
pub(crate) fn too_large(limit: u64, read: u64) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::TooLarge,
        format!("Maximum content size limit ({limit}) exceeded ({read} bytes read)"),
    );
    e.words = Some(Box::new(Words {
        ty: "server_error",
        code: None,
        extra: None,
    }));
    e
}

/// 400 for an audio upload in a container the endpoint does not take.
pub(crate) fn invalid_file_format() -> ApiError {
    ApiError::invalid(
        "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']",
    )
}

/// 400 for an image part that is not a PNG, JPEG or WebP (`index` counts from 1).
pub(crate) fn invalid_image(index: usize) -> ApiError {
    ApiError::invalid(format!(
        "Invalid image file or mode for image {index}, please check your image file."
    ))
}

/// 400 for a parameter the model does not take (`response_format` to a GPT image model).
pub(crate) fn unknown_parameter(param: &'static str) -> ApiError {
    let mut e = ApiError::invalid(format!("Unknown parameter: '{param}'."));
    e.param = Some(param);
    e.words = Some(Box::new(Words {
        ty: "invalid_request_error",
        code: Some("unknown_parameter"),
        extra: None,
    }));
    e
}

/// 400 for a value outside the supported ones (`supported` already quoted and joined).
pub(crate) fn invalid_value(param: &'static str, value: &str, supported: &str) -> ApiError {
    let mut e = ApiError::invalid(format!(
        "Invalid value: '{value}'. Supported values are: {supported}."
    ));
    e.param = Some(param);
    e.words = Some(Box::new(Words {
        ty: "invalid_request_error",
        code: Some("invalid_value"),
        extra: None,
    }));
    e
}

/// The safety system's refusal of a request for `model`: GPT image models answer
/// `image_generation_user_error` / `moderation_blocked` with `moderation_details`, the others
/// (dall-e, and any other model) `content_policy_violation`. Status 400 is assumed for both
/// (unconfirmed for `moderation_blocked`: one relay notes 403 or a 200 carrying the error).
pub(crate) fn content_policy(model: Option<&str>) -> ApiError {
    let gpt_image =
        model.is_some_and(|m| m.starts_with("gpt-image") || m.starts_with("chatgpt-image"));
    if gpt_image {
        let mut e = ApiError::invalid(
            "Your request was rejected by the safety system. If you believe this is an error, contact us at help.openai.com and include the request ID (simulated).",
        );
        e.words = Some(Box::new(Words {
            ty: "image_generation_user_error",
            code: Some("moderation_blocked"),
            extra: Some((
                "moderation_details",
                json!({"moderation_stage": "input", "categories": ["violence"]}),
            )),
        }));
        e
    } else {
        let mut e = ApiError::invalid(
            "Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system (simulated).",
        );
        e.words = Some(Box::new(Words {
            ty: "invalid_request_error",
            code: Some("content_policy_violation"),
            extra: None,
        }));
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Provider;

    #[test]
    fn bodies_as_quoted() {
        let b = too_large(26_214_400, 26_222_592).body(Provider::OpenAi, "r");
        assert_eq!(
            b,
            json!({"error": {"message": "Maximum content size limit (26214400) exceeded (26222592 bytes read)",
                "type": "server_error", "param": null, "code": null}})
        );
        let b = content_policy(Some("gpt-image-1")).body(Provider::OpenAi, "r");
        assert_eq!(b["error"]["code"], "moderation_blocked");
        assert_eq!(
            b["error"]["moderation_details"]["moderation_stage"],
            "input"
        );
        let b = content_policy(Some("dall-e-3")).body(Provider::OpenAi, "r");
        assert_eq!(b["error"]["code"], "content_policy_violation");
        let b = unknown_parameter("response_format").body(Provider::OpenAi, "r");
        assert_eq!(
            b["error"]["message"],
            "Unknown parameter: 'response_format'."
        );
    }
}
