//! The store's SQL, written once for both backends.
//!
//! This module is compiled twice: as `sqlite::queries` and as `postgres::queries`, each time
//! with that backend's `Db` and `Handle`. Both accept `$N` placeholders, `RETURNING`,
//! `ON CONFLICT` upserts and the same column types (every integer is 64-bit), so one text
//! serves both; what differs (how a write transaction begins, pools) lives in the backend's
//! `Handle`.
//!
//! Owns: every statement the store runs.
//! Must never: build SQL from values (everything a caller gives is bound).

pub(crate) mod channels;
pub(crate) mod instances;
pub(crate) mod meta;
pub(crate) mod tasks;
pub(crate) mod tokens;
pub(crate) mod usage;
pub(crate) mod usage_read;

pub(crate) use super::{Db, Handle, DAY_SQL};

pub(crate) type Tx = sqlx::Transaction<'static, Db>;
