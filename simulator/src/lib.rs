//! `sluice-sim`: an in-process or standalone server that imitates upstream LLM providers
//! (OpenAI, Anthropic, xAI) closely enough for their official SDKs, and injects faults.
//!
//! All providers share one port, each under its own prefix:
//! OpenAI at `/openai/v1/...`, Anthropic at `/anthropic/v1/...`, xAI at `/xai/v1/...`,
//! Google at `/gemini` and `/vertex`, the video-only providers at `/kling`, `/runway`,
//! `/luma`, `/zhipu`, `/dashscope`, `/viggle`;
//! [`SimHandle::base_url`] gives the base URL each SDK expects. `GET /__sim/stats` shows
//! [`Stats`] as JSON and `POST /__sim/stats/reset` zeroes them.
//!
//! OpenAI-compatible servers come in [`Dialect`]s, each at `/compat/{dialect}/v1/...` (chat,
//! completions, embeddings, models; [`Dialect::base_url`]): the same answers as OpenAI's, written
//! as vLLM, LiteLLM, Ollama, llama.cpp or small Python servers write them (spacing, member order,
//! ids, usage chunk shapes, finish reason quirks, a JSON body for a stream request). They take
//! OpenAI's keys, errors and faults, and serve any model name.
//!
//! # Media
//! OpenAI (and each dialect) also serves `POST /v1/images/generations` (JSON; dall-e `url`
//! or `b64_json`, GPT image models base64 with token `usage`, and with `stream: true` and
//! `partial_images` the `image_generation.partial_image` / `.completed` events),
//! `/v1/images/edits` and `/v1/images/variations` (multipart: `image`, repeated `image` or
//! `image[]`, `mask`), `/v1/audio/speech` (chunked audio in `mp3`, `opus`, `aac`, `flac`,
//! `wav`, `pcm`, or `stream_format: "sse"`), `/v1/audio/transcriptions` and
//! `/v1/audio/translations` (multipart; `json`, `text`, `srt`, `vtt`, `verbose_json`, and
//! `transcript.text.*` streams) and `/v1/moderations`. xAI serves `/v1/images/generations`
//! with its own rules. Images are real PNGs (32 pixels on the long side, the requested
//! ratio); URL answers point at `GET {prefix}/sim-files/img-{seed}-{W}x{H}.png`, regenerated
//! from the name. WAV and PCM are real (24 kHz s16 mono), MP3 is real silent MPEG-1 Layer III
//! frames, FLAC a header without frames, opus and aac placeholders with their magic bytes.
//! Transcripts come from the upload's hash, 2.5 words per second of audio (read from a WAV
//! header, else estimated at 16 kB/s). Uploads are streamed, never held: audio over 25 MiB
//! gets OpenAI's 413 (`Maximum content size limit (26214400) exceeded (N bytes read)`), image
//! bodies over 64 MiB the same shape. Google: Gemini image models (`*-image*`, with
//! `responseModalities` holding `IMAGE`) add an `inlineData` PNG part, Gemini TTS models
//! (`*-tts*`, `AUDIO`) answer only an `audio/L16;codec=pcm;rate=24000` part, both counted in
//! `candidatesTokensDetails`; Vertex AI's Imagen (`imagen-*`) answers `:predict` with
//! `predictions[{bytesBase64Encoded, mimeType}]`. [`Stats::uploads`] and [`Stats::upload_bytes`] count
//! multipart requests and the bytes read of them, per endpoint.
//!
//! # Video
//! Each provider's async video API, with its own paths, auth, status words, progress scale,
//! shapes and error envelope, all on one task engine (`video/`). The video-only providers
//! live under their own prefixes, whose [`SimHandle::base_url`] is the host root the
//! provider's documented paths are appended to (`http://ADDR/kling` + `/v1/videos/...`).
//!
//! | provider | create | poll | status words | result |
//! |---|---|---|---|---|
//! | Sora (`/openai`, `sk-`) | `POST /v1/videos` (JSON or multipart, `input_reference`), `POST /v1/videos/{id}/remix` | `GET /v1/videos/{id}` (+ `openai-poll-after-ms`), `GET /v1/videos?after&limit&order`, `DELETE` | `queued`, `in_progress`, `completed`, `failed`; `progress` 0-100 | `GET /v1/videos/{id}/content?variant=video\|thumbnail\|spritesheet` (auth) |
//! | Kling (`/kling`, JWT) | `POST /v1/videos/text2video` \| `image2video` | `GET /v1/videos/{route}/{id}` (the creating route only) | `submitted`, `processing`, `succeed`, `failed` | `data.task_result.videos[0].url` |
//! | Runway (`/runway`, `key_`, `X-Runway-Version: 2024-11-06`) | `POST /v1/image_to_video` \| `text_to_video` → `{id}` | `GET /v1/tasks/{id}`; `DELETE` (204: cancels a live task, deletes an ended one) | `PENDING`, `RUNNING` (`progress` 0-1), `SUCCEEDED`, `FAILED` (`failureCode`), `CANCELLED` | `output[0]` |
//! | Luma (`/luma`, `luma-`) | `POST /dream-machine/v1/generations[/video]` → 201 | `GET`/`DELETE /dream-machine/v1/generations/{id}` | `queued`, `dreaming`, `completed`, `failed` | `assets.video` (`assets.image` a JPEG) |
//! | Zhipu (`/zhipu`, `id.secret`) | `POST /api/paas/v4/videos/generations` | `GET /api/paas/v4/async-result/{id}` | `PROCESSING`, `SUCCESS`, `FAIL` | `video_result[0].url`, `.cover_image_url` |
//! | DashScope (`/dashscope`, `sk-`, `X-DashScope-Async: enable`) | `POST /api/v1/services/aigc/video-generation/video-synthesis` | `GET /api/v1/tasks/{id}` (unknown: `UNKNOWN`); `POST .../{id}/cancel` | `PENDING`, `RUNNING`, `SUCCEEDED`, `FAILED`, `CANCELED` | `output.video_url`, `usage` |
//! | Viggle v2 (`/viggle`, any 8+ chars) | `POST /api/render` (multipart or JSON; with only `model` set it is accepted: simulation shortcut) | `GET /api/render/{job_id}` (no auth); `DELETE` cancels | `queued`, `processing`, `complete`, `failed`, `cancelled`; `progress_pct` | `cdn_url` |
//! | Veo, Gemini API (`AIza`) | `POST /v1beta/models/veo-*:predictLongRunning` | `GET /v1beta/models/{veo}/operations/{op}` | `done` | `generateVideoResponse.generatedSamples[0].video.uri` → `/gemini/v1beta/files/{op}:download?alt=media` (key) |
//! | Veo, Vertex AI (`ya29.`) | `POST .../models/veo-*:predictLongRunning` | `POST .../models/{veo}:fetchPredictOperation` `{operationName}` | `done` | `videos[0].bytesBase64Encoded`, or `gcsUri` with `parameters.storageUri` |
//!
//! Kling's JWT is HS256 (`typ: JWT`, claims `iss`, `exp`, `nbf`) signed with the secret key;
//! the rule is that access key `ak-X` has secret key `sk-X`. Refusals: 401 with code 1001
//! (none), 1002 (invalid, bad signature), 1003 (`nbf` ahead), 1004 (expired), 1000 (an
//! access key not `ak-`). Models by prefix: `sora-2*`, `kling-*`, `gen4*`/`gen3a*`/`veo3*`,
//! `ray-*`, `cogvideox*`, `wan*`, `V4_Preview`/`V3_Preview`/`viggle*`, `veo-*`.
//!
//! Timings ([`VideoConfig`], `SimConfig::video`): a task is queued about `queue` (200 ms),
//! then runs about `run` (800 ms) in `steps` (4) progress steps, each jittered ±25 % from the
//! seed; running progress reads `(k+1)*100/(steps+1)` (never 0 or 100). A task's state is
//! derived from the clock since submit (no per-task timers); the book holds `capacity`
//! (100 000) tasks, evicting the oldest ended one, and refuses with the provider's 429 when
//! the oldest is still live. Ids come from the seed and creation order (same seed, same
//! ids and timings; [`SimHandle::video_timings`]). Result files are generated from the task
//! (an MP4 with `ftyp`, `moov`, `mdat`, its duration the task's seconds; a 1x1 WebP; a grey
//! JPEG), never stored; the CDN-style ones (`{prefix}/sim-files/video-{id}.mp4`, no auth)
//! answer 404 until done. Every content route answers `Range: bytes=a-b` with 206 and
//! `Content-Range` (416 past the end) and streams in 1 KiB frames, so `truncate`/`cut`
//! apply.
//!
//! Task faults, chosen at submit by the usual fault spec (header, `<<sim:...>>`, scenario,
//! mix) or by a `[sim:FAULT, ...]` marker in the prompt (any text field for Viggle):
//! `task-fail` (ends failed in the provider's shape; Veo: no videos and
//! `raiMediaFilteredCount: 1`), `task-stuck` (never leaves running), `task-expire` (results
//! answer as expired links: 403 XML for CDN links and Gemini files, 404 for Sora; Sora's
//! `expires_at` equals `completed_at`), `poll-malformed` (poll bodies cut in half: not
//! JSON), `content-cut=N` (a download aborts after N bytes), `run=DUR` (this task runs
//! exactly DUR), and for callbacks `callback-delay=DUR`, `callback-dup`, `callback-never`.
//!
//! Callbacks: a Kling or Luma create with `callback_url` gets a POST of the task as a poll
//! shows it (Kling's `data`, Luma's Generation) when it starts running and when it ends,
//! from one background sender (a bounded queue, at most 16 POSTs in flight, each under a
//! 5 s deadline; http to a loopback host only). A failed POST is dropped and counted.
//! [`Stats::video`] counts per provider tasks created, polls, content downloads and
//! callbacks sent and failed.
//!
//! # Keys
//! A key is valid when it carries the provider's prefix (and something after it):
//! OpenAI `sk-` and xAI `xai-` in `Authorization: Bearer <key>`; Anthropic `sk-ant-` in
//! `x-api-key` (or `Authorization: Bearer`, which anthropic-python 2.x sends), and Anthropic
//! also requires an `anthropic-version` header. A missing or wrong key
//! gets the provider's own rejection: OpenAI 401 `invalid_api_key`, Anthropic 401
//! `authentication_error` (a missing `anthropic-version` is 400 `invalid_request_error`),
//! xAI 400 with a string `error`.
//!
//! # Models
//! Models are accepted by prefix: OpenAI `gpt-`, `o1`, `o3`, `o4`, `text-embedding-`,
//! `chatgpt-`, `davinci`, `babbage`, `dall-e-`, `tts-`, `whisper-`, `omni-moderation`,
//! `text-moderation`; Anthropic `claude-`; xAI `grok-`. Others get 404 in the
//! provider's shape.
//!
//! # Content
//! Answers are deterministic: words from a fixed vocabulary chosen by hashing the request's
//! message text. One word is one completion token and one streamed delta. The answer has
//! `max_tokens`/`max_completion_tokens` words (capped at 4096; finish `length`/`max_tokens`)
//! or 12 words without a limit (finish `stop`/`end_turn`); a generated word equal to a stop
//! string ends it early (`stop`/`stop_sequence`). Prompt tokens are the whitespace words of
//! all message text plus 3 per message. With tools offered (and not refused) and the user
//! speaking last, the answer is one call to the chosen (or first) tool with arguments built
//! from its schema. xAI `grok-3-mini*` models add `reasoning_content`, counted in
//! `completion_tokens_details.reasoning_tokens` and (as xAI does) in `total_tokens` but not
//! in `completion_tokens`.
//!
//! # Faults
//! Every provider endpoint can misbehave, in the provider's own error shapes and headers.
//! A fault spec is `FAULT[, FAULT...]` (several combine):
//!
//! | fault | effect |
//! |---|---|
//! | `status=CODE` | the provider's error for CODE (400..=599); 429 and 503/529 carry `retry-after` (and 429 the provider's rate-limit headers at 0) |
//! | `retry-after=SECS` | the `retry-after` value of a status fault |
//! | `truncate=N` | headers promise the whole body (Content-Length; streams: chunked), the connection closes after N body bytes |
//! | `cut=N` | a stream sends N events, then the connection is aborted (no terminator, no clean end) |
//! | `stall-headers[=DUR]` | the request is read, nothing is answered; after DUR (default: never) the connection is closed |
//! | `stall-after=N` | a stream sends N events, then nothing, and stays open |
//! | `delay=DUR` | wait DUR before the response headers |
//! | `drip=MIN..MAX` | wait a seeded random time in the range before each event (`drip=DUR` for a fixed wait) |
//! | `reset` | TCP RST (SO_LINGER 0, close) instead of an answer |
//! | `blackhole` | after the request, never read or answer; the socket stays open until the client leaves |
//! | `malformed` | a JSON body cut in half (status kept), or one broken event (the 2nd) in a stream |
//! | `oversize=BYTES` | the JSON body, or the 2nd stream event, padded to BYTES with a `sim_padding` field (`64KiB`, `1MiB` accepted) |
//! | `error-event[=N]` | after N events (default 2), the provider's in-stream error event, then a clean end |
//! | `no-done` | a stream ends cleanly without its terminator (`data: [DONE]` / `message_stop`) |
//! | `stall-upload[=BYTES]` | a multipart upload is read up to BYTES (default 16 KiB), then nothing more is read from the connection and nothing answered |
//! | `stall-download[=BYTES]` | the body (JSON, stream or binary) sends BYTES (default half of it), then nothing, and stays open |
//! | `cut-before-completed` | an event stream is aborted just before its final event (`*.completed`, `*.done`; the one before `[DONE]`) |
//! | `moderation-blocked` | 400 content-policy refusal: `moderation_blocked` for GPT image models, `content_policy_violation` for others |
//! | `task-fail`, `task-stuck`, `task-expire`, `poll-malformed`, `content-cut=N`, `run=DUR`, `callback-delay=DUR`, `callback-dup`, `callback-never` | a video task's faults, chosen at its create (see Video) |
//! | `none` | no fault (for weighted choices) |
//!
//! Stream-only faults on a JSON response are ignored (and not counted). Binary bodies (speech
//! audio, image files, transcripts as text) are faulted in 8 KiB chunks: `cut`, `stall-after`,
//! `drip`, `truncate`, `no-done` apply per chunk; `malformed`, `oversize` and `error-event`
//! do not apply to them. For multipart uploads, faults are chosen from the first 16 KiB
//! (a `<<sim:...>>` directive in a text field such as `prompt`, and the `model` part for
//! scenario rules). `reset`, `blackhole`
//! and a timed `stall-headers` act on the whole connection (on h2c, on every stream of it).
//! Faults are chosen per request by, in order: the [`FAULT_HEADER`] (`x-sim-fault`) header;
//! a `<<sim:FAULT, ...>>` directive anywhere in the raw body (so faults pass through a
//! relay that forwards prompts); the first matching rule of a [`Scenario`]
//! (`SimConfig::scenario`, `--scenario FILE`, `PUT /__sim/scenario`); a seeded [`Mix`]
//! (`SimConfig::mix`, `--mix 'status=429:5%, reset:1%'`, `PUT /__sim/mix`). A bad spec in a
//! header or directive gets a 400 `sim_fault_error` naming the problem. Same seed and same
//! request order give the same faults.
//!
//! # Connections
//! [`Stats::connections_open`] counts TCP connections from accept until the simulator's
//! side is closed. A client leaving (even mid-stream or mid-stall) is noticed at once
//! (hyper sees EOF), so the gauge falls within milliseconds; read it with a short poll.

mod anthropic;
mod app;
mod config;
mod dialect;
mod errors;
mod faults;
mod gemini;
mod gen;
mod handle;
mod headers;
mod http;
mod openai;
mod provider;
mod server;
mod state;
mod stats;
mod vertex;
mod video;

pub use config::{GoogleOAuthConfig, ServiceAccountKey, SimConfig, VideoConfig};
pub use dialect::Dialect;
pub use faults::mix::Mix;
pub use faults::scenario::{Scenario, ScenarioError};
pub use faults::select::FAULT_HEADER;
pub use faults::spec::{Fault, FaultError, FaultSet};
pub use handle::SimHandle;
pub use provider::Provider;
pub use stats::{Stats, VideoStats};
pub use vertex::account::TestServiceAccount;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::state::Shared;

/// Binds `config.listen` and serves in the background until the handle is shut down or dropped.
pub async fn start(config: SimConfig) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared::new(
        config.seed,
        config.scenario,
        config.mix,
        config.google_oauth,
        config.video,
        addr,
    ));
    let app = app::router(shared.clone());
    let cancel = CancellationToken::new();
    let mut server = JoinSet::new();
    if let Some(rx) = shared.video.take_receiver() {
        server.spawn(video::callback::run(shared.clone(), rx, cancel.clone()));
    }
    server.spawn(server::run(
        listener,
        app,
        shared.stats.clone(),
        cancel.clone(),
    ));
    Ok(SimHandle {
        addr,
        shared,
        _stop_on_drop: cancel.clone().drop_guard(),
        cancel,
        server,
    })
}
