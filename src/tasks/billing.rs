//! What a video task costs: charged when it is created, settled once when it ends.
//!
//! Owns: the charge of a new task from the price table (per second of video by model, or per
//! video) and the one usage record that settles a task reaching a terminal state: the refund of
//! the whole charge when it failed, expired or was cancelled; the difference when the upstream
//! made a video of another length than asked. Its usage id is derived from the task's id, so a
//! settlement written twice (a retried write, a crash between the state change and the record)
//! is one row.
//! Must never: settle a task that is not terminal, or be called but by the writer whose
//! compare-and-set made the task terminal.

use super::{Task, TaskState};
use crate::limits::{PriceTable, UsageCounts};
use crate::store::{Outcome, UsageRecord, UsageSource};
use crate::wire::ImageSize;
use uuid::Uuid;

/// Seconds assumed for a task that names none (Sora's default).
pub const DEFAULT_SECONDS: u32 = 4;

/// The charge of a task on `model` for `seconds` of video at `size`, in cost units: the
/// seconds at the size's price per second (else `video_second`), and the per-video price; 0
/// when the model has no price.
pub fn charge(prices: &PriceTable, model: &str, seconds: Option<u32>, size: Option<&str>) -> i64 {
    let seconds = seconds.unwrap_or(DEFAULT_SECONDS);
    made(prices, model, u64::from(seconds) * 1000, size)
}

/// What `ms` of video at `size` on `model` costs.
fn made(prices: &PriceTable, model: &str, ms: u64, size: Option<&str>) -> i64 {
    prices.price(model).map_or(0, |p| {
        p.cost(&UsageCounts {
            video_ms: ms,
            image_size: size.and_then(ImageSize::parse),
            ..UsageCounts::default()
        })
    })
}

/// The record that settles `task`, which a compare-and-set just made terminal: the refund of
/// its charge when it did not complete, the difference to the length the upstream reported
/// when it did, `None` when nothing is owed either way.
pub fn settlement(task: &Task, prices: &PriceTable) -> Option<UsageRecord> {
    debug_assert!(task.state.is_terminal());
    let delta = match task.state {
        TaskState::Completed => match task.video_ms {
            Some(ms) => {
                made(prices, &task.model, ms, task.spec.size.as_deref()) - task.charged_units
            }
            None => 0,
        },
        TaskState::Failed | TaskState::Cancelled | TaskState::Expired => -task.charged_units,
        TaskState::Queued | TaskState::InProgress => return None,
    };
    if delta == 0 {
        return None;
    }
    let mut r = UsageRecord::new(&task.request_id, "videos", &task.model);
    r.usage_id = settlement_id(&task.id);
    r.token_id = task.token_id;
    r.channel = Some(task.channel.clone());
    r.upstream_model = Some(task.upstream_model.clone());
    r.outcome = if task.state == TaskState::Completed {
        Outcome::Ok
    } else {
        Outcome::UpstreamError
    };
    r.usage_source = UsageSource::Upstream;
    r.status = 200;
    r.cost_units = delta;
    r.image_size = task.spec.size.clone();
    r.video_ms = match task.state {
        TaskState::Completed => task
            .video_ms
            .unwrap_or(0)
            .saturating_sub(u64::from(task.spec.seconds.unwrap_or(DEFAULT_SECONDS)) * 1000),
        _ => 0,
    };
    Some(r)
}

/// The settlement's usage id: the same for every write of one task's settlement.
pub fn settlement_id(task_id: &str) -> Uuid {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("sluice video settlement {task_id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}
