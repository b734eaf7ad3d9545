//! Unit tests of reading `contents`: parts, role merging and function-call id matching.

use serde_json::json;

use super::*;

fn read(contents: Value) -> Result<Vec<Turn>, ConvertError> {
    turns(contents.as_array().expect("an array"))
}

fn err(contents: Value) -> String {
    match read(contents) {
        Err(ConvertError::InvalidRequest(m)) => m,
        other => panic!("expected a 400, got {other:?}"),
    }
}

#[test]
fn multi_turn_calls_get_ids_and_responses_are_matched_by_name() {
    let t = read(json!([
        {"role":"user","parts":[{"text":"Weather in Paris and Rome?"}]},
        {"role":"model","parts":[{"thought":true,"text":"plan"},
            {"functionCall":{"name":"get_weather","args":{"city":"Paris"}}},
            {"functionCall":{"name":"get_weather","args":{"city":"Rome"}}},
            {"functionCall":{"id":"given-1","name":"get_time"}}]},
        {"role":"user","parts":[
            {"functionResponse":{"name":"get_time","response":{"t":"12:00"}}},
            {"functionResponse":{"name":"get_weather","response":{"output":"sunny"}}},
            {"function_response":{"name":"get_weather","response":{"output":"rain"}}}]},
        {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Oslo"}}}]},
        {"role":"user","parts":[{"functionResponse":{"id":"call_3_0","name":"get_weather","response":{}}}]}
    ]))
    .unwrap();
    assert_eq!(t.len(), 5);
    let ids = |turn: &Turn| -> Vec<String> {
        turn.items
            .iter()
            .filter_map(|i| match i {
                Item::Call { id, .. } | Item::Result { id, .. } => Some(id.clone()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(ids(&t[1]), ["call_1_0", "call_1_1", "given-1"]);
    assert_eq!(ids(&t[2]), ["given-1", "call_1_0", "call_1_1"]);
    assert_eq!(ids(&t[3]), ["call_3_0"]);
    assert_eq!(ids(&t[4]), ["call_3_0"]);
    assert_eq!(
        t[1].items[0],
        Item::Call {
            id: "call_1_0".into(),
            name: "get_weather".into(),
            args: json!({"city":"Paris"})
        },
        "the thought part is dropped"
    );
    assert_eq!(
        t[2].items[1],
        Item::Result {
            id: "call_1_0".into(),
            name: "get_weather".into(),
            response: json!({"output":"sunny"})
        }
    );
}

#[test]
fn images_texts_roles_and_merging() {
    let t = read(json!([
        {"parts":[{"text":"a"},{"inline_data":{"mime_type":"image/png","data":"iVBO"}}]},
        {"role":"user","parts":[{"fileData":{"mimeType":"image/jpeg","fileUri":"https://x.test/a.jpg"}},
            {"text":""}]},
        {"role":"model","parts":[]},
        {"role":"user","parts":[{"text":"b"}]},
        {"role":"model","parts":[{"text":"c"}]},
        {"role":"model","parts":[{"text":"d"},{"thoughtSignature":"sig"}]}
    ]))
    .unwrap();
    assert_eq!(
        t,
        vec![
            Turn {
                role: Role::User,
                items: vec![
                    Item::Text("a".into()),
                    Item::Image {
                        mime: "image/png".into(),
                        data: "iVBO".into()
                    },
                    Item::ImageUrl("https://x.test/a.jpg".into()),
                    Item::Text("b".into()),
                ]
            },
            Turn {
                role: Role::Model,
                items: vec![Item::Text("c".into()), Item::Text("d".into())]
            },
        ]
    );
}

#[test]
fn system_instruction_forms() {
    assert_eq!(
        system_text(Some(
            &json!({"parts":[{"text":"a"},{"text":""},{"text":"b"}]})
        ))
        .unwrap(),
        "a\nb"
    );
    assert_eq!(system_text(Some(&json!("plain"))).unwrap(), "plain");
    assert_eq!(system_text(Some(&json!({"role":"system"}))).unwrap(), "");
    assert_eq!(system_text(None).unwrap(), "");
    assert!(system_text(Some(&json!({"parts":[{"inlineData":{}}]}))).is_err());
    assert!(system_text(Some(&json!(3))).is_err());
}

#[test]
fn malformed_or_inexpressible_contents_are_the_clients() {
    for (contents, word) in [
        (json!([3]), "contents[]"),
        (
            json!([{"role":"assistant","parts":[{"text":"x"}]}]),
            "assistant",
        ),
        (json!([{"parts":{}}]), "parts"),
        (json!([{"parts":[7]}]), "parts[]"),
        (json!([{"parts":[{"text":5}]}]), "text"),
        (
            json!([{"parts":[{"inlineData":{"mimeType":"audio/wav","data":"AAAA"}}]}]),
            "audio/wav",
        ),
        (
            json!([{"parts":[{"inlineData":{"mimeType":"application/pdf","data":"AAAA"}}]}]),
            "application/pdf",
        ),
        (
            json!([{"parts":[{"inlineData":{"data":"AAAA"}}]}]),
            "mimeType",
        ),
        (
            json!([{"parts":[{"fileData":{"mimeType":"image/png","fileUri":"gs://b/a.png"}}]}]),
            "fileData",
        ),
        (
            json!([{"parts":[{"fileData":{"mimeType":"video/mp4","fileUri":"https://x.test/v"}}]}]),
            "video/mp4",
        ),
        (
            json!([{"role":"model","parts":[{"inlineData":{"mimeType":"image/png","data":"AA"}}]}]),
            "model turns",
        ),
        (
            json!([{"parts":[{"functionCall":{"name":"f"}}]}]),
            "model turns",
        ),
        (
            json!([{"role":"model","parts":[{"functionCall":{"args":{}}}]}]),
            "name",
        ),
        (
            json!([{"role":"model","parts":[{"functionCall":{"name":"f","args":[1]}}]}]),
            "args",
        ),
        (
            json!([{"role":"model","parts":[{"functionResponse":{"name":"f"}}]}]),
            "user turns",
        ),
        (
            json!([{"parts":[{"functionResponse":{"name":"f","response":{}}}]}]),
            "no earlier",
        ),
        (
            json!([{"parts":[{"functionResponse":{"response":{}}}]}]),
            "name",
        ),
        (
            json!([{"role":"model","parts":[{"functionCall":{"name":"f"}}]},
            {"parts":[{"functionResponse":{"name":"f","parts":[{"inlineData":{}}]}}]}]),
            "parts",
        ),
        (
            json!([{"parts":[{"executableCode":{"code":"1"}}]}]),
            "executableCode",
        ),
        (json!([{"parts":[{}]}]), "a part needs"),
    ] {
        let e = err(contents.clone());
        assert!(e.contains(word), "{contents}: {e}");
    }
}
