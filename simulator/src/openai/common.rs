//! Checks shared by the OpenAI-shaped endpoints: bearer key, JSON body, model, stop list.
//! Owns request validation wording; must never build answers.

use http::header::AUTHORIZATION;
use http::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::errors::ApiError;
use crate::Provider;

/// Checks `Authorization: Bearer <key>` against the provider's key prefix.
pub(crate) fn check_auth(provider: Provider, headers: &HeaderMap) -> Result<(), ApiError> {
    let key = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match key {
        None | Some("") => Err(ApiError::bad_key(
            provider,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )),
        Some(k) if !provider.accepts_key(k) => Err(ApiError::bad_key(
            provider,
            format!("Incorrect API key provided: {}.", mask(k)),
        )),
        Some(_) => Ok(()),
    }
}

/// A key shown as providers show it: a few characters, stars, the last two.
pub(crate) fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 6 {
        return "***".to_owned();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}***{tail}")
}

/// Parses a JSON request body.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(format!(
            "We could not parse the JSON body of your request. ({e})"
        ))
    })
}

/// The request's model, which must be present and known to the provider.
pub(crate) fn model(provider: Provider, model: Option<String>) -> Result<String, ApiError> {
    let model = model
        .filter(|m| !m.is_empty())
        .ok_or_else(|| missing("model"))?;
    if provider.knows_model(&model) {
        Ok(model)
    } else {
        Err(ApiError::unknown_model(provider, &model))
    }
}

/// 400 for a missing required parameter.
pub(crate) fn missing(param: &'static str) -> ApiError {
    let mut e = ApiError::invalid(format!("Missing required parameter: '{param}'."));
    e.param = Some(param);
    e
}

/// A token limit, which must be at least 1 when given.
pub(crate) fn limit(value: Option<u64>, param: &'static str) -> Result<Option<u64>, ApiError> {
    match value {
        Some(0) => {
            let mut e = ApiError::invalid(format!("Invalid '{param}': must be at least 1."));
            e.param = Some(param);
            Err(e)
        }
        v => Ok(v),
    }
}

/// `stop`: a string or an array of strings.
pub(crate) fn stops(stop: Option<&Value>) -> Vec<String> {
    match stop {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// `n`, between 1 and 128.
pub(crate) fn choices(n: Option<u64>) -> Result<u64, ApiError> {
    match n.unwrap_or(1) {
        n @ 1..=128 => Ok(n),
        _ => {
            let mut e = ApiError::invalid("Invalid 'n': must be between 1 and 128.");
            e.param = Some("n");
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_rules() {
        let mut h = HeaderMap::new();
        assert_eq!(
            check_auth(Provider::OpenAi, &h).map_err(|e| e.status.as_u16()),
            Err(401)
        );
        h.insert(AUTHORIZATION, "Bearer sk-good".parse().unwrap());
        assert!(check_auth(Provider::OpenAi, &h).is_ok());
        assert_eq!(
            check_auth(Provider::Xai, &h).map_err(|e| e.status.as_u16()),
            Err(400)
        );
        assert_eq!(mask("sk-abcdefgh"), "sk-***gh");
    }
}
