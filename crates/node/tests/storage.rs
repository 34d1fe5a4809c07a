//! The chain store on real files: reopening, chunk rollover, rollback, torn writes, a damaged
//! index, and a model-based property test.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use proptest::collection::vec;
use proptest::prelude::*;
use wb_node::storage::{
    BlockInfo, ChainStore, INDEX_ENTRY_LEN, RECORD_HEADER_LEN, RepairReport, StoreError,
    StoreOptions,
};

type Block = (BlockInfo, Vec<u8>);

fn hash(fork: u64, n: u64) -> [u8; 32] {
    let digest = blake2b_simd::Params::new()
        .hash_length(32)
        .to_state()
        .update(&fork.to_le_bytes())
        .update(&n.to_le_bytes())
        .finalize();
    digest.as_bytes().try_into().unwrap()
}

/// The block after `tip` on fork `fork`, with `size` bytes.
fn next_block(tip: Option<&BlockInfo>, fork: u64, size: usize) -> Block {
    let n = tip.map_or(0, |t| t.block_no + 1);
    let info = BlockInfo {
        slot: 2 * n + 1,
        block_no: n,
        hash: hash(fork, n),
        prev_hash: tip.map(|t| t.hash),
    };
    let bytes = (0..size as u64)
        .map(|i| (i * 31 + n * 7 + fork) as u8)
        .collect();
    (info, bytes)
}

/// Appends `n` blocks of fork `fork`, sized by `size(block_no)`, and returns them.
fn grow(store: &mut ChainStore, n: u64, fork: u64, size: impl Fn(u64) -> usize) -> Vec<Block> {
    let mut out = Vec::new();
    for _ in 0..n {
        let tip = store.tip().copied();
        let next = tip.map_or(0, |t| t.block_no + 1);
        let (info, bytes) = next_block(tip.as_ref(), fork, size(next));
        store.append(&info, &bytes).unwrap();
        out.push((info, bytes));
    }
    out
}

fn varied(n: u64) -> usize {
    (n as usize * 37) % 250 + 1
}

fn opts(chunk_size_bytes: u64) -> StoreOptions {
    StoreOptions {
        chunk_size_bytes,
        ..StoreOptions::default()
    }
}

fn open(dir: &Path, chunk_size_bytes: u64) -> (ChainStore, RepairReport) {
    ChainStore::open(dir, opts(chunk_size_bytes)).unwrap()
}

fn open_clean(dir: &Path, chunk_size_bytes: u64) -> ChainStore {
    let (store, report) = open(dir, chunk_size_bytes);
    assert!(report.is_clean(), "{report:#?}");
    store
}

fn all(store: &ChainStore) -> Vec<Block> {
    store.iter_from(0).collect::<Result<_, _>>().unwrap()
}

fn chunk_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("chunk-")
        })
        .collect();
    files.sort();
    files
}

/// The chunk file holding the tip: the last one with anything in it.
fn tip_chunk(dir: &Path) -> PathBuf {
    chunk_files(dir)
        .into_iter()
        .rev()
        .find(|p| fs::metadata(p).unwrap().len() > 0)
        .unwrap()
}

fn record_len(block: &Block) -> u64 {
    (RECORD_HEADER_LEN + block.1.len()) as u64
}

fn cut(path: &Path, bytes: u64) {
    let file = OpenOptions::new().write(true).open(path).unwrap();
    let len = file.metadata().unwrap().len();
    file.set_len(len - bytes).unwrap();
}

fn append_bytes(path: &Path, bytes: &[u8]) {
    OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

fn flip(path: &Path, offset_from_end: u64) {
    let mut bytes = fs::read(path).unwrap();
    let i = bytes.len() - offset_from_end as usize;
    bytes[i] ^= 0x40;
    fs::write(path, bytes).unwrap();
}

#[test]
fn appended_chain_and_bytes_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_clean(dir.path(), 1 << 20);
    assert!(store.is_empty());
    let chain = grow(&mut store, 50, 1, varied);
    store.sync().unwrap();
    assert_eq!(all(&store), chain);
    drop(store);

    let (store, report) = open(dir.path(), 1 << 20);
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(report.blocks, 50);
    assert_eq!(store.len(), 50);
    assert_eq!(store.tip(), Some(&chain[49].0));
    assert_eq!(all(&store), chain);
}

#[test]
fn chunks_roll_over_into_several_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_clean(dir.path(), 1000);
    let mut chain = grow(&mut store, 40, 1, |_| 200);
    // A block larger than a chunk gets a chunk of its own.
    chain.extend(grow(&mut store, 1, 1, |_| 3000));
    chain.extend(grow(&mut store, 3, 1, |_| 10));
    drop(store);

    let files = chunk_files(dir.path());
    // Three 297-byte records fit in 1000 bytes.
    assert_eq!(files.len(), 40usize.div_ceil(3) + 2, "{files:?}");
    for (i, f) in files.iter().enumerate() {
        let name = format!("chunk-{i:05}.dat");
        assert!(f.ends_with(&name), "{f:?}");
        let len = fs::metadata(f).unwrap().len();
        assert!(
            len <= 1000 || len == 3000 + RECORD_HEADER_LEN as u64,
            "{f:?}: {len}"
        );
    }
    let store = open_clean(dir.path(), 1000);
    assert_eq!(all(&store), chain);

    // Another chunk size on reopen only changes where new chunks start.
    drop(store);
    let mut store = open_clean(dir.path(), 1 << 20);
    chain.extend(grow(&mut store, 5, 1, |_| 200));
    assert_eq!(chunk_files(dir.path()).len(), files.len());
    assert_eq!(all(&store), chain);
}

#[test]
fn lookups_by_number_and_hash_and_iteration() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_clean(dir.path(), 700);
    let chain = grow(&mut store, 30, 3, varied);

    for (info, bytes) in &chain {
        assert_eq!(
            store.get(info.block_no).unwrap().as_ref(),
            Some(&(*info, bytes.clone()))
        );
        assert_eq!(store.get_by_hash(&info.hash).unwrap().unwrap().1, *bytes);
        assert_eq!(store.info(info.block_no), Some(info));
        assert_eq!(store.info_by_hash(&info.hash), Some(info));
    }
    assert!(store.get(30).unwrap().is_none());
    assert!(store.get(u64::MAX).unwrap().is_none());
    assert!(store.get_by_hash(&[0; 32]).unwrap().is_none());
    assert!(store.info(30).is_none());

    let tail: Vec<Block> = store.iter_from(17).collect::<Result<_, _>>().unwrap();
    assert_eq!(tail, chain[17..]);
    assert_eq!(store.iter_from(30).count(), 0);
    assert_eq!(store.iter_from(u64::MAX).count(), 0);
}

#[test]
fn rollback_then_a_fork_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_clean(dir.path(), 600);
    let old = grow(&mut store, 30, 1, varied);
    let chunks_before = chunk_files(dir.path()).len();

    // Back into an earlier chunk: later chunk files go.
    store.truncate_after(Some(12)).unwrap();
    assert_eq!(store.len(), 13);
    assert_eq!(store.tip(), Some(&old[12].0));
    assert!(store.get_by_hash(&old[13].0.hash).unwrap().is_none());
    assert!(chunk_files(dir.path()).len() < chunks_before);

    let fork = grow(&mut store, 10, 2, |n| varied(n + 5));
    let expected: Vec<Block> = old[..13].iter().chain(&fork).cloned().collect();
    assert_eq!(all(&store), expected);
    drop(store);

    let mut store = open_clean(dir.path(), 600);
    assert_eq!(all(&store), expected);

    // Within the last chunk, then to nothing at all.
    store.truncate_after(Some(21)).unwrap();
    assert_eq!(store.len(), 22);
    store.truncate_after(None).unwrap();
    assert!(store.is_empty());
    assert_eq!(chunk_files(dir.path()).len(), 1);
    let fresh = grow(&mut store, 4, 3, varied);
    drop(store);
    let store = open_clean(dir.path(), 600);
    assert_eq!(all(&store), fresh);
}

/// Twenty blocks over a few chunks; returns the store's chain.
fn twenty(dir: &Path) -> Vec<Block> {
    let mut store = open_clean(dir, 1500);
    let chain = grow(&mut store, 20, 1, varied);
    store.sync().unwrap();
    chain
}

/// Checks that the store repaired to `keep` blocks goes on: one more block, then a clean reopen.
fn carries_on(mut store: ChainStore, dir: &Path, chain: &[Block], keep: usize) {
    assert_eq!(store.len(), keep as u64);
    assert_eq!(all(&store), chain[..keep]);
    let more = grow(&mut store, 2, 9, varied);
    assert_eq!(more[0].0.block_no, keep as u64);
    drop(store);
    let store = open_clean(dir, 1500);
    let expected: Vec<Block> = chain[..keep].iter().chain(&more).cloned().collect();
    assert_eq!(all(&store), expected);
}

#[test]
fn a_partial_last_record_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let chain = twenty(dir.path());
    let last = tip_chunk(dir.path());
    cut(&last, 10);

    let (store, report) = open(dir.path(), 1500);
    assert_eq!(report.blocks, 19);
    assert_eq!(report.truncated_bytes, record_len(&chain[19]) - 10);
    assert_eq!(report.dropped_index_entries, 1);
    assert_eq!(report.rebuilt_index_entries, 0);
    let name = last.file_name().unwrap().to_str().unwrap();
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains(name) && n.contains("runs past the end"))
    );
    carries_on(store, dir.path(), &chain, 19);
}

#[test]
fn a_partial_record_header_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let chain = twenty(dir.path());
    cut(&tip_chunk(dir.path()), record_len(&chain[19]) - 40);

    let (store, report) = open(dir.path(), 1500);
    assert_eq!((report.blocks, report.truncated_bytes), (19, 40));
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("partial record header"))
    );
    carries_on(store, dir.path(), &chain, 19);
}

#[test]
fn garbage_after_the_last_record_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let chain = twenty(dir.path());
    append_bytes(&tip_chunk(dir.path()), &[0xee; 300]);

    let (store, report) = open(dir.path(), 1500);
    assert_eq!(report.blocks, 20);
    assert_eq!(report.truncated_bytes, 300);
    assert_eq!(report.dropped_index_entries, 0);
    assert!(report.notes.iter().any(|n| n.contains("bad magic")));
    carries_on(store, dir.path(), &chain, 20);
}

#[test]
fn a_flipped_byte_in_the_last_record_drops_it() {
    let header = RECORD_HEADER_LEN as u64;
    // In the slot, in the hash, the first and the last payload byte.
    for at in [20, 40, header, header + 203] {
        let dir = tempfile::tempdir().unwrap();
        let chain = twenty(dir.path());
        let record = record_len(&chain[19]);
        assert_eq!(record, header + 204);
        flip(&tip_chunk(dir.path()), record - at);

        let (store, report) = open(dir.path(), 1500);
        assert_eq!(report.blocks, 19, "byte {at} of the record");
        assert_eq!(report.truncated_bytes, record);
        assert_eq!(report.dropped_index_entries, 1);
        assert!(
            report.notes.iter().any(|n| n.contains("checksum mismatch")),
            "{report:#?}"
        );
        carries_on(store, dir.path(), &chain, 19);
    }
}

#[test]
fn index_entries_past_the_chunks_end_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let chain = twenty(dir.path());
    // A whole record gone, as when the index reached the disk but the chunk did not.
    cut(&tip_chunk(dir.path()), record_len(&chain[19]));

    let (store, report) = open(dir.path(), 1500);
    assert_eq!(report.blocks, 19);
    assert_eq!(report.truncated_bytes, 0);
    assert_eq!(report.dropped_index_entries, 1);
    assert!(report.notes.iter().any(|n| n.contains("index.dat")));
    carries_on(store, dir.path(), &chain, 19);
}

#[test]
fn a_missing_index_is_rebuilt_from_the_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let chain = twenty(dir.path());
    let index = dir.path().join("index.dat");
    let original = fs::read(&index).unwrap();
    assert_eq!(original.len(), 8 + 20 * INDEX_ENTRY_LEN);
    fs::remove_file(&index).unwrap();

    let (store, report) = open(dir.path(), 1500);
    assert_eq!(report.blocks, 20);
    assert_eq!(report.rebuilt_index_entries, 20);
    assert_eq!(report.truncated_bytes, 0);
    assert_eq!(all(&store), chain);
    assert_eq!(fs::read(&index).unwrap(), original);
    carries_on(store, dir.path(), &chain, 20);
}

/// Something done to a file.
type Damage = fn(&Path);

#[test]
fn a_damaged_index_is_rebuilt_from_the_chunks() {
    let damage: [(&str, Damage); 4] = [
        ("flipped entry", |p| {
            flip(p, (14 * INDEX_ENTRY_LEN + 30) as u64)
        }),
        ("partial entry", |p| cut(p, 50)),
        ("bad magic", |p| {
            let mut b = fs::read(p).unwrap();
            b[0] = b'X';
            fs::write(p, b).unwrap();
        }),
        ("extra garbage", |p| {
            append_bytes(p, &[1; 2 * INDEX_ENTRY_LEN])
        }),
    ];
    for (what, damage) in damage {
        let dir = tempfile::tempdir().unwrap();
        let chain = twenty(dir.path());
        let index = dir.path().join("index.dat");
        let original = fs::read(&index).unwrap();
        damage(&index);

        let (store, report) = open(dir.path(), 1500);
        assert_eq!(report.blocks, 20, "{what}");
        assert_eq!(report.truncated_bytes, 0, "{what}");
        assert!(!report.is_clean(), "{what}");
        assert_eq!(all(&store), chain, "{what}");
        assert_eq!(fs::read(&index).unwrap(), original, "{what}");
        carries_on(store, dir.path(), &chain, 20);
    }
}

#[test]
fn append_refuses_a_wrong_block_no_or_prev_hash() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_clean(dir.path(), 1 << 20);
    let chain = grow(&mut store, 3, 1, varied);

    let (skip, bytes) = next_block(Some(&chain[2].0), 1, 5);
    let skip = BlockInfo {
        block_no: 4,
        ..skip
    };
    let err = store.append(&skip, &bytes).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot append block 4: the next block number is 3"
    );

    let (orphan, bytes) = next_block(Some(&chain[0].0), 1, 5);
    let orphan = BlockInfo {
        block_no: 3,
        ..orphan
    };
    let err = store.append(&orphan, &bytes).unwrap_err();
    assert!(
        matches!(err, StoreError::WrongPrevHash { block_no: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("is not the tip's hash"), "{err}");

    assert_eq!(store.len(), 3);
    assert_eq!(all(&store), chain);
}

#[test]
fn damage_in_an_early_chunk_is_caught_on_read_or_by_a_full_check() {
    let dir = tempfile::tempdir().unwrap();
    let chain = twenty(dir.path());
    assert!(chunk_files(dir.path()).len() >= 3);
    // The payload of block 1, in chunk 0, which open trusts the index for.
    let at = record_len(&chain[0]) + RECORD_HEADER_LEN as u64 + 1;
    let first = dir.path().join("chunk-00000.dat");
    let len = fs::metadata(&first).unwrap().len();
    flip(&first, len - at);

    let store = open_clean(dir.path(), 1500);
    let err = store.get(1).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{msg}");
    assert!(
        msg.contains("chunk-00000.dat")
            && msg.contains(&format!("offset {}", record_len(&chain[0]))),
        "{msg}"
    );
    let read: Vec<_> = store.iter_from(0).collect();
    assert_eq!(read.len(), 2, "the iterator stops after an error");
    assert!(read[0].is_ok() && read[1].is_err());
    drop(store);

    let full = StoreOptions {
        verify_all_chunks: true,
        ..opts(1500)
    };
    let (store, report) = ChainStore::open(dir.path(), full).unwrap();
    assert_eq!(report.blocks, 1);
    assert_eq!(report.dropped_index_entries, 19);
    // Chunk 1 does not link to block 0 and is emptied; the ones after it are removed.
    let files = chunk_files(dir.path());
    assert_eq!(files.len(), 2);
    assert_eq!(fs::metadata(&files[1]).unwrap().len(), 0);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("does not extend the chain")),
        "{report:#?}"
    );
    assert!(
        report.notes.iter().any(|n| n.contains("follows a break")),
        "{report:#?}"
    );
    carries_on(store, dir.path(), &chain, 1);
}

#[test]
fn chunks_after_a_missing_one_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let chain = twenty(dir.path());
    let files = chunk_files(dir.path());
    assert!(files.len() >= 4);
    fs::remove_file(&files[2]).unwrap();

    let (store, report) = open(dir.path(), 1500);
    let kept = store.len() as usize;
    assert!(kept > 0 && kept < 20);
    assert_eq!(chunk_files(dir.path()), files[..2]);
    assert_eq!(report.dropped_index_entries, 20 - kept as u64);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("chunk 2 is missing")),
        "{report:#?}"
    );
    carries_on(store, dir.path(), &chain, kept);
}

/// One step of the property test.
#[derive(Debug, Clone)]
enum Op {
    Append(usize),
    /// Keep `n % (len + 1)` blocks.
    Truncate(u64),
    Reopen,
    Sync,
    /// Cut `1 + n % record length` bytes off the tip's record, then reopen.
    Tear(u64),
    /// Append these bytes to the last chunk file, then reopen.
    Garbage(Vec<u8>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0usize..300).prop_map(Op::Append),
        2 => any::<u64>().prop_map(Op::Truncate),
        1 => Just(Op::Reopen),
        1 => Just(Op::Sync),
        1 => any::<u64>().prop_map(Op::Tear),
        1 => vec(any::<u8>(), 1..120).prop_map(Op::Garbage),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn store_matches_an_in_memory_chain(chunk in 150u64..1500, ops in vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let (mut store, _) = open(dir, chunk);
        let mut model: Vec<Block> = Vec::new();
        // Bumped on every rollback so a new fork never reuses a hash.
        let mut fork = 0;
        for op in ops {
            match op {
                Op::Append(size) => {
                    let block = next_block(model.last().map(|b| &b.0), fork, size);
                    store.append(&block.0, &block.1).unwrap();
                    model.push(block);
                }
                Op::Truncate(n) => {
                    let keep = n % (model.len() as u64 + 1);
                    store.truncate_after(keep.checked_sub(1)).unwrap();
                    model.truncate(keep as usize);
                    fork += 1;
                }
                Op::Sync => store.sync().unwrap(),
                Op::Reopen => {
                    drop(store);
                    let report;
                    (store, report) = open(dir, chunk);
                    prop_assert!(report.is_clean(), "{:#?}", report);
                }
                Op::Tear(n) => {
                    let Some(tip) = model.pop() else { continue };
                    drop(store);
                    let record = record_len(&tip);
                    let bytes = 1 + n % record;
                    cut(&tip_chunk(dir), bytes);
                    let report;
                    (store, report) = open(dir, chunk);
                    prop_assert_eq!(report.truncated_bytes, record - bytes);
                    prop_assert_eq!(report.dropped_index_entries, 1);
                    fork += 1;
                }
                Op::Garbage(bytes) => {
                    drop(store);
                    append_bytes(chunk_files(dir).last().unwrap(), &bytes);
                    let report;
                    (store, report) = open(dir, chunk);
                    prop_assert_eq!(report.truncated_bytes, bytes.len() as u64);
                    prop_assert_eq!(report.dropped_index_entries, 0);
                }
            }
            prop_assert_eq!(store.len(), model.len() as u64);
            prop_assert_eq!(store.tip(), model.last().map(|b| &b.0));
        }
        prop_assert_eq!(all(&store), model.clone());

        drop(store);
        fs::remove_file(dir.join("index.dat")).unwrap();
        let (store, report) = open(dir, chunk);
        prop_assert_eq!(report.rebuilt_index_entries, model.len() as u64);
        prop_assert_eq!(report.truncated_bytes, 0);
        prop_assert_eq!(all(&store), model);
    }
}
