//! Fault injection: the grammar, scenario files, the seeded mix, the choice per request,
//! and the middleware that applies faults around the pure provider handlers.
//! Owns everything that makes the simulator misbehave; providers stay "good" responders.

pub(crate) mod layer;
pub(crate) mod mix;
pub(crate) mod scenario;
pub(crate) mod select;
pub(crate) mod spec;
pub(crate) mod stream;
pub(crate) mod transform;
pub(crate) mod upload;
