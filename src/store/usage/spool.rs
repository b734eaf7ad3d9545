//! The on-disk spool: where usage records wait while the database cannot take them.
//!
//! Owns: segment files under `data_dir/spool/` (`<seq>.seg`, one JSON record per line), their
//! bound (`spool_max_bytes`), sealing at `spool_segment_bytes` (with an fsync), the periodic
//! fsync of the open segment, and deleting a segment once its records are committed.
//! Must never: grow past its bound, append to a sealed segment, or delete a segment whose
//! records were not committed. A torn last line (a crash mid-append) is skipped on replay.

use super::UsageRecord;
use crate::store::stats::StoreStats;
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("the usage spool is full ({0} bytes)")]
    Full(u64),
    #[error("usage spool {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

struct Active {
    seq: u64,
    file: File,
    bytes: u64,
    dirty: bool,
}

struct State {
    active: Option<Active>,
    /// Sealed segments, oldest first: `(seq, bytes)`.
    sealed: VecDeque<(u64, u64)>,
    next_seq: u64,
    total: u64,
}

pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    /// From this size on the spool reports itself full (metered tokens fail closed), while
    /// appends are still taken up to `max_bytes` for the requests already in flight.
    full_at: u64,
    state: Mutex<State>,
    stats: Arc<StoreStats>,
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.seg"))
}

impl Spool {
    /// Opens the spool directory, taking every segment found there as sealed (to replay).
    pub fn open(
        dir: &Path,
        max_bytes: u64,
        segment_bytes: u64,
        stats: Arc<StoreStats>,
    ) -> Result<Self, SpoolError> {
        let io = |source| SpoolError::Io {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name();
            let Some(seq) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".seg"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let bytes = entry.metadata().map_err(io)?.len();
            found.push((seq, bytes));
        }
        found.sort_unstable();
        let total = found.iter().map(|(_, b)| b).sum();
        let next_seq = found.last().map_or(1, |(s, _)| s + 1);
        let spool = Self {
            dir: dir.to_owned(),
            max_bytes,
            segment_bytes,
            full_at: max_bytes - max_bytes / 20,
            state: Mutex::new(State {
                active: None,
                sealed: found.into(),
                next_seq,
                total,
            }),
            stats,
        };
        spool.publish(&spool.lock());
        Ok(spool)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent counts (every update is one step).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, s: &State) {
        self.stats.spool_bytes.store(s.total, Relaxed);
        let segments = s.sealed.len() as u64 + u64::from(s.active.is_some());
        self.stats.spool_segments.store(segments, Relaxed);
        self.stats
            .spool_full
            .store(s.total >= self.full_at, Relaxed);
    }

    fn io(&self, seq: u64, source: std::io::Error) -> SpoolError {
        SpoolError::Io {
            path: segment_path(&self.dir, seq),
            source,
        }
    }

    /// Appends records (one line each) to the open segment, sealing it first when they
    /// would take it past its size. All or nothing: a failed write is cut off again.
    pub fn append(&self, records: &[UsageRecord]) -> Result<(), SpoolError> {
        let mut buf = Vec::with_capacity(records.len() * 400);
        for r in records {
            // A record always serializes (plain fields); a failure would be a bug, not data.
            if serde_json::to_writer(&mut buf, r).is_ok() {
                buf.push(b'\n');
            }
        }
        let len = buf.len() as u64;
        let mut s = self.lock();
        if s.total + len > self.max_bytes {
            self.stats.spool_full.store(true, Relaxed);
            return Err(SpoolError::Full(self.max_bytes));
        }
        if s.active
            .as_ref()
            .is_some_and(|a| a.bytes > 0 && a.bytes + len > self.segment_bytes)
        {
            self.seal(&mut s)?;
        }
        if s.active.is_none() {
            let seq = s.next_seq;
            let file = OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(segment_path(&self.dir, seq))
                .map_err(|e| self.io(seq, e))?;
            s.next_seq += 1;
            s.active = Some(Active {
                seq,
                file,
                bytes: 0,
                dirty: false,
            });
        }
        let Some(active) = s.active.as_mut() else {
            return Ok(());
        };
        if let Err(e) = active.file.write_all(&buf) {
            let _ = active.file.set_len(active.bytes);
            return Err(self.io(active.seq, e));
        }
        active.bytes += len;
        active.dirty = true;
        s.total += len;
        self.publish(&s);
        Ok(())
    }

    fn seal(&self, s: &mut State) -> Result<(), SpoolError> {
        if let Some(active) = s.active.take() {
            active
                .file
                .sync_data()
                .map_err(|e| self.io(active.seq, e))?;
            if active.bytes > 0 {
                s.sealed.push_back((active.seq, active.bytes));
            } else {
                let _ = std::fs::remove_file(segment_path(&self.dir, active.seq));
            }
        }
        self.publish(s);
        Ok(())
    }

    /// Fsyncs the open segment if anything was appended since the last sync. The fsync runs
    /// outside the lock (on a duplicate handle), so appends from the request path never wait
    /// for the disk.
    pub fn sync(&self) -> Result<(), SpoolError> {
        let file = {
            let mut s = self.lock();
            let Some(active) = s.active.as_mut().filter(|a| a.dirty) else {
                return Ok(());
            };
            active.dirty = false;
            let seq = active.seq;
            active.file.try_clone().map_err(|e| self.io(seq, e))?
        };
        file.sync_data().map_err(|e| SpoolError::Io {
            path: self.dir.clone(),
            source: e,
        })
    }

    /// The oldest sealed segment; when none is sealed, seals the open one first (so replay
    /// drains everything). `None`: the spool is empty.
    pub fn oldest(&self) -> Result<Option<Segment>, SpoolError> {
        let mut s = self.lock();
        if s.sealed.is_empty() && s.active.as_ref().is_some_and(|a| a.bytes > 0) {
            self.seal(&mut s)?;
        }
        Ok(s.sealed.front().map(|&(seq, _)| Segment {
            seq,
            path: segment_path(&self.dir, seq),
        }))
    }

    /// Deletes a replayed segment (its records are committed).
    pub fn remove(&self, seg: &Segment) -> Result<(), SpoolError> {
        let mut s = self.lock();
        let Some(pos) = s.sealed.iter().position(|&(seq, _)| seq == seg.seq) else {
            return Ok(());
        };
        std::fs::remove_file(&seg.path).map_err(|e| self.io(seg.seq, e))?;
        if let Some((_, bytes)) = s.sealed.remove(pos) {
            s.total -= bytes;
        }
        self.publish(&s);
        Ok(())
    }

    pub fn bytes(&self) -> u64 {
        self.lock().total
    }

    pub fn is_empty(&self) -> bool {
        self.bytes() == 0
    }
}

/// A sealed segment, read back in batches.
pub struct Segment {
    pub seq: u64,
    pub path: PathBuf,
}

impl Segment {
    pub fn reader(&self) -> Result<SegmentReader, SpoolError> {
        let file = File::open(&self.path).map_err(|source| SpoolError::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(SegmentReader {
            lines: BufReader::new(file),
            line: String::new(),
        })
    }
}

pub struct SegmentReader {
    lines: BufReader<File>,
    line: String,
}

impl SegmentReader {
    /// Up to `max` records; an empty batch means the end. Lines that do not parse (a torn
    /// last line) are counted in `bad` and skipped.
    pub fn next_batch(&mut self, max: usize, bad: &mut u64) -> std::io::Result<Vec<UsageRecord>> {
        let mut out = Vec::new();
        while out.len() < max {
            self.line.clear();
            if self.lines.read_line(&mut self.line)? == 0 {
                break;
            }
            match serde_json::from_str::<UsageRecord>(self.line.trim_end()) {
                Ok(mut r) => {
                    r.bound_labels();
                    out.push(r);
                }
                Err(_) => *bad += 1,
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(n: usize) -> Vec<UsageRecord> {
        (0..n)
            .map(|i| UsageRecord::new(&format!("r{i}"), "chat", "m"))
            .collect()
    }

    fn drain(spool: &Spool) -> Vec<UsageRecord> {
        let mut all = Vec::new();
        while let Some(seg) = spool.oldest().unwrap() {
            let mut reader = seg.reader().unwrap();
            let mut bad = 0;
            loop {
                let batch = reader.next_batch(7, &mut bad).unwrap();
                if batch.is_empty() {
                    break;
                }
                all.extend(batch);
            }
            spool.remove(&seg).unwrap();
        }
        all
    }

    #[test]
    fn records_come_back_in_order_across_segments_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let stats = Arc::new(StoreStats::default());
        let spool = Spool::open(dir.path(), 1 << 20, 2000, stats.clone()).unwrap();
        let written = records(40);
        for chunk in written.chunks(3) {
            spool.append(chunk).unwrap();
        }
        assert!(
            stats.spool_segments.load(Relaxed) > 3,
            "rotated at 2000 bytes"
        );
        spool.sync().unwrap();
        drop(spool);
        let spool = Spool::open(dir.path(), 1 << 20, 2000, stats.clone()).unwrap();
        assert_eq!(drain(&spool), written);
        assert!(spool.is_empty());
        assert_eq!(stats.spool_bytes.load(Relaxed), 0);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn the_bound_holds_and_full_is_reported_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let stats = Arc::new(StoreStats::default());
        let spool = Spool::open(dir.path(), 10_000, 4000, stats.clone()).unwrap();
        let mut taken = 0;
        loop {
            match spool.append(&records(1)) {
                Ok(()) => taken += 1,
                Err(SpoolError::Full(_)) => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(taken > 10);
        assert!(spool.bytes() <= 10_000);
        assert!(stats.spool_full());
        drain(&spool);
        assert!(!stats.spool_full(), "cleared once drained");
    }

    #[test]
    fn a_torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let stats = Arc::new(StoreStats::default());
        let spool = Spool::open(dir.path(), 1 << 20, 1 << 20, stats.clone()).unwrap();
        spool.append(&records(3)).unwrap();
        drop(spool);
        let seg = std::fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(b"{\"usage_id\":\"0190").unwrap();
        let spool = Spool::open(dir.path(), 1 << 20, 1 << 20, stats).unwrap();
        let seg = spool.oldest().unwrap().unwrap();
        let mut bad = 0;
        let batch = seg.reader().unwrap().next_batch(100, &mut bad).unwrap();
        assert_eq!((batch.len(), bad), (3, 1));
    }
}
