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
}

impl Endpoint {
    pub fn path(self) -> &'static str {
        match self {
            Self::Chat => "/v1/chat/completions",
            Self::Completions => "/v1/completions",
            Self::Embeddings => "/v1/embeddings",
            Self::Messages => "/v1/messages",
        }
    }

    /// The format clients of this endpoint speak.
    pub fn client_format(self) -> WireFormat {
        match self {
            Self::Chat | Self::Completions | Self::Embeddings => WireFormat::OpenAi,
            Self::Messages => WireFormat::Anthropic,
        }
    }

    /// The family its requests are counted under.
    pub fn family(self) -> Family {
        match self {
            Self::Chat => Family::Chat,
            Self::Completions => Family::Completions,
            Self::Embeddings => Family::Embeddings,
            Self::Messages => Family::Messages,
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
        assert_eq!(Family::ALL.len(), 5);
        assert_eq!(Endpoint::Messages.family().as_str(), "messages");
    }
}
