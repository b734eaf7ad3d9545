//! Writing a streamed Anthropic message's content blocks, for the bridges to an Anthropic
//! client.
//!
//! Owns: [`Blocks`] (which block is open and the next block index) with the
//! `content_block_start` / `_delta` / `_stop` events it writes, and [`event`], a named event.
//! Must never: open a block without closing the open one first, or write a delta for no block.

use crate::wire::SseOut;
use serde_json::{json, Value};

/// One named Anthropic event.
pub(crate) fn event(name: &'static str, data: Value) -> SseOut {
    SseOut {
        event: Some(name),
        data: data.to_string(),
    }
}

/// The content blocks of one streamed message: the open one (its index and kind `K`) and the
/// index the next one gets.
#[derive(Debug)]
pub(crate) struct Blocks<K> {
    open: Option<(u64, K)>,
    next: u64,
}

impl<K: Copy + PartialEq> Blocks<K> {
    pub(crate) fn new() -> Self {
        Self {
            open: None,
            next: 0,
        }
    }

    /// The kind of the open block, if one is open.
    pub(crate) fn open_kind(&self) -> Option<K> {
        self.open.map(|(_, k)| k)
    }

    /// Make `kind` the open block, closing any other one first.
    pub(crate) fn ensure(&mut self, kind: K, content_block: Value, out: &mut Vec<SseOut>) {
        if self.open_kind() == Some(kind) {
            return;
        }
        self.stop(out);
        let index = self.next;
        self.next += 1;
        self.open = Some((index, kind));
        out.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": content_block}),
        ));
    }

    /// A delta of the open block (none open: nothing).
    pub(crate) fn delta(&self, delta: Value, out: &mut Vec<SseOut>) {
        if let Some((index, _)) = self.open {
            out.push(event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index, "delta": delta}),
            ));
        }
    }

    /// Closes the open block, if any.
    pub(crate) fn stop(&mut self, out: &mut Vec<SseOut>) {
        if let Some((index, _)) = self.open.take() {
            out.push(event(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": index}),
            ));
        }
    }

    /// A block that arrives whole (after closing the open one): its start, one delta, its stop.
    pub(crate) fn whole(
        &mut self,
        kind: K,
        content_block: Value,
        delta: Value,
        out: &mut Vec<SseOut>,
    ) {
        self.ensure(kind, content_block, out);
        self.delta(delta, out);
        self.stop(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_opened_once_closed_before_the_next_and_numbered_in_order() {
        let mut b = Blocks::new();
        let mut out = Vec::new();
        b.delta(json!({"d": 0}), &mut out);
        assert!(out.is_empty(), "no delta without a block");
        b.ensure('t', json!({"type": "text"}), &mut out);
        b.ensure('t', json!({"type": "text"}), &mut out);
        b.delta(json!({"d": 1}), &mut out);
        b.whole('c', json!({"type": "tool_use"}), json!({"d": 2}), &mut out);
        b.stop(&mut out);
        let names: Vec<_> = out.iter().map(|e| e.event.unwrap()).collect();
        assert_eq!(
            names,
            [
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
            ]
        );
        let index =
            |i: usize| serde_json::from_str::<Value>(&out[i].data).unwrap()["index"].clone();
        assert_eq!(
            (index(0), index(3), index(5)),
            (json!(0), json!(1), json!(1))
        );
        assert_eq!(b.open_kind(), None);
    }
}
