//! Google's request paths: API versions, `models/{model}:{method}` segments, and how a path
//! is named in stats and scenario rules.
//! Owns path words of the Gemini API and Vertex AI; must never read bodies.

use crate::errors::ApiError;
use crate::Provider;

/// A method called on a model (`models/{model}:{method}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Generate,
    Stream,
    CountTokens,
    Embed,
    BatchEmbed,
    /// Vertex AI's `:predict`, which its older text-embedding models answer.
    Predict,
}

impl Method {
    /// The method named after the colon, as `provider` serves it.
    pub(crate) fn parse(provider: Provider, name: &str) -> Option<Method> {
        Some(match name {
            "generateContent" => Method::Generate,
            "streamGenerateContent" => Method::Stream,
            "countTokens" => Method::CountTokens,
            "embedContent" => Method::Embed,
            "batchEmbedContents" => Method::BatchEmbed,
            "predict" if provider == Provider::Vertex => Method::Predict,
            _ => return None,
        })
    }

    /// The method's name in paths and error messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Method::Generate => "generateContent",
            Method::Stream => "streamGenerateContent",
            Method::CountTokens => "countTokens",
            Method::Embed => "embedContent",
            Method::BatchEmbed => "batchEmbedContents",
            Method::Predict => "predict",
        }
    }
}

/// The API versions `provider` serves.
pub(crate) fn versions(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::Vertex => &["v1", "v1beta1"],
        Provider::Gemini => &["v1", "v1beta", "v1alpha"],
        Provider::OpenAi
        | Provider::Anthropic
        | Provider::Xai
        | Provider::GoogleOAuth
        | Provider::Kling
        | Provider::Runway
        | Provider::Luma
        | Provider::Zhipu
        | Provider::Dashscope
        | Provider::Viggle => &[],
    }
}

/// A 404 for a path Google does not serve.
pub(crate) fn no_such_path(path: &str) -> ApiError {
    ApiError::new(
        http::StatusCode::NOT_FOUND,
        crate::errors::ErrorKind::NotFound,
        format!("The requested URL {path} was not found on this server."),
    )
}

/// Checks the version segment.
pub(crate) fn check_version(provider: Provider, version: &str, path: &str) -> Result<(), ApiError> {
    if versions(provider).contains(&version) {
        Ok(())
    } else {
        Err(no_such_path(path))
    }
}

/// Splits `{model}:{method}` into the model and its method.
pub(crate) fn model_method(
    provider: Provider,
    segment: &str,
    path: &str,
) -> Result<(String, Method), ApiError> {
    segment
        .rsplit_once(':')
        .and_then(|(model, method)| Some((model.to_owned(), Method::parse(provider, method)?)))
        .filter(|(model, _)| !model.is_empty())
        .ok_or_else(|| no_such_path(path))
}

/// The stats/scenario name of a path, with the model (and Vertex's project and location) as
/// placeholders, and the model it names:
/// `/v1beta/models/gemini-2.5-flash:generateContent` is
/// `/v1beta/models/{model}:generateContent` for model `gemini-2.5-flash`.
pub(crate) fn label(path: &str) -> (String, Option<String>) {
    let mut model = None;
    let mut out = Vec::new();
    let mut after = "";
    for segment in path.split('/') {
        let placeholder = match after {
            "models" => Some("{model}"),
            "projects" => Some("{project}"),
            "locations" => Some("{location}"),
            "operations" => Some("{operation}"),
            "files" => Some("{file}"),
            _ => None,
        };
        match placeholder {
            Some(p) => {
                let (name, method) = match segment.split_once(':') {
                    Some((name, method)) => (name, Some(method)),
                    None => (segment, None),
                };
                if p == "{model}" {
                    model = Some(name.to_owned());
                }
                out.push(match method {
                    Some(m) => format!("{p}:{m}"),
                    None => p.to_owned(),
                });
            }
            None => out.push(segment.to_owned()),
        }
        after = segment;
    }
    (out.join("/"), model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(
            label("/v1beta/models/gemini-2.5-flash:streamGenerateContent"),
            (
                "/v1beta/models/{model}:streamGenerateContent".to_owned(),
                Some("gemini-2.5-flash".to_owned())
            )
        );
        assert_eq!(label("/v1/models"), ("/v1/models".to_owned(), None));
        assert_eq!(
            label("/v1beta/models/veo-3.0-generate-001/operations/abc123").0,
            "/v1beta/models/{model}/operations/{operation}"
        );
        assert_eq!(
            label("/v1beta/files/abc123:download").0,
            "/v1beta/files/{file}:download"
        );
        assert_eq!(
            label("/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent").0,
            "/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent"
        );
    }

    #[test]
    fn methods() {
        let p = "/x";
        assert_eq!(
            model_method(Provider::Gemini, "gemini-2.0-flash:countTokens", p).unwrap(),
            ("gemini-2.0-flash".to_owned(), Method::CountTokens)
        );
        assert!(model_method(Provider::Gemini, "m:predict", p).is_err());
        assert!(model_method(Provider::Vertex, "m:predict", p).is_ok());
        assert!(model_method(Provider::Gemini, ":generateContent", p).is_err());
        assert!(check_version(Provider::Vertex, "v1beta1", p).is_ok());
        assert!(check_version(Provider::Gemini, "v1beta1", p).is_err());
    }
}
