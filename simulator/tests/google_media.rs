//! Google's media answers: Gemini image models' `inlineData` PNG parts, Gemini TTS models'
//! 24 kHz PCM, and Vertex AI's Imagen `:predict`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::google::*;
use common::media::*;
use common::*;
use serde_json::json;

const IMAGE_MODEL: &str = "gemini-2.5-flash-image";
const TTS_MODEL: &str = "gemini-2.5-flash-preview-tts";

#[tokio::test]
async fn gemini_image_models_answer_inline_pngs() {
    let sim = sim().await;
    for g in [Google::gemini(&sim), Google::vertex(&sim).await] {
        let body = json!({"contents": [{"parts": [{"text": "draw a fox"}]}],
            "generationConfig": {"responseModalities": ["TEXT", "IMAGE"], "imageConfig": {"aspectRatio": "16:9"}}});
        let v = expect(g.post(IMAGE_MODEL, "generateContent").json(&body), 200).await;
        let parts = v["candidates"][0]["content"]["parts"].as_array().unwrap();
        assert!(parts[0]["text"].is_string());
        let inline = &parts[1]["inlineData"];
        assert_eq!(inline["mimeType"], "image/png");
        assert_eq!(png_dims(&b64(inline["data"].as_str().unwrap())), (32, 18));
        let details = v["usageMetadata"]["candidatesTokensDetails"]
            .as_array()
            .unwrap();
        assert_eq!(details.last().unwrap()["modality"], "IMAGE");
        assert_eq!(details.last().unwrap()["tokenCount"], 1290);
        assert_eq!(v["usageMetadata"]["candidatesTokenCount"], 1290 + 12);

        let (blocks, _) = stream_blocks(
            g.auth(client().post(g.url(IMAGE_MODEL, "streamGenerateContent", "alt=sse")))
                .json(&body),
        )
        .await;
        let last = blocks.iter().rev().find(|b| b.is_data()).unwrap().json();
        assert!(last["candidates"][0]["content"]["parts"][0]["inlineData"]["data"].is_string());

        let text_only = json!({"contents": [{"parts": [{"text": "hi"}]}],
            "generationConfig": {"responseModalities": ["IMAGE"]}});
        expect(
            g.post("gemini-2.0-flash", "generateContent")
                .json(&text_only),
            400,
        )
        .await;
    }
}

#[tokio::test]
async fn gemini_tts_answers_pcm_only() {
    let sim = sim().await;
    let g = Google::gemini(&sim);
    let body = json!({"contents": [{"parts": [{"text": "Say hello."}]}],
        "generationConfig": {"responseModalities": ["AUDIO"],
            "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}}}});
    let v = expect(g.post(TTS_MODEL, "generateContent").json(&body), 200).await;
    let parts = v["candidates"][0]["content"]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(
        parts[0]["inlineData"]["mimeType"],
        "audio/L16;codec=pcm;rate=24000"
    );
    let pcm = b64(parts[0]["inlineData"]["data"].as_str().unwrap());
    // 60 ms of 24 kHz s16 per character of the prompt's text.
    assert!(
        pcm.len() >= 48 * 600 && pcm.len().is_multiple_of(48),
        "{}",
        pcm.len()
    );
    assert_eq!(
        v["usageMetadata"]["candidatesTokensDetails"][0]["modality"],
        "AUDIO"
    );
}

#[tokio::test]
async fn vertex_imagen_predict() {
    let sim = sim().await;
    let g = Google::vertex(&sim).await;
    let body = json!({"instances": [{"prompt": "a fox"}], "parameters": {"sampleCount": 2, "aspectRatio": "3:4"}});
    let v = expect(
        g.post("imagen-4.0-generate-001", "predict").json(&body),
        200,
    )
    .await;
    let p = v["predictions"].as_array().unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(p[0]["mimeType"], "image/png");
    assert_eq!(
        png_dims(&b64(p[1]["bytesBase64Encoded"].as_str().unwrap())),
        (24, 32)
    );
    let blocked = json!({"instances": [{"prompt": "SIM_BLOCK_PROMPT"}], "parameters": {"includeRaiReason": true}});
    let v = expect(
        g.post("imagen-4.0-generate-001", "predict").json(&blocked),
        200,
    )
    .await;
    assert!(v["predictions"][0]["raiFilteredReason"].is_string());
    assert!(v["predictions"][0].get("bytesBase64Encoded").is_none());
    expect(
        g.post("imagen-4.0-generate-001", "generateContent")
            .json(&json!({})),
        404,
    )
    .await;
}
