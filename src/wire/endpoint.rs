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
    /// `POST /v1/images/generations` (JSON).
    ImageGenerations,
    /// `POST /v1/images/edits` (multipart).
    ImageEdits,
    /// `POST /v1/images/variations` (multipart).
    ImageVariations,
    /// `POST /v1/audio/speech` (JSON in, audio out).
    Speech,
    /// `POST /v1/audio/transcriptions` (multipart).
    Transcriptions,
    /// `POST /v1/audio/translations` (multipart).
    Translations,
    /// `POST /v1/moderations`.
    Moderations,
    /// OpenAI's video API (`/v1/videos`, create, poll, content, remix) and the routes that
    /// create video tasks the same way (`/v1/video/generations`, providers' native routes):
    /// served by `crate::tasks`, never by the bridges.
    Videos,
}

/// How a client's request body comes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// One JSON object, read whole (bounded) before routing.
    Json,
    /// `multipart/form-data`, streamed to the upstream as it arrives (`crate::media::upload`).
    Multipart,
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
            Self::ImageGenerations => "/v1/images/generations",
            Self::ImageEdits => "/v1/images/edits",
            Self::ImageVariations => "/v1/images/variations",
            Self::Speech => "/v1/audio/speech",
            Self::Transcriptions => "/v1/audio/transcriptions",
            Self::Translations => "/v1/audio/translations",
            Self::Moderations => "/v1/moderations",
            Self::Videos => "/v1/videos",
        }
    }

    /// How its request body comes.
    pub fn body_kind(self) -> BodyKind {
        match self {
            Self::ImageEdits
            | Self::ImageVariations
            | Self::Transcriptions
            | Self::Translations => BodyKind::Multipart,
            Self::Chat
            | Self::Completions
            | Self::Embeddings
            | Self::Messages
            | Self::GenerateContent
            | Self::CountTokens
            | Self::EmbedContent
            | Self::BatchEmbedContents
            | Self::ImageGenerations
            | Self::Speech
            | Self::Moderations
            | Self::Videos => BodyKind::Json,
        }
    }

    /// Whether it is one of OpenAI's media endpoints (images, audio, moderations), whose
    /// answers the relay passes through by their content type (`crate::media::answer`).
    pub fn is_media(self) -> bool {
        match self {
            Self::ImageGenerations
            | Self::ImageEdits
            | Self::ImageVariations
            | Self::Speech
            | Self::Transcriptions
            | Self::Translations
            | Self::Moderations => true,
            Self::Chat
            | Self::Completions
            | Self::Embeddings
            | Self::Messages
            | Self::GenerateContent
            | Self::CountTokens
            | Self::EmbedContent
            | Self::BatchEmbedContents
            | Self::Videos => false,
        }
    }

    /// The format clients of this endpoint speak.
    pub fn client_format(self) -> WireFormat {
        match self {
            Self::Chat
            | Self::Completions
            | Self::Embeddings
            | Self::ImageGenerations
            | Self::ImageEdits
            | Self::ImageVariations
            | Self::Speech
            | Self::Transcriptions
            | Self::Translations
            | Self::Moderations
            | Self::Videos => WireFormat::OpenAi,
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
            Self::ImageGenerations | Self::ImageEdits | Self::ImageVariations => Family::Images,
            Self::Speech => Family::Speech,
            Self::Transcriptions | Self::Translations => Family::Transcriptions,
            Self::Moderations => Family::Moderations,
            Self::Videos => Family::Videos,
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
        Images => "images",
        Speech => "speech",
        Transcriptions => "transcriptions",
        Moderations => "moderations",
        Videos => "videos",
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
        assert_eq!(Family::ALL.len(), 13);
        assert_eq!(Endpoint::Messages.family().as_str(), "messages");
    }
}
