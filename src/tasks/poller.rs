//! The poller: one supervised job that polls every pending task.
//!
//! Owns: the rounds (take the due tasks under a lease, poll them with bounded concurrency, each
//! poll under its deadlines with its body read bounded, write each result by compare-and-set),
//! the pace (each provider's least interval, backoff with jitter after failed polls, the
//! upstream's `retry-after` and poll-after hints), the deadline sweep (tasks past their
//! deadline fail as `expired` and are refunded) and the counts it keeps.
//! Must never: run one job per task, hold a task it has not leased, or let a poll outlive its
//! deadline.
