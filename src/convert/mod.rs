//! TEMPORARY stub with the agreed API; replaced by the real conversions when merged.
#![allow(dead_code, unused_variables)]
use serde_json::Value;
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidUpstream(String),
}
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_creation_tokens: u64,
}
pub struct SseOut {
    pub event: Option<&'static str>,
    pub data: String,
}
fn no<T>() -> Result<T, ConvertError> {
    Err(ConvertError::InvalidRequest("stub".into()))
}
pub fn chat_request_to_messages(req: &Value, m: &str) -> Result<Value, ConvertError> {
    no()
}
pub fn messages_request_to_chat(req: &Value, m: &str) -> Result<Value, ConvertError> {
    no()
}
pub fn messages_response_to_chat(r: &Value, m: &str) -> Result<(Value, Usage), ConvertError> {
    no()
}
pub fn chat_response_to_messages(r: &Value, m: &str) -> Result<(Value, Usage), ConvertError> {
    no()
}
pub fn usage_from_chat(r: &Value) -> Option<Usage> {
    None
}
pub fn usage_from_messages(r: &Value) -> Option<Usage> {
    None
}
pub fn anthropic_error_to_openai(s: u16, b: &[u8]) -> Value {
    Value::Null
}
pub fn openai_error_to_anthropic(s: u16, b: &[u8]) -> Value {
    Value::Null
}
pub struct MessagesToChatStream;
impl MessagesToChatStream {
    pub fn new(m: &str, u: bool) -> Self {
        Self
    }
    pub fn push(&mut self, e: Option<&str>, d: &str) -> Result<Vec<SseOut>, ConvertError> {
        no()
    }
    pub fn finish(&mut self) -> Result<Vec<SseOut>, ConvertError> {
        no()
    }
    pub fn usage(&self) -> Option<Usage> {
        None
    }
}
pub struct ChatToMessagesStream;
impl ChatToMessagesStream {
    pub fn new(m: &str) -> Self {
        Self
    }
    pub fn push(&mut self, e: Option<&str>, d: &str) -> Result<Vec<SseOut>, ConvertError> {
        no()
    }
    pub fn finish(&mut self) -> Result<Vec<SseOut>, ConvertError> {
        no()
    }
    pub fn usage(&self) -> Option<Usage> {
        None
    }
}
