//! The relay's access records, read as the relay writes them: a tracing layer, installed once
//! per test binary (by [`crate::HarnessBuilder::start`]), keeps every `sluice::access` event by
//! request id until a test takes it.
//!
//! Owns: the capture and the lookup. Must never: enable any other event (the relay's own
//! logging costs nothing more in tests), or wait without a deadline.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Mutex, Once, PoisonError};
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// What one access record said.
#[derive(Clone, Debug, Default)]
pub struct Access {
    pub request_id: String,
    pub channel: String,
    pub status: u64,
    pub outcome: String,
    pub usage_known: bool,
    pub tokens_in: u64,
    pub tokens_out: u64,
    /// A media request's billed units (absent: 0) and a store token's cost (absent: `None`).
    pub images: u64,
    pub characters: u64,
    pub image_size: String,
    pub cost_units: Option<i64>,
}

impl Visit for Access {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "outcome" => value.clone_into(&mut self.outcome),
            "channel" => value.clone_into(&mut self.channel),
            "request_id" => value.clone_into(&mut self.request_id),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "status" => self.status = value,
            "tokens_in" => self.tokens_in = value,
            "tokens_out" => self.tokens_out = value,
            "images" => self.images = value,
            "characters" => self.characters = value,
            "cost_units" => self.cost_units = i64::try_from(value).ok(),
            _ => {}
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.name() == "cost_units" {
            self.cost_units = Some(value);
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "usage_known" {
            self.usage_known = value;
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        match field.name() {
            "request_id" => self.request_id = format!("{value:?}"),
            // `display` values (the image size) arrive here.
            "image_size" => self.image_size = format!("{value:?}"),
            _ => {}
        }
    }
}

static RECORDS: Mutex<Option<HashMap<String, Access>>> = Mutex::new(None);

const TARGET: &str = "sluice::access";

struct Capture;

impl<S: Subscriber> Layer<S> for Capture {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if metadata.target() == TARGET {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        metadata.target() == TARGET
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        let mut access = Access::default();
        event.record(&mut access);
        let mut records = RECORDS.lock().unwrap_or_else(PoisonError::into_inner);
        records
            .get_or_insert_with(HashMap::new)
            .insert(access.request_id.clone(), access);
    }
}

/// Installs the capture (once per test binary; later calls do nothing).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(Capture);
        // A test binary that installed its own subscriber (to read log lines) keeps it; it
        // then reads no access records through this module.
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// Takes the access record of `request_id`, waiting up to 5 s for the request to end.
pub async fn take(request_id: &str) -> Access {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let found = RECORDS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
            .and_then(|r| r.remove(request_id));
        if let Some(a) = found {
            return a;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no access record for {request_id} within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
