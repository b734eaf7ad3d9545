//! Reading Google request JSON the way Google's proto parser does: a field by its JSON
//! name (lowerCamel) or its proto name (snake_case), unknown names refused, values of the
//! wrong type reported with their path.
//! Owns those parsing rules and their error wording; must never decide an answer.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::errors::ApiError;

/// 400 `INVALID_ARGUMENT` with `message`.
pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::invalid(message)
}

/// The proto (snake_case) name of a lowerCamel JSON name.
pub(crate) fn snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A field by its JSON name or its proto name.
pub(crate) fn get<'a>(obj: &'a Map<String, Value>, camel: &str) -> Option<&'a Value> {
    obj.get(camel).or_else(|| obj.get(&snake(camel)))
}

/// Refuses a member of `obj` whose name is not in `known` (JSON names; their proto names
/// are accepted too), as Google does; `at` names where `obj` sits (`generation_config`).
pub(crate) fn check_names(
    obj: &Map<String, Value>,
    known: &[&str],
    at: Option<&str>,
) -> Result<(), ApiError> {
    let unknown = obj
        .keys()
        .find(|k| !known.iter().any(|n| n == k || snake(n) == **k));
    match (unknown, at) {
        (None, _) => Ok(()),
        (Some(name), None) => Err(invalid(format!(
            "Invalid JSON payload received. Unknown name \"{name}\": Cannot find field."
        ))),
        (Some(name), Some(at)) => Err(invalid(format!(
            "Invalid JSON payload received. Unknown name \"{name}\" at '{at}': Cannot find field."
        ))),
    }
}

/// 400 for a value of the wrong type at `at` (a proto message or scalar type name).
pub(crate) fn invalid_value(at: &str, ty: &str, value: &Value) -> ApiError {
    let ty = if ty.starts_with("TYPE_") {
        ty.to_owned()
    } else {
        format!("type.googleapis.com/google.ai.generativelanguage.v1beta.{ty}")
    };
    invalid(format!(
        "Invalid value at '{at}' ({ty}), {}",
        truncate(&value.to_string())
    ))
}

/// A typed view of `value` (read with serde, whose aliases take the proto names); a
/// mismatch is reported as Google's parser reports it.
pub(crate) fn typed<T: DeserializeOwned>(value: &Value, at: &str) -> Result<T, ApiError> {
    T::deserialize(value).map_err(|e| {
        invalid(format!(
            "Invalid JSON payload received. Invalid value at '{at}': {}",
            truncate(&e.to_string())
        ))
    })
}

/// The request body as a JSON object.
pub(crate) fn body_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        invalid(format!(
            "Invalid JSON payload received. {}",
            truncate(&e.to_string())
        ))
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(invalid(format!(
            "Invalid JSON payload received. Expected an object, got {}",
            truncate(&other.to_string())
        ))),
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names() {
        assert_eq!(snake("systemInstruction"), "system_instruction");
        let obj = json!({"system_instruction": 1, "contents": []});
        let obj = obj.as_object().unwrap();
        assert_eq!(get(obj, "systemInstruction"), Some(&json!(1)));
        assert!(check_names(obj, &["contents", "systemInstruction"], None).is_ok());
        let e = check_names(obj, &["contents"], Some("generation_config")).unwrap_err();
        assert_eq!(
            e.message,
            "Invalid JSON payload received. Unknown name \"system_instruction\" at 'generation_config': Cannot find field."
        );
        assert!(body_object(b"[1]").is_err());
        assert!(body_object(b"{").is_err());
    }
}
