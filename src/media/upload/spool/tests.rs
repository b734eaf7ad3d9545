use super::*;
use futures_util::TryStreamExt;

async fn replayed(f: &Frozen) -> Vec<u8> {
    let chunks: Vec<(u64, Bytes)> = f.replay().try_collect().await.unwrap();
    let mut out = Vec::new();
    for (at, c) in chunks {
        assert_eq!(at, out.len() as u64);
        out.extend_from_slice(&c);
    }
    out
}

#[tokio::test]
async fn past_memory_it_spools_and_replays_in_order_and_the_file_goes_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut held = Held::new(10, Some(dir.path().to_owned()));
    held.push(Bytes::from_static(b"0123456")).await.unwrap();
    assert!(held.spool_path().is_none());
    let big = vec![7u8; 200_000];
    held.push(Bytes::from(big.clone())).await.unwrap();
    held.push(Bytes::from_static(b"end")).await.unwrap();
    let path = held.spool_path().unwrap();
    let frozen = held.freeze().await.unwrap();
    assert_eq!(frozen.len(), 200_010);
    let mut want = b"0123456".to_vec();
    want.extend_from_slice(&big);
    want.extend_from_slice(b"end");
    // Every attempt reads it all again.
    assert_eq!(replayed(&frozen).await, want);
    assert_eq!(replayed(&frozen.clone()).await, want);
    let reading = frozen.replay();
    drop(frozen);
    assert!(path.exists(), "a body still reading it keeps it");
    drop(reading);
    assert!(!path.exists());
}

#[tokio::test]
async fn within_memory_nothing_touches_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let mut held = Held::new(10, Some(dir.path().to_owned()));
    held.push(Bytes::from_static(b"0123456789")).await.unwrap();
    let frozen = held.freeze().await.unwrap();
    assert!(frozen.spool().is_none());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    assert_eq!(replayed(&frozen).await, b"0123456789");
}
