//! A Gemini client's `contents` (and `systemInstruction`) read into neutral turns, with every
//! `functionCall` given an id and every `functionResponse` the id of the call it answers.
//!
//! Owns: the part rules (text, images inline or by URL, function calls and responses; thought
//! parts of earlier answers dropped) and the id matching: a call keeps Gemini's `id`, else
//! gets `call_<turn>_<n>`; a response with an `id` keeps it, else takes the first unanswered
//! call of its name. Must never: accept a part it cannot express upstream (a 400 naming it).

use serde_json::{Map, Value};

use super::fields::get;
use crate::bridges::common::json::{arr, obj};
use crate::bridges::common::Side;
use crate::wire::ConvertError;

const REQ: Side = Side::Request;

/// Who speaks a turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    User,
    Model,
}

/// One piece of a turn.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Item {
    Text(String),
    /// Base64 image bytes with their media type.
    Image {
        mime: String,
        data: String,
    },
    /// An image by http(s) URL.
    ImageUrl(String),
    /// A function call (model turns), `args` an object.
    Call {
        id: String,
        name: String,
        args: Value,
    },
    /// A function's result (user turns): `response` as the client gave it.
    Result {
        id: String,
        name: String,
        response: Value,
    },
}

/// Consecutive contents of one role, merged; never empty.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Turn {
    pub role: Role,
    pub items: Vec<Item>,
}

/// The text of `systemInstruction` (a `Content`, or a plain string), parts joined by a line.
pub(crate) fn system_text(v: Option<&Value>) -> Result<String, ConvertError> {
    let parts = match v {
        None => return Ok(String::new()),
        Some(Value::String(s)) => return Ok(s.clone()),
        Some(c) => match get(obj(c, "systemInstruction", REQ)?, "parts") {
            None => return Ok(String::new()),
            Some(p) => arr(p, "systemInstruction.parts", REQ)?,
        },
    };
    let mut texts = Vec::with_capacity(parts.len());
    for p in parts {
        match get(obj(p, "systemInstruction.parts[]", REQ)?, "text") {
            Some(Value::String(t)) if !t.is_empty() => texts.push(t.as_str()),
            Some(Value::String(_)) => {}
            _ => return Err(REQ.err("systemInstruction parts must be text")),
        }
    }
    Ok(texts.join("\n"))
}

/// `contents` as turns that alternate, empty contents left out.
pub(crate) fn turns(contents: &[Value]) -> Result<Vec<Turn>, ConvertError> {
    let mut ids = Ids::default();
    let mut out: Vec<Turn> = Vec::with_capacity(contents.len());
    for (turn, c) in contents.iter().enumerate() {
        let c = obj(c, "contents[]", REQ)?;
        let role = match c.get("role").and_then(Value::as_str) {
            None | Some("" | "user" | "function") => Role::User,
            Some("model") => Role::Model,
            Some(other) => {
                return Err(REQ.err(format!(
                    "contents[].role must be user or model, not {other}"
                )))
            }
        };
        let parts = match get(c, "parts") {
            None => &Vec::new(),
            Some(p) => arr(p, "contents[].parts", REQ)?,
        };
        let mut items = Vec::with_capacity(parts.len());
        let mut n = 0;
        for p in parts {
            if let Some(item) = part(
                obj(p, "contents[].parts[]", REQ)?,
                role,
                turn,
                &mut n,
                &mut ids,
            )? {
                items.push(item);
            }
        }
        if items.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(t) if t.role == role => t.items.extend(items),
            _ => out.push(Turn { role, items }),
        }
    }
    Ok(out)
}

/// The calls not answered yet, in order: (id, name).
#[derive(Default)]
struct Ids {
    open: Vec<(String, String)>,
}

fn part(
    p: &Map<String, Value>,
    role: Role,
    turn: usize,
    n: &mut usize,
    ids: &mut Ids,
) -> Result<Option<Item>, ConvertError> {
    if p.get("thought").and_then(Value::as_bool) == Some(true) {
        // Thinking of an earlier answer: no upstream takes it back without its signature.
        return Ok(None);
    }
    if let Some(t) = get(p, "text") {
        let t = t
            .as_str()
            .ok_or_else(|| REQ.err("contents[].parts[].text must be a string"))?;
        return Ok((!t.is_empty()).then(|| Item::Text(t.to_owned())));
    }
    if let Some(d) = get(p, "inlineData") {
        let d = obj(d, "inlineData", REQ)?;
        let mime = str_field(d, "mimeType", "inlineData")?;
        let data = str_field(d, "data", "inlineData")?;
        if !mime.starts_with("image/") {
            return Err(REQ.err(format!(
                "inlineData of type {mime} is not supported by this model (images only)"
            )));
        }
        no_model_media(role)?;
        return Ok(Some(Item::Image {
            mime: mime.to_owned(),
            data: data.to_owned(),
        }));
    }
    if let Some(d) = get(p, "fileData") {
        let d = obj(d, "fileData", REQ)?;
        let uri = str_field(d, "fileUri", "fileData")?;
        let mime = get(d, "mimeType").and_then(Value::as_str).unwrap_or("");
        let lower = uri.get(..8).unwrap_or(uri).to_ascii_lowercase();
        let web = lower.starts_with("https://") || lower.starts_with("http://");
        if !mime.starts_with("image/") || !web {
            return Err(REQ.err(format!(
                "fileData of type {mime:?} at {:?} is not supported by this model (images by http(s) URL only)",
                uri.chars().take(80).collect::<String>()
            )));
        }
        no_model_media(role)?;
        return Ok(Some(Item::ImageUrl(uri.to_owned())));
    }
    if let Some(c) = get(p, "functionCall") {
        if role != Role::Model {
            return Err(REQ.err("functionCall parts belong in model turns"));
        }
        let c = obj(c, "functionCall", REQ)?;
        let name = str_field(c, "name", "functionCall")?.to_owned();
        let args = match get(c, "args") {
            None => Value::Object(Map::new()),
            Some(a @ Value::Object(_)) => a.clone(),
            Some(_) => return Err(REQ.err("functionCall.args must be an object")),
        };
        let id = match get(c, "id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => format!("call_{turn}_{n}"),
        };
        *n += 1;
        ids.open.push((id.clone(), name.clone()));
        return Ok(Some(Item::Call { id, name, args }));
    }
    if let Some(r) = get(p, "functionResponse") {
        if role != Role::User {
            return Err(REQ.err("functionResponse parts belong in user turns"));
        }
        let r = obj(r, "functionResponse", REQ)?;
        let name = str_field(r, "name", "functionResponse")?.to_owned();
        if get(r, "parts")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
        {
            return Err(REQ.err("functionResponse.parts is not supported by this model"));
        }
        let given = get(r, "id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty());
        let at = match given {
            Some(id) => ids.open.iter().position(|(i, _)| i == id),
            None => ids.open.iter().position(|(_, n)| *n == name),
        };
        let id = match (at, given) {
            (Some(i), _) => ids.open.remove(i).0,
            (None, Some(id)) => id.to_owned(),
            (None, None) => {
                return Err(REQ.err(format!(
                    "functionResponse {name} answers no earlier functionCall of that name"
                )))
            }
        };
        let response = get(r, "response")
            .cloned()
            .unwrap_or(Value::Object(Map::new()));
        return Ok(Some(Item::Result { id, name, response }));
    }
    for other in [
        "executableCode",
        "codeExecutionResult",
        "toolCall",
        "toolResponse",
    ] {
        if get(p, other).is_some() {
            return Err(REQ.err(format!("{other} parts are not supported by this model")));
        }
    }
    if get(p, "thoughtSignature").is_some() || get(p, "videoMetadata").is_some() {
        return Ok(None);
    }
    Err(REQ.err("a part needs text, inlineData, fileData, functionCall or functionResponse"))
}

fn no_model_media(role: Role) -> Result<(), ConvertError> {
    match role {
        Role::User => Ok(()),
        Role::Model => Err(REQ.err("images in model turns are not supported by this model")),
    }
}

fn str_field<'a>(
    o: &'a Map<String, Value>,
    key: &str,
    what: &str,
) -> Result<&'a str, ConvertError> {
    get(o, key)
        .and_then(Value::as_str)
        .ok_or_else(|| REQ.err(format!("{what}.{key} must be a string")))
}

#[cfg(test)]
mod tests;
