//! The bytes of an upload read before its live rest: the first `memory` bytes in memory, the
//! rest in a spool file, read again for each attempt.
//!
//! Owns: the spool file's life (created on the first byte past `memory`, removed when the last
//! of the upload and the bodies reading it is dropped) and the replay of what was read.
//! Must never: hold more than `memory` bytes (and one chunk) in memory, or leave a spool file
//! behind.

use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, BoxStream, StreamExt};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How much of a spool one replayed chunk reads.
const READ_CHUNK: usize = 64 * 1024;

/// A spool file's path: the file goes when this does.
#[derive(Debug)]
pub(super) struct SpoolPath(PathBuf);

impl SpoolPath {
    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for SpoolPath {
    fn drop(&mut self) {
        // A fast unlink, not a wait; a file already gone is fine.
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What was read, still growing.
pub(super) struct Held {
    memory: usize,
    dir: PathBuf,
    chunks: Vec<Bytes>,
    in_memory: usize,
    spool: Option<(Arc<SpoolPath>, tokio::fs::File)>,
    spooled: u64,
}

/// What was read, complete: re-readable by every attempt.
#[derive(Clone)]
pub(super) struct Frozen {
    chunks: Vec<Bytes>,
    in_memory: u64,
    spool: Option<Arc<SpoolPath>>,
    spooled: u64,
}

impl Held {
    pub(super) fn new(memory: usize, dir: Option<PathBuf>) -> Self {
        Self {
            memory,
            dir: dir.unwrap_or_else(std::env::temp_dir),
            chunks: Vec::new(),
            in_memory: 0,
            spool: None,
            spooled: 0,
        }
    }

    /// Keeps `chunk`: in memory while it fits, else at the end of the spool.
    pub(super) async fn push(&mut self, chunk: Bytes) -> io::Result<()> {
        if self.spool.is_none() && self.in_memory + chunk.len() <= self.memory {
            self.in_memory += chunk.len();
            self.chunks.push(chunk);
            return Ok(());
        }
        let file = match &mut self.spool {
            Some((_, file)) => file,
            None => {
                let path = self
                    .dir
                    .join(format!("sluice-upload-{}.part", uuid::Uuid::now_v7()));
                let file = tokio::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .await?;
                let (_, file) = self.spool.insert((Arc::new(SpoolPath(path)), file));
                file
            }
        };
        file.write_all(&chunk).await?;
        self.spooled += chunk.len() as u64;
        Ok(())
    }

    /// Whether anything went to the spool.
    #[cfg(test)]
    pub(super) fn spool_path(&self) -> Option<PathBuf> {
        self.spool.as_ref().map(|(p, _)| p.path().to_owned())
    }

    /// Done growing: the spool flushed and its writer closed.
    pub(super) async fn freeze(self) -> io::Result<Frozen> {
        let spool = match self.spool {
            Some((path, mut file)) => {
                file.flush().await?;
                drop(file);
                Some(path)
            }
            None => None,
        };
        Ok(Frozen {
            chunks: self.chunks,
            in_memory: self.in_memory as u64,
            spool,
            spooled: self.spooled,
        })
    }
}

impl Frozen {
    /// Bytes held in all.
    pub(super) fn len(&self) -> u64 {
        self.in_memory + self.spooled
    }

    /// The spool's path, while it exists.
    #[cfg(test)]
    pub(super) fn spool(&self) -> Option<&Path> {
        self.spool.as_deref().map(SpoolPath::path)
    }

    /// Everything held, in order: the memory chunks, then the spool read in chunks. Each
    /// chunk comes with its offset in the body.
    pub(super) fn replay(&self) -> BoxStream<'static, io::Result<(u64, Bytes)>> {
        let mut at = 0;
        let memory: Vec<io::Result<(u64, Bytes)>> = self
            .chunks
            .iter()
            .map(|c| {
                let item = Ok((at, c.clone()));
                at += c.len() as u64;
                item
            })
            .collect();
        let memory = stream::iter(memory);
        let Some(path) = self.spool.clone() else {
            return memory.boxed();
        };
        let (start, len) = (self.in_memory, self.spooled);
        let spooled = stream::try_unfold(
            (path, None::<tokio::fs::File>, 0u64),
            move |(path, file, done)| async move {
                if done >= len {
                    return Ok(None);
                }
                let mut file = match file {
                    Some(f) => f,
                    None => tokio::fs::File::open(path.path()).await?,
                };
                let want = READ_CHUNK.min((len - done) as usize);
                let mut buf = BytesMut::zeroed(want);
                let n = file.read(&mut buf).await?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the upload's spool ended early",
                    ));
                }
                buf.truncate(n);
                let at = start + done;
                Ok(Some((
                    (at, buf.freeze()),
                    (path, Some(file), done + n as u64),
                )))
            },
        );
        memory.chain(spooled).boxed()
    }
}

#[cfg(test)]
mod tests;
