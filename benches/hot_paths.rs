//! Criterion micro-benchmarks of the relay's hot paths: SSE parsing and re-encoding, an ordinary
//! chunk through the same-format pass-through, OpenAI <-> Anthropic conversion of requests,
//! responses and stream events, and channel choice.
//!
//! Run: `cargo bench --bench hot_paths`. Results are per-operation times on this machine;
//! compare runs on one machine only.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;
use sluice::bridges::{
    chat_request_to_messages, chat_response_to_messages, messages_response_to_chat,
    ChatToMessagesStream, MessagesToChatStream,
};
use sluice::config::ProviderKind;
use sluice::providers::{provider_for, PassOptions};
use sluice::routing::{Pick, Routes};
use sluice::stream::sse::{encode, SseEvent, SseParser};
use sluice::wire::Endpoint;
use std::hint::black_box;

fn openai_stream(chunks: usize) -> Vec<u8> {
    let mut text = Vec::new();
    for i in 0..chunks {
        let data = json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini",
            "choices":[{"index":0,"delta":{"content":format!("word{i} ")},"finish_reason":null}]});
        text.extend_from_slice(&encode(None, &data.to_string()));
    }
    text.extend_from_slice(b"data: [DONE]\n\n");
    text
}

fn anthropic_events(deltas: usize) -> Vec<(Option<&'static str>, String)> {
    let mut v = vec![
        (Some("message_start"), json!({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}}).to_string()),
        (Some("content_block_start"), json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}).to_string()),
    ];
    for i in 0..deltas {
        v.push((Some("content_block_delta"), json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":format!("word{i} ")}}).to_string()));
    }
    v.push((
        Some("content_block_stop"),
        json!({"type":"content_block_stop","index":0}).to_string(),
    ));
    v.push((Some("message_delta"), json!({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":20}}).to_string()));
    v.push((
        Some("message_stop"),
        json!({"type":"message_stop"}).to_string(),
    ));
    v
}

fn sse(c: &mut Criterion) {
    let text = openai_stream(20);
    let mut g = c.benchmark_group("sse");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("parse_20_chunk_stream_in_512b_reads", |b| {
        b.iter(|| {
            let mut p = SseParser::new(1 << 20);
            let mut out = Vec::new();
            for chunk in text.chunks(512) {
                p.push(black_box(chunk), &mut out).ok();
            }
            p.finish(&mut out);
            black_box(out.len())
        })
    });
    g.bench_function("encode_event", |b| {
        b.iter(|| {
            black_box(encode(
                None,
                black_box("{\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}"),
            ))
        })
    });
    g.finish();
}

/// An ordinary chunk through the same-format pass-through: scanned, never parsed.
fn passthrough(c: &mut Criterion) {
    let chunk = SseEvent {
        event: None,
        data: json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini",
            "choices":[{"index":0,"delta":{"content":"word "},"finish_reason":null}]})
        .to_string(),
    };
    let mut g = c.benchmark_group("stream");
    for (name, renamed) in [
        ("pass_ordinary_chunk", None),
        ("pass_ordinary_chunk_renamed", Some("alias")),
    ] {
        g.bench_function(name, |b| {
            let mut t = provider_for(ProviderKind::Openai).pass_stream(PassOptions {
                strip_usage: true,
                client_model: renamed.map(str::to_owned),
                ..PassOptions::default()
            });
            let mut out = Vec::new();
            b.iter(|| {
                t.on_event(black_box(&chunk), &mut out).ok();
                black_box(out.len());
                out.clear();
            })
        });
    }
    g.finish();
}

fn conversion(c: &mut Criterion) {
    let req = json!({"model":"claude","max_tokens":256,"messages":[
        {"role":"system","content":"Be brief."},
        {"role":"user","content":"What is the weather in Paris?"}],
        "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]});
    let events = anthropic_events(20);
    let mut g = c.benchmark_group("convert");
    g.bench_function("chat_request_to_messages", |b| {
        b.iter(|| black_box(chat_request_to_messages(black_box(&req), "claude-real").ok()))
    });
    g.bench_function("anthropic_stream_to_chat_20_deltas", |b| {
        b.iter(|| {
            let mut s = MessagesToChatStream::new("claude", true);
            let mut n = 0;
            for (e, d) in &events {
                n += s.push(*e, d).map(|v| v.len()).unwrap_or(0);
            }
            black_box(n)
        })
    });
    g.finish();
}

fn responses(c: &mut Criterion) {
    let anthropic = json!({"id":"msg_1","type":"message","role":"assistant","model":"claude",
        "content":[{"type":"text","text":"Hello there, this is a short answer."},
                   {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}],
        "stop_reason":"tool_use","stop_sequence":null,
        "usage":{"input_tokens":12,"output_tokens":20,"cache_read_input_tokens":0,"cache_creation_input_tokens":0}});
    let openai = json!({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini",
        "choices":[{"index":0,"message":{"role":"assistant","content":"Hello there, this is a short answer.",
            "tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
            "finish_reason":"tool_calls"}],
        "usage":{"prompt_tokens":12,"completion_tokens":20,"total_tokens":32}});
    let chunks: Vec<String> = (0..20)
        .map(|i| json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini",
            "choices":[{"index":0,"delta":{"content":format!("word{i} ")},"finish_reason":null}]}).to_string())
        .collect();
    let mut g = c.benchmark_group("convert");
    g.bench_function("messages_response_to_chat", |b| {
        b.iter(|| black_box(messages_response_to_chat(black_box(&anthropic), "claude").ok()))
    });
    g.bench_function("chat_response_to_messages", |b| {
        b.iter(|| black_box(chat_response_to_messages(black_box(&openai), "gpt-4o-mini").ok()))
    });
    g.bench_function("openai_stream_to_messages_20_chunks", |b| {
        b.iter(|| {
            let mut s = ChatToMessagesStream::new("gpt-4o-mini");
            let mut n = 0;
            for d in &chunks {
                n += s.push(None, d).map(|v| v.len()).unwrap_or(0);
            }
            n += s.push(None, "[DONE]").map(|v| v.len()).unwrap_or(0);
            black_box(n)
        })
    });
    g.finish();
}

fn channel_choice(c: &mut Criterion) {
    let mut text = String::new();
    for i in 0..8 {
        let priority = if i < 4 { 1 } else { 0 };
        text.push_str(&format!(
            "[[channels]]\nname = \"c{i}\"\nprovider = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n\
             keys = [\"sk-a{i}\", \"sk-b{i}\"]\nmodels = [\"gpt-4o-mini\"]\npriority = {priority}\nweight = {w}\n",
            w = i + 1
        ));
    }
    text.push_str("[[tokens]]\nkey = \"sk-client\"\n");
    let Ok(config) = sluice::Config::parse(&text) else {
        return;
    };
    let Ok(routes) = Routes::new(&config) else {
        return;
    };
    c.bench_function("routing/select_among_8_channels_2_tiers", |b| {
        b.iter(|| {
            let now = tokio::time::Instant::now();
            match routes.select(black_box("gpt-4o-mini"), Endpoint::Chat, &[], now) {
                Ok(Pick::Go(s)) => black_box(s.channel().name.len()),
                _ => 0,
            }
        })
    });
}

criterion_group!(
    benches,
    sse,
    passthrough,
    conversion,
    responses,
    channel_choice
);
criterion_main!(benches);
