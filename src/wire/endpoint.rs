//! The relayed endpoints, the format their clients speak, and the endpoint families that label
//! in-flight counts.
//!
//! Owns: [`Endpoint`] and [`Family`], whose complete list (`ALL`) labels in-flight counts, so a
//! label set built from it holds every family. Must never: count an endpoint under a family by
//! default (every match here names each endpoint).

use super::WireFormat;

/// What a client called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Chat,
    Completions,
    Embeddings,
    Messages,
    /// Gemini's `models/{model}:generateContent` (and `:streamGenerateContent`).
    GenerateContent,
    /// Gemini's `models/{model}:countTokens`.
    CountTokens,
    /// Gemini's `models/{model}:embedContent`.
    EmbedContent,
    /// Gemini's `models/{model}:batchEmbedContents`.
    BatchEmbedContents,
}

impl Endpoint {
    pub fn path(self) -> &'static str {
        match self {
            Self::Chat => "/v1/chat/completions",
            Self::Completions => "/v1/completions",
            Self::Embeddings => "/v1/embeddings",
            Self::Messages => "/v1/messages",
            Self::GenerateContent => "/v1beta/models/{model}:generateContent",
            Self::CountTokens => "/v1beta/models/{model}:countTokens",
            Self::EmbedContent => "/v1beta/models/{model}:embedContent",
            Self::BatchEmbedContents => "/v1beta/models/{model}:batchEmbedContents",
        }
    }

    /// The format clients of this endpoint speak.
    pub fn client_format(self) -> WireFormat {
        match self {
            Self::Chat | Self::Completions | Self::Embeddings => WireFormat::OpenAi,
            Self::Messages => WireFormat::Anthropic,
            Self::GenerateContent
            | Self::CountTokens
            | Self::EmbedContent
            | Self::BatchEmbedContents => WireFormat::Gemini,
        }
    }

    /// The family its requests are counted under.
    pub fn family(self) -> Family {
        match self {
            Self::Chat => Family::Chat,
            Self::Completions => Family::Completions,
            Self::Embeddings => Family::Embeddings,
            Self::Messages => Family::Messages,
            Self::GenerateContent => Family::GenerateContent,
            Self::CountTokens => Family::CountTokens,
            Self::EmbedContent | Self::BatchEmbedContents => Family::EmbedContent,
        }
    }
}

super::labels::labelled! {
    /// A low-cardinality label for what a request is: the relayed endpoints, and the model list.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum Family {
        Chat => "chat",
        Completions => "completions",
        Embeddings => "embeddings",
        Messages => "messages",
        GenerateContent => "generate_content",
        CountTokens => "count_tokens",
        EmbedContent => "embed_content",
        Models => "models",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_listed_at_its_index() {
        for (i, f) in Family::ALL.iter().enumerate() {
            assert_eq!(*f as usize, i, "{f:?}");
        }
        assert_eq!(Family::ALL.len(), 8);
        assert_eq!(Endpoint::Messages.family().as_str(), "messages");
    }
}
