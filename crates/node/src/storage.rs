//! On-disk block storage: the node's chain, appended to chunk files and indexed.
//!
//! Blocks are opaque bytes here; the store keeps a [`BlockInfo`] beside each one and insists that
//! every block extends the previous one (block numbers count up from 0 and `prev_hash` names the
//! tip). Chain selection rolls back with [`ChainStore::truncate_after`].
//!
//! # Files
//!
//! A store is a directory holding:
//!
//! ```text
//! chunk-00000.dat   records of the oldest blocks
//! chunk-00001.dat   the blocks after those, ...
//! index.dat         one fixed-size entry per block
//! ```
//!
//! Chunk numbers start at 0 and have no gaps; the number is zero-padded to at least five digits.
//! An append starts a new chunk when the record would push a non-empty chunk past
//! [`StoreOptions::chunk_size_bytes`]. All integers are little-endian.
//!
//! A chunk file is records back to back, from offset 0. Each record is a 97-byte header
//! ([`RECORD_HEADER_LEN`]) and then the block's bytes:
//!
//! | offset | size | field                                                          |
//! |-------:|-----:|----------------------------------------------------------------|
//! |      0 |    4 | magic, `u32` `0x3142_4257` (the bytes `WBB1`)                  |
//! |      4 |    4 | payload length, `u32`, at most [`MAX_BLOCK_BYTES`]             |
//! |      8 |    8 | checksum: BLAKE2b with an 8-byte digest of bytes 4..8, 16..97 and the payload |
//! |     16 |   81 | block meta (below)                                             |
//! |     97 |    n | payload                                                        |
//!
//! Block meta, 81 bytes: `slot u64`, `block_no u64`, `hash [u8; 32]`, a `prev_hash` flag byte
//! (0 = none, 1 = present) and `prev_hash [u8; 32]` (zeros when absent).
//!
//! `index.dat` is the 8 bytes `WBINDEX1` and then one 105-byte entry ([`INDEX_ENTRY_LEN`]) per
//! block, entry `i` for block `i`:
//!
//! | offset | size | field                                              |
//! |-------:|-----:|----------------------------------------------------|
//! |      0 |    4 | chunk number, `u32`                                |
//! |      4 |    4 | payload length, `u32`                              |
//! |      8 |    8 | record offset in the chunk, `u64`                  |
//! |     16 |   81 | block meta, as in the record                       |
//! |     97 |    8 | checksum: BLAKE2b, 8-byte digest, of bytes 0..97   |
//!
//! # Crash safety and repair
//!
//! Appends go to the OS without `fsync` unless [`StoreOptions::sync_every_append`] is set or
//! [`ChainStore::sync`] is called, so a crash may lose the newest blocks. Before an append
//! starts a new chunk, the finished chunk and the index are synced, so only the last chunk can
//! have a torn tail.
//!
//! [`ChainStore::open`] trusts the index for earlier chunks whose entries end exactly at the
//! file's end, and reads the last non-empty chunk (or every chunk, with
//! [`StoreOptions::verify_all_chunks`]) record by record, checking magic, length, checksum and
//! that each block extends the chain. The first record that fails, and everything after it in
//! that chunk, is cut off; if a whole record does not extend the chain, the later chunk files
//! are removed too. When the index and the chunks disagree, the chunks win and the index is
//! rewritten from them. What was repaired is returned as a [`RepairReport`].
//!
//! Reads check every record's checksum and compare it with the index, so damage in a chunk
//! that open trusted surfaces as [`StoreError::Corrupt`], never as wrong bytes.
//!
//! One process at a time may open a store; nothing on disk enforces that.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The largest block the store accepts, in bytes.
pub const MAX_BLOCK_BYTES: usize = 64 << 20;

/// The default [`StoreOptions::chunk_size_bytes`].
pub const DEFAULT_CHUNK_SIZE_BYTES: u64 = 64 << 20;

/// Bytes in a chunk record before its payload.
pub const RECORD_HEADER_LEN: usize = 4 + 4 + 8 + META_LEN;

/// Bytes in one `index.dat` entry.
pub const INDEX_ENTRY_LEN: usize = 4 + 4 + 8 + META_LEN + 8;

const META_LEN: usize = 8 + 8 + 32 + 1 + 32;
const RECORD_MAGIC: [u8; 4] = *b"WBB1";
const INDEX_MAGIC: [u8; 8] = *b"WBINDEX1";
const INDEX_HEADER_LEN: u64 = INDEX_MAGIC.len() as u64;
const INDEX_FILE: &str = "index.dat";

/// What storage keeps per block besides its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockInfo {
    /// The slot the block was forged in.
    pub slot: u64,
    /// The block's height: 0 for the first block, then one more than its predecessor.
    pub block_no: u64,
    /// The block's hash; unique within the chain.
    pub hash: [u8; 32],
    /// The predecessor's hash. For block 0 this is the chain's anchor (`None` for origin, or a
    /// genesis hash) and is not checked; for later blocks it must be the tip's hash.
    pub prev_hash: Option<[u8; 32]>,
}

impl BlockInfo {
    fn encode(&self) -> [u8; META_LEN] {
        let mut b = [0; META_LEN];
        b[0..8].copy_from_slice(&self.slot.to_le_bytes());
        b[8..16].copy_from_slice(&self.block_no.to_le_bytes());
        b[16..48].copy_from_slice(&self.hash);
        if let Some(prev) = self.prev_hash {
            b[48] = 1;
            b[49..81].copy_from_slice(&prev);
        }
        b
    }

    fn decode(b: &[u8; META_LEN]) -> Result<Self, String> {
        let prev_hash = match b[48] {
            0 => None,
            1 => Some(take(b, 49)),
            flag => return Err(format!("prev_hash flag is {flag}, not 0 or 1")),
        };
        Ok(Self {
            slot: u64::from_le_bytes(take(b, 0)),
            block_no: u64::from_le_bytes(take(b, 8)),
            hash: take(b, 16),
            prev_hash,
        })
    }
}

/// How a store behaves; [`Default`] gives 64 MiB chunks, no per-append sync and a check of
/// the last chunk only on open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// An append starts a new chunk file when its record would take a non-empty chunk past this
    /// size. A block larger than this gets a chunk of its own.
    pub chunk_size_bytes: u64,
    /// Sync data and index after every append and rollback, not only on [`ChainStore::sync`].
    pub sync_every_append: bool,
    /// On open, read and check every record in every chunk instead of trusting the index for
    /// all but the last chunk. Slower; for after a power loss or when in doubt.
    pub verify_all_chunks: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            chunk_size_bytes: DEFAULT_CHUNK_SIZE_BYTES,
            sync_every_append: false,
            verify_all_chunks: false,
        }
    }
}

/// What [`ChainStore::open`] found and fixed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairReport {
    /// Blocks in the chain after opening.
    pub blocks: u64,
    /// Bytes cut from chunk files: torn or corrupt tails and unreachable chunk files.
    pub truncated_bytes: u64,
    /// Entries in `index.dat` that the chunks did not back (or that were damaged), dropped.
    pub dropped_index_entries: u64,
    /// Entries written to `index.dat` from what was read in the chunks.
    pub rebuilt_index_entries: u64,
    /// One line per repair, naming the file and offset.
    pub notes: Vec<String>,
}

impl RepairReport {
    /// True when open found nothing to repair.
    pub fn is_clean(&self) -> bool {
        self.truncated_bytes == 0
            && self.dropped_index_entries == 0
            && self.rebuilt_index_entries == 0
            && self.notes.is_empty()
    }
}

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file operation failed.
    #[error("{}{}: {op}: {source}", .path.display(), at(.offset))]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Where in the file, when it matters.
        offset: Option<u64>,
        /// What the store was doing.
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// Bytes on disk that are not what the store wrote there.
    #[error("{}: corrupt record at offset {offset}: {reason}", .path.display())]
    Corrupt {
        /// The chunk file.
        path: PathBuf,
        /// The record's offset in it.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A block above [`MAX_BLOCK_BYTES`].
    #[error("block of {len} bytes exceeds the limit of {max} bytes")]
    BlockTooLarge {
        /// The block's size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An appended block whose number is not one past the tip's.
    #[error("cannot append block {got}: the next block number is {expected}")]
    WrongBlockNo {
        /// The number the next block must have.
        expected: u64,
        /// The number it had.
        got: u64,
    },
    /// An appended block whose `prev_hash` is not the tip's hash.
    #[error(
        "cannot append block {block_no}: its prev_hash {} is not the tip's hash {}",
        hex_opt(.got),
        hex(.expected)
    )]
    WrongPrevHash {
        /// The block's number.
        block_no: u64,
        /// The tip's hash.
        expected: [u8; 32],
        /// The block's `prev_hash`.
        got: Option<[u8; 32]>,
    },
    /// An appended block whose hash is already in the chain.
    #[error("cannot append block {block_no}: its hash {} is already block {existing}", hex(.hash))]
    DuplicateHash {
        /// The block's number.
        block_no: u64,
        /// Its hash.
        hash: [u8; 32],
        /// The block that already has it.
        existing: u64,
    },
    /// A rollback to a block the chain does not have.
    #[error("cannot roll back to block {block_no}: the chain has {len} blocks")]
    NoSuchBlock {
        /// The block asked for.
        block_no: u64,
        /// Blocks in the chain.
        len: u64,
    },
    /// Chunk numbers ran out (more than `u32::MAX` chunk files).
    #[error("{}: no chunk numbers left", .dir.display())]
    OutOfChunks {
        /// The store's directory.
        dir: PathBuf,
    },
    /// An earlier write failed half-way and could not be undone; the store refuses writes.
    #[error("{}: an earlier write failed part-way; reopen the store to repair it", .dir.display())]
    Poisoned {
        /// The store's directory.
        dir: PathBuf,
    },
}

/// An append-only chain of blocks in a directory, with rollback of its tail.
///
/// Metadata of every block is kept in memory; block bytes are read from disk on demand.
pub struct ChainStore {
    dir: PathBuf,
    opts: StoreOptions,
    chain: Chain,
    index: File,
    head: Head,
    poisoned: bool,
}

impl ChainStore {
    /// Opens the store in `dir`, creating the directory and an empty store if needed.
    ///
    /// Scans the chunk files and the index and repairs a torn tail (a partial last record, an
    /// index entry pointing past a chunk's end, a checksum mismatch, garbage after the last
    /// record): it cuts the chain back to the last whole, verified block and reports what it
    /// did. Fails only on I/O errors.
    pub fn open(dir: &Path, opts: StoreOptions) -> Result<(Self, RepairReport), StoreError> {
        fs::create_dir_all(dir).map_err(io_at(dir, None, "creating the store directory"))?;
        let mut report = RepairReport::default();
        let mut chunks = list_chunks(dir, &mut report)?;
        let index_path = dir.join(INDEX_FILE);
        let loaded = load_index(&index_path, &mut report)?;

        let chain = read_chunks(dir, &opts, &mut chunks, &loaded, &mut report)?;
        let index = reconcile_index(&index_path, &loaded, &chain, &mut report)?;
        let head = match chunks.last() {
            Some(last) => Head::open(dir, last.no, last.len)?,
            None => Head::create(dir, 0)?,
        };
        report.blocks = chain.len();
        let store = Self {
            dir: dir.to_owned(),
            opts,
            chain,
            index,
            head,
            poisoned: false,
        };
        Ok((store, report))
    }

    /// Appends a block. Its `block_no` must be one past the tip's (0 on an empty chain), its
    /// `prev_hash` the tip's hash, and its hash new to the chain.
    ///
    /// The data reaches the OS, not necessarily the disk: see [`sync`](Self::sync). If syncing
    /// after the append fails (with [`StoreOptions::sync_every_append`]) the block stays
    /// appended.
    pub fn append(&mut self, info: &BlockInfo, block: &[u8]) -> Result<(), StoreError> {
        self.check_writable()?;
        let len = u32::try_from(block.len())
            .ok()
            .filter(|_| block.len() <= MAX_BLOCK_BYTES)
            .ok_or(StoreError::BlockTooLarge {
                len: block.len(),
                max: MAX_BLOCK_BYTES,
            })?;
        self.chain.check_next(info)?;
        let size = record_len(len);
        if self.head.end > 0 && self.head.end.saturating_add(size) > self.opts.chunk_size_bytes {
            self.roll_over()?;
        }

        let entry = Entry {
            info: *info,
            chunk: self.head.no,
            offset: self.head.end,
            len,
        };
        let header = encode_header(info, len, block);
        let written = write_at(&mut self.head.file, entry.offset, &[&header, block]);
        if let Err(e) = written {
            // Leaving a partial record would put the next one after garbage.
            if self.head.file.set_len(entry.offset).is_err() {
                self.poisoned = true;
            }
            return Err(io_at(
                &self.head.path,
                Some(entry.offset),
                "appending a record",
            )(e));
        }
        let index_at = index_offset(self.chain.len());
        if let Err(e) = write_at(&mut self.index, index_at, &[&entry.encode()]) {
            let undone = self.index.set_len(index_at).is_ok()
                && self.head.file.set_len(entry.offset).is_ok();
            if !undone {
                self.poisoned = true;
            }
            let path = self.dir.join(INDEX_FILE);
            return Err(io_at(&path, Some(index_at), "appending an index entry")(e));
        }
        self.head.end = entry.end();
        self.chain.push(entry);
        if self.opts.sync_every_append {
            self.sync()?;
        }
        Ok(())
    }

    /// The newest block, if any.
    pub fn tip(&self) -> Option<&BlockInfo> {
        self.chain.entries.last().map(|e| &e.info)
    }

    /// Blocks in the chain; the tip's `block_no` is one less.
    pub fn len(&self) -> u64 {
        self.chain.len()
    }

    /// True when the chain has no blocks.
    pub fn is_empty(&self) -> bool {
        self.chain.entries.is_empty()
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A block's metadata, from memory.
    pub fn info(&self, block_no: u64) -> Option<&BlockInfo> {
        self.entry(block_no).map(|e| &e.info)
    }

    /// The metadata of the block with this hash, from memory.
    pub fn info_by_hash(&self, hash: &[u8; 32]) -> Option<&BlockInfo> {
        self.chain.by_hash.get(hash).and_then(|&n| self.info(n))
    }

    /// A block and its metadata, read from disk and checked; `None` past the tip.
    pub fn get(&self, block_no: u64) -> Result<Option<(BlockInfo, Vec<u8>)>, StoreError> {
        let Some(entry) = self.entry(block_no) else {
            return Ok(None);
        };
        let path = chunk_path(&self.dir, entry.chunk);
        let mut file = File::open(&path).map_err(io_at(&path, None, "opening"))?;
        let block = read_record(&mut file, &path, entry)?;
        Ok(Some((entry.info, block)))
    }

    /// The block with this hash, read from disk and checked; `None` if the chain lacks it.
    pub fn get_by_hash(&self, hash: &[u8; 32]) -> Result<Option<(BlockInfo, Vec<u8>)>, StoreError> {
        match self.chain.by_hash.get(hash) {
            Some(&block_no) => self.get(block_no),
            None => Ok(None),
        }
    }

    /// The blocks from `block_no` to the tip, in order. Stops after the first error.
    pub fn iter_from(
        &self,
        block_no: u64,
    ) -> impl Iterator<Item = Result<(BlockInfo, Vec<u8>), StoreError>> + '_ {
        Blocks {
            store: self,
            next: block_no,
            open: None,
            failed: false,
        }
    }

    /// Rolls back: keeps blocks `0..=block_no` (`None` keeps none) and drops the rest from
    /// memory and disk. Rolling back to the tip does nothing.
    ///
    /// Like appends, a rollback within the last chunk is durable only after
    /// [`sync`](Self::sync); one that removes chunk files syncs at once.
    pub fn truncate_after(&mut self, block_no: Option<u64>) -> Result<(), StoreError> {
        self.check_writable()?;
        let keep = match block_no {
            None => 0,
            Some(n) if n < self.len() => n + 1,
            Some(n) => {
                return Err(StoreError::NoSuchBlock {
                    block_no: n,
                    len: self.len(),
                });
            }
        };
        if keep == self.len() {
            return Ok(());
        }
        let result = self.truncate_files(keep);
        if result.is_err() {
            // Disk and memory may now disagree; open repairs that, blind writes would not.
            self.poisoned = true;
        }
        result
    }

    /// Syncs the last chunk file and the index to disk.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.head
            .file
            .sync_data()
            .map_err(io_at(&self.head.path, None, "syncing"))?;
        let path = self.dir.join(INDEX_FILE);
        self.index
            .sync_data()
            .map_err(io_at(&path, None, "syncing"))
    }

    fn entry(&self, block_no: u64) -> Option<&Entry> {
        usize::try_from(block_no)
            .ok()
            .and_then(|i| self.chain.entries.get(i))
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned {
                dir: self.dir.clone(),
            });
        }
        Ok(())
    }

    fn roll_over(&mut self) -> Result<(), StoreError> {
        let next = self
            .head
            .no
            .checked_add(1)
            .ok_or_else(|| StoreError::OutOfChunks {
                dir: self.dir.clone(),
            })?;
        // Sealing the full chunk means open only ever has to scan the last one.
        let head = &mut self.head;
        head.file.set_len(head.end).map_err(io_at(
            &head.path,
            Some(head.end),
            "sealing the chunk",
        ))?;
        head.file
            .sync_data()
            .map_err(io_at(&head.path, None, "syncing"))?;
        let index_path = self.dir.join(INDEX_FILE);
        self.index
            .sync_data()
            .map_err(io_at(&index_path, None, "syncing"))?;
        self.head = Head::create(&self.dir, next)?;
        Ok(())
    }

    fn truncate_files(&mut self, keep: u64) -> Result<(), StoreError> {
        let (chunk, end) = match keep.checked_sub(1).and_then(|last| self.entry(last)) {
            Some(e) => (e.chunk, e.end()),
            None => (0, 0),
        };
        // The index goes first so that it never points at bytes that are gone.
        let index_path = self.dir.join(INDEX_FILE);
        let index_len = index_offset(keep);
        self.index
            .set_len(index_len)
            .map_err(io_at(&index_path, Some(index_len), "truncating"))?;
        self.chain.truncate(keep);

        let removes_chunks = chunk != self.head.no;
        if removes_chunks {
            for no in (chunk + 1..=self.head.no).rev() {
                remove_file(&chunk_path(&self.dir, no))?;
            }
            self.head = Head::open(&self.dir, chunk, end)?;
        }
        let head = &mut self.head;
        head.file
            .set_len(end)
            .map_err(io_at(&head.path, Some(end), "truncating"))?;
        head.end = end;
        if removes_chunks {
            // The next appends land in an earlier chunk, which open would otherwise trust.
            self.sync()?;
            sync_dir(&self.dir)?;
        } else if self.opts.sync_every_append {
            self.sync()?;
        }
        Ok(())
    }
}

impl fmt::Debug for ChainStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainStore")
            .field("dir", &self.dir)
            .field("blocks", &self.len())
            .field("tip", &self.tip())
            .field("chunk", &self.head.no)
            .finish_non_exhaustive()
    }
}

/// Where a block lives on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    info: BlockInfo,
    chunk: u32,
    offset: u64,
    len: u32,
}

impl Entry {
    fn end(&self) -> u64 {
        // Saturating: an index entry's offset comes from disk.
        self.offset.saturating_add(record_len(self.len))
    }

    fn encode(&self) -> [u8; INDEX_ENTRY_LEN] {
        let mut b = [0; INDEX_ENTRY_LEN];
        b[0..4].copy_from_slice(&self.chunk.to_le_bytes());
        b[4..8].copy_from_slice(&self.len.to_le_bytes());
        b[8..16].copy_from_slice(&self.offset.to_le_bytes());
        b[16..97].copy_from_slice(&self.info.encode());
        let sum = checksum(&[&b[..97]]);
        b[97..].copy_from_slice(&sum);
        b
    }

    fn decode(b: &[u8; INDEX_ENTRY_LEN]) -> Result<Self, String> {
        if checksum(&[&b[..97]]) != take::<8>(b, 97) {
            return Err("checksum mismatch".into());
        }
        let len = u32::from_le_bytes(take(b, 4));
        if len as usize > MAX_BLOCK_BYTES {
            return Err(format!("payload length {len} exceeds the limit"));
        }
        Ok(Self {
            info: BlockInfo::decode(&take(b, 16))?,
            chunk: u32::from_le_bytes(take(b, 0)),
            offset: u64::from_le_bytes(take(b, 8)),
            len,
        })
    }

    /// Checks the layout rules that hold for entry `i` after `prev`.
    fn follows(&self, prev: Option<&Entry>, i: u64) -> Result<(), String> {
        if self.info.block_no != i {
            return Err(format!("block_no is {}, expected {i}", self.info.block_no));
        }
        let offset = match prev {
            Some(p) if p.chunk == self.chunk => p.end(),
            Some(p) if p.chunk > self.chunk => {
                return Err(format!("chunk {} after chunk {}", self.chunk, p.chunk));
            }
            _ => 0,
        };
        if self.offset != offset {
            return Err(format!("offset is {}, expected {offset}", self.offset));
        }
        Ok(())
    }
}

/// The chain's metadata, as kept in memory.
#[derive(Default)]
struct Chain {
    entries: Vec<Entry>,
    by_hash: HashMap<[u8; 32], u64>,
}

impl Chain {
    fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    fn check_next(&self, info: &BlockInfo) -> Result<(), StoreError> {
        let expected = self.len();
        if info.block_no != expected {
            return Err(StoreError::WrongBlockNo {
                expected,
                got: info.block_no,
            });
        }
        match self.entries.last() {
            Some(tip) if info.prev_hash != Some(tip.info.hash) => {
                return Err(StoreError::WrongPrevHash {
                    block_no: info.block_no,
                    expected: tip.info.hash,
                    got: info.prev_hash,
                });
            }
            _ => {}
        }
        if let Some(&existing) = self.by_hash.get(&info.hash) {
            return Err(StoreError::DuplicateHash {
                block_no: info.block_no,
                hash: info.hash,
                existing,
            });
        }
        Ok(())
    }

    fn push(&mut self, entry: Entry) {
        self.by_hash.insert(entry.info.hash, entry.info.block_no);
        self.entries.push(entry);
    }

    /// Pushes all of `entries`, or none if one does not extend the chain.
    fn try_extend(&mut self, entries: &[Entry]) -> bool {
        let start = self.entries.len();
        for e in entries {
            if self.check_next(&e.info).is_err() {
                self.truncate(start as u64);
                return false;
            }
            self.push(*e);
        }
        true
    }

    fn truncate(&mut self, len: u64) {
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len < self.entries.len() {
            for e in self.entries.drain(len..) {
                self.by_hash.remove(&e.info.hash);
            }
        }
    }
}

/// The chunk appends go to.
struct Head {
    no: u32,
    path: PathBuf,
    file: File,
    end: u64,
}

impl Head {
    fn create(dir: &Path, no: u32) -> Result<Self, StoreError> {
        let path = chunk_path(dir, no);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(io_at(&path, None, "creating"))?;
        // The new name must survive a crash, or open would see a gap in the chunk numbers.
        sync_dir(dir)?;
        Ok(Self {
            no,
            path,
            file,
            end: 0,
        })
    }

    fn open(dir: &Path, no: u32, end: u64) -> Result<Self, StoreError> {
        let path = chunk_path(dir, no);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_at(&path, None, "opening"))?;
        Ok(Self {
            no,
            path,
            file,
            end,
        })
    }
}

/// Reads the blocks of [`ChainStore::iter_from`], keeping the current chunk file open.
struct Blocks<'a> {
    store: &'a ChainStore,
    next: u64,
    open: Option<(u32, File)>,
    failed: bool,
}

impl Blocks<'_> {
    fn read(&mut self, entry: &Entry) -> Result<Vec<u8>, StoreError> {
        let path = chunk_path(&self.store.dir, entry.chunk);
        let mut file = match self.open.take() {
            Some((no, file)) if no == entry.chunk => file,
            _ => File::open(&path).map_err(io_at(&path, None, "opening"))?,
        };
        let block = read_record(&mut file, &path, entry);
        self.open = Some((entry.chunk, file));
        block
    }
}

impl Iterator for Blocks<'_> {
    type Item = Result<(BlockInfo, Vec<u8>), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let entry = *self.store.entry(self.next)?;
        self.next += 1;
        let block = self.read(&entry);
        self.failed = block.is_err();
        Some(block.map(|b| (entry.info, b)))
    }
}

/// A chunk file found on open.
struct ChunkFile {
    no: u32,
    len: u64,
}

/// Builds the chain from the chunk files, trusting the index where it may and scanning where it
/// must; cuts torn tails and removes chunk files past a break in the chain.
fn read_chunks(
    dir: &Path,
    opts: &StoreOptions,
    chunks: &mut Vec<ChunkFile>,
    loaded: &LoadedIndex,
    report: &mut RepairReport,
) -> Result<Chain, StoreError> {
    let mut chain = Chain::default();
    let last_nonempty = chunks.iter().rposition(|c| c.len > 0);
    // While true, `chain` equals the index's first entries, so the index can be trusted
    // for the next chunk.
    let mut index_agrees = true;
    let mut kept = chunks.len();
    for (i, chunk) in chunks.iter_mut().enumerate() {
        let start = chain.entries.len();
        let from_index: &[Entry] = if index_agrees {
            let rest = loaded.entries.get(start..).unwrap_or_default();
            let n = rest.iter().take_while(|e| e.chunk == chunk.no).count();
            &rest[..n]
        } else {
            &[]
        };
        let must_scan =
            opts.verify_all_chunks || !index_agrees || last_nonempty.is_none_or(|last| i >= last);
        if !must_scan
            && from_index.last().map_or(0, Entry::end) == chunk.len
            && chain.try_extend(from_index)
        {
            continue;
        }
        let path = chunk_path(dir, chunk.no);
        let (good_len, stop) = scan_chunk(&path, chunk.no, chunk.len, &mut chain)?;
        index_agrees = index_agrees && chain.entries[start..] == *from_index;
        let Some(stop) = stop else { continue };
        let cut = chunk.len - good_len;
        truncate_file(&path, good_len)?;
        report.truncated_bytes += cut;
        report.notes.push(format!(
            "{}: {} at offset {}; cut {cut} bytes",
            path.display(),
            stop.reason,
            stop.offset
        ));
        chunk.len = good_len;
        if stop.breaks_chain {
            kept = i + 1;
            break;
        }
    }
    let removed = chunks.len() - kept;
    // Highest first, so a crash part-way still leaves chunk numbers without gaps.
    for chunk in chunks.drain(kept..).rev() {
        let path = chunk_path(dir, chunk.no);
        remove_file(&path)?;
        report.truncated_bytes += chunk.len;
        report.notes.push(format!(
            "{}: removed ({} bytes): it follows a break in the chain",
            path.display(),
            chunk.len
        ));
    }
    if removed > 0 {
        sync_dir(dir)?;
    }
    Ok(chain)
}

/// Opens `index.dat` and makes it match `chain`, keeping what already does.
fn reconcile_index(
    index_path: &Path,
    loaded: &LoadedIndex,
    chain: &Chain,
    report: &mut RepairReport,
) -> Result<File, StoreError> {
    let mut index = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(index_path)
        .map_err(io_at(index_path, None, "opening"))?;
    let common = loaded
        .entries
        .iter()
        .zip(&chain.entries)
        .take_while(|(a, b)| a == b)
        .count();
    report.dropped_index_entries = loaded.whole_entries - common as u64;
    report.rebuilt_index_entries = chain.len() - common as u64;
    if report.dropped_index_entries > 0 {
        report.notes.push(format!(
            "{}: dropped {} entries from entry {common} on that do not match the chunks",
            index_path.display(),
            report.dropped_index_entries
        ));
    }
    if report.rebuilt_index_entries > 0 {
        report.notes.push(format!(
            "{}: wrote {} entries from entry {common} on from the chunks",
            index_path.display(),
            report.rebuilt_index_entries
        ));
    }
    let dirty = !loaded.header_ok
        || loaded.trailing_bytes > 0
        || report.dropped_index_entries > 0
        || report.rebuilt_index_entries > 0;
    if dirty {
        rewrite_index(&mut index, index_path, common, &chain.entries)?;
    }
    Ok(index)
}

/// Lists the chunk files, removing any after a missing number: no chain can reach them.
fn list_chunks(dir: &Path, report: &mut RepairReport) -> Result<Vec<ChunkFile>, StoreError> {
    let mut found = Vec::new();
    let entries = fs::read_dir(dir).map_err(io_at(dir, None, "listing"))?;
    for entry in entries {
        let entry = entry.map_err(io_at(dir, None, "listing"))?;
        let Some(no) = entry.file_name().to_str().and_then(parse_chunk_name) else {
            continue;
        };
        let path = entry.path();
        let meta = fs::metadata(&path).map_err(io_at(&path, None, "reading metadata of"))?;
        if meta.is_file() {
            found.push(ChunkFile {
                no,
                len: meta.len(),
            });
        }
    }
    found.sort_unstable_by_key(|c| c.no);
    let contiguous = found
        .iter()
        .zip(0..)
        .take_while(|(c, i)| c.no == *i)
        .count();
    if contiguous == found.len() {
        return Ok(found);
    }
    for chunk in found.drain(contiguous..).rev() {
        let path = chunk_path(dir, chunk.no);
        remove_file(&path)?;
        report.truncated_bytes += chunk.len;
        report.notes.push(format!(
            "{}: removed ({} bytes): chunk {contiguous} is missing",
            path.display(),
            chunk.len
        ));
    }
    sync_dir(dir)?;
    Ok(found)
}

fn chunk_path(dir: &Path, no: u32) -> PathBuf {
    dir.join(format!("chunk-{no:05}.dat"))
}

/// The chunk number in a file name, only if the name is exactly what the store writes.
fn parse_chunk_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("chunk-")?.strip_suffix(".dat")?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let no = digits.parse().ok()?;
    (format!("{no:05}") == digits).then_some(no)
}

/// The index as read from disk: its well-formed, consistent prefix.
#[derive(Default)]
struct LoadedIndex {
    entries: Vec<Entry>,
    header_ok: bool,
    /// Whole entries in the file, well-formed or not.
    whole_entries: u64,
    /// Bytes after the last whole entry.
    trailing_bytes: u64,
}

fn load_index(path: &Path, report: &mut RepairReport) -> Result<LoadedIndex, StoreError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(LoadedIndex::default()),
        Err(e) => return Err(io_at(path, None, "opening")(e)),
    };
    let len = file
        .metadata()
        .map_err(io_at(path, None, "reading metadata of"))?
        .len();
    let mut r = BufReader::with_capacity(1 << 16, file);
    let mut magic = [0; INDEX_MAGIC.len()];
    if len < INDEX_HEADER_LEN {
        if len > 0 {
            report
                .notes
                .push(format!("{}: too short for a header", path.display()));
        }
        return Ok(LoadedIndex::default());
    }
    r.read_exact(&mut magic)
        .map_err(io_at(path, Some(0), "reading the header"))?;
    if magic != INDEX_MAGIC {
        report
            .notes
            .push(format!("{}: bad magic {}", path.display(), hex(&magic)));
        return Ok(LoadedIndex::default());
    }
    let body = len - INDEX_HEADER_LEN;
    let mut loaded = LoadedIndex {
        entries: Vec::new(),
        header_ok: true,
        whole_entries: body / INDEX_ENTRY_LEN as u64,
        trailing_bytes: body % INDEX_ENTRY_LEN as u64,
    };
    if loaded.trailing_bytes > 0 {
        report.notes.push(format!(
            "{}: {} bytes of a partial entry at offset {}",
            path.display(),
            loaded.trailing_bytes,
            index_offset(loaded.whole_entries)
        ));
    }
    let mut buf = [0; INDEX_ENTRY_LEN];
    for i in 0..loaded.whole_entries {
        let offset = index_offset(i);
        r.read_exact(&mut buf)
            .map_err(io_at(path, Some(offset), "reading an entry"))?;
        let entry = Entry::decode(&buf);
        let checked = entry.and_then(|e| e.follows(loaded.entries.last(), i).map(|()| e));
        match checked {
            Ok(e) => loaded.entries.push(e),
            Err(reason) => {
                report.notes.push(format!(
                    "{}: entry {i} at offset {offset}: {reason}; ignoring it and what follows",
                    path.display()
                ));
                break;
            }
        }
    }
    Ok(loaded)
}

/// Rewrites `index.dat` from `entries`, keeping the header and the first `common` entries
/// (none and no header when `common` is 0, as after a bad header).
fn rewrite_index(
    index: &mut File,
    path: &Path,
    common: usize,
    entries: &[Entry],
) -> Result<(), StoreError> {
    let keep = if common > 0 {
        index_offset(common as u64)
    } else {
        0
    };
    index
        .set_len(keep)
        .map_err(io_at(path, Some(keep), "truncating"))?;
    index
        .seek(SeekFrom::Start(keep))
        .map_err(io_at(path, Some(keep), "seeking"))?;
    let write = |w: &mut BufWriter<&mut File>| -> io::Result<()> {
        if common == 0 {
            w.write_all(&INDEX_MAGIC)?;
        }
        for e in &entries[common..] {
            w.write_all(&e.encode())?;
        }
        w.flush()
    };
    write(&mut BufWriter::with_capacity(1 << 16, &mut *index)).map_err(io_at(
        path,
        Some(keep),
        "rewriting",
    ))?;
    index.sync_data().map_err(io_at(path, None, "syncing"))
}

fn index_offset(entry: u64) -> u64 {
    INDEX_HEADER_LEN + entry * INDEX_ENTRY_LEN as u64
}

/// Where and why a chunk scan stopped before the end of the file.
struct Stop {
    offset: u64,
    reason: String,
    /// A whole, intact record that does not extend the chain: nothing after it can.
    breaks_chain: bool,
}

/// Reads the records of a chunk into `chain` until the end or the first bad record; returns how
/// many bytes are good and, if that is not all of them, why.
fn scan_chunk(
    path: &Path,
    no: u32,
    len: u64,
    chain: &mut Chain,
) -> Result<(u64, Option<Stop>), StoreError> {
    let file = File::open(path).map_err(io_at(path, None, "opening"))?;
    let mut r = BufReader::with_capacity(1 << 16, file);
    let mut offset = 0;
    let mut payload = Vec::new();
    while offset < len {
        let stop = |reason: String, breaks_chain| {
            let stop = Stop {
                offset,
                reason,
                breaks_chain,
            };
            Ok((offset, Some(stop)))
        };
        if len - offset < RECORD_HEADER_LEN as u64 {
            return stop(
                format!("partial record header ({} bytes)", len - offset),
                false,
            );
        }
        let mut header = [0; RECORD_HEADER_LEN];
        r.read_exact(&mut header)
            .map_err(io_at(path, Some(offset), "reading a record header"))?;
        let h = match decode_header(&header) {
            Ok(h) => h,
            Err(reason) => return stop(reason, false),
        };
        let end = offset + record_len(h.len);
        if end > len {
            let reason = format!("record of {} payload bytes runs past the end", h.len);
            return stop(reason, false);
        }
        payload.resize(h.len as usize, 0);
        r.read_exact(&mut payload)
            .map_err(io_at(path, Some(offset), "reading a record"))?;
        if record_checksum(&header, &payload) != h.sum {
            return stop("checksum mismatch".into(), false);
        }
        if let Err(e) = chain.check_next(&h.info) {
            return stop(format!("record does not extend the chain ({e})"), true);
        }
        chain.push(Entry {
            info: h.info,
            chunk: no,
            offset,
            len: h.len,
        });
        offset = end;
    }
    Ok((offset, None))
}

/// A record header, decoded but not yet checked against its payload.
#[derive(Debug)]
struct Header {
    len: u32,
    sum: [u8; 8],
    info: BlockInfo,
}

fn encode_header(info: &BlockInfo, len: u32, payload: &[u8]) -> [u8; RECORD_HEADER_LEN] {
    let mut h = [0; RECORD_HEADER_LEN];
    h[0..4].copy_from_slice(&RECORD_MAGIC);
    h[4..8].copy_from_slice(&len.to_le_bytes());
    h[16..].copy_from_slice(&info.encode());
    let sum = record_checksum(&h, payload);
    h[8..16].copy_from_slice(&sum);
    h
}

fn decode_header(h: &[u8; RECORD_HEADER_LEN]) -> Result<Header, String> {
    let magic: [u8; 4] = take(h, 0);
    if magic != RECORD_MAGIC {
        return Err(format!("bad magic {}", hex(&magic)));
    }
    let len = u32::from_le_bytes(take(h, 4));
    if len as usize > MAX_BLOCK_BYTES {
        return Err(format!("payload length {len} exceeds the limit"));
    }
    Ok(Header {
        len,
        sum: take(h, 8),
        info: BlockInfo::decode(&take(h, 16))?,
    })
}

/// Reads and checks the record of `entry`.
fn read_record(file: &mut File, path: &Path, entry: &Entry) -> Result<Vec<u8>, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        path: path.to_owned(),
        offset: entry.offset,
        reason,
    };
    let read = |file: &mut File, buf: &mut [u8]| match file.read_exact(buf) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            Err(corrupt("the file ends inside the record".into()))
        }
        other => other.map_err(io_at(path, Some(entry.offset), "reading a record")),
    };
    file.seek(SeekFrom::Start(entry.offset))
        .map_err(io_at(path, Some(entry.offset), "seeking"))?;
    let mut header = [0; RECORD_HEADER_LEN];
    read(file, &mut header)?;
    let h = decode_header(&header).map_err(corrupt)?;
    if h.len != entry.len || h.info != entry.info {
        return Err(corrupt("record does not match its index entry".into()));
    }
    let mut payload = vec![0; h.len as usize];
    read(file, &mut payload)?;
    if record_checksum(&header, &payload) != h.sum {
        return Err(corrupt("checksum mismatch".into()));
    }
    Ok(payload)
}

fn record_len(payload: u32) -> u64 {
    RECORD_HEADER_LEN as u64 + u64::from(payload)
}

/// The checksum covers everything in the record but the magic and itself.
fn record_checksum(header: &[u8; RECORD_HEADER_LEN], payload: &[u8]) -> [u8; 8] {
    checksum(&[&header[4..8], &header[16..], payload])
}

fn checksum(parts: &[&[u8]]) -> [u8; 8] {
    let mut state = blake2b_simd::Params::new().hash_length(8).to_state();
    for part in parts {
        state.update(part);
    }
    take(state.finalize().as_bytes(), 0)
}

/// `N` bytes of `b` from `at`; the callers' offsets are constants within their buffers.
fn take<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&b[at..at + N]);
    out
}

fn write_at(file: &mut File, offset: u64, parts: &[&[u8]]) -> io::Result<()> {
    file.seek(SeekFrom::Start(offset))?;
    for part in parts {
        file.write_all(part)?;
    }
    Ok(())
}

fn truncate_file(path: &Path, len: u64) -> Result<(), StoreError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_at(path, None, "opening"))?;
    file.set_len(len)
        .map_err(io_at(path, Some(len), "truncating"))?;
    file.sync_data().map_err(io_at(path, None, "syncing"))
}

fn remove_file(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_at(path, None, "removing")(e)),
        _ => Ok(()),
    }
}

/// Makes creations and removals in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_at(
        dir,
        None,
        "syncing the directory",
    ))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn io_at(
    path: &Path,
    offset: Option<u64>,
    op: &'static str,
) -> impl FnOnce(io::Error) -> StoreError {
    move |source| StoreError::Io {
        path: path.to_owned(),
        offset,
        op,
        source,
    }
}

fn at(offset: &Option<u64>) -> String {
    offset.map_or_else(String::new, |o| format!(" at offset {o}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_opt(hash: &Option<[u8; 32]>) -> String {
    hash.as_ref().map_or_else(|| "none".into(), |h| hex(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(tag: u8, n: u64) -> [u8; 32] {
        let mut h = [tag; 32];
        h[..8].copy_from_slice(&n.to_le_bytes());
        h
    }

    /// A chain of `n` blocks of varied sizes.
    fn blocks(n: u64, tag: u8) -> Vec<(BlockInfo, Vec<u8>)> {
        (0..n)
            .map(|i| {
                let info = BlockInfo {
                    slot: 3 + 20 * i,
                    block_no: i,
                    hash: hash(tag, i),
                    prev_hash: i.checked_sub(1).map(|p| hash(tag, p)),
                };
                let len = (i as usize % 7) * 10 + 5;
                (info, (0..len).map(|j| j as u8 ^ tag).collect())
            })
            .collect()
    }

    fn store(dir: &Path, chunk_size_bytes: u64) -> ChainStore {
        let opts = StoreOptions {
            chunk_size_bytes,
            ..StoreOptions::default()
        };
        let (store, report) = ChainStore::open(dir, opts).unwrap();
        assert!(report.is_clean(), "{report:?}");
        store
    }

    #[test]
    fn meta_round_trips_and_rejects_a_bad_flag() {
        let mut info = BlockInfo {
            slot: u64::MAX,
            block_no: 7,
            hash: [0xab; 32],
            prev_hash: None,
        };
        assert_eq!(BlockInfo::decode(&info.encode()), Ok(info));
        info.prev_hash = Some([0xcd; 32]);
        let mut b = info.encode();
        assert_eq!(BlockInfo::decode(&b), Ok(info));
        b[48] = 2;
        assert!(BlockInfo::decode(&b).unwrap_err().contains("flag is 2"));
    }

    #[test]
    fn record_header_round_trips_and_the_checksum_covers_meta_and_payload() {
        let (info, payload) = blocks(3, 1).pop().unwrap();
        let header = encode_header(&info, payload.len() as u32, &payload);
        assert_eq!(&header[..4], b"WBB1");
        let h = decode_header(&header).unwrap();
        assert_eq!((h.len as usize, h.info), (payload.len(), info));
        assert_eq!(record_checksum(&header, &payload), h.sum);

        let mut bent = payload.clone();
        bent[0] ^= 1;
        assert_ne!(record_checksum(&header, &bent), h.sum);
        let mut bent = header;
        bent[20] ^= 1; // inside the slot
        assert_ne!(record_checksum(&bent, &payload), h.sum);
        bent = header;
        bent[0] = b'X';
        assert!(decode_header(&bent).unwrap_err().contains("bad magic"));
        bent = header;
        bent[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_header(&bent).unwrap_err().contains("exceeds"));
    }

    #[test]
    fn index_entry_round_trips_and_detects_damage() {
        let entry = Entry {
            info: blocks(2, 9)[1].0,
            chunk: 3,
            offset: 1234,
            len: 99,
        };
        let b = entry.encode();
        assert_eq!(b.len(), INDEX_ENTRY_LEN);
        assert_eq!(Entry::decode(&b), Ok(entry));
        for i in [0, 9, 50, 100] {
            let mut bent = b;
            bent[i] ^= 0x10;
            assert!(Entry::decode(&bent).is_err(), "byte {i}");
        }
    }

    #[test]
    fn entries_must_follow_each_other() {
        let info = |n: u64| blocks(n + 1, 0)[n as usize].0;
        let first = Entry {
            info: info(0),
            chunk: 0,
            offset: 0,
            len: 10,
        };
        assert_eq!(first.follows(None, 0), Ok(()));
        let next = Entry {
            info: info(1),
            offset: first.end(),
            ..first
        };
        assert_eq!(next.follows(Some(&first), 1), Ok(()));
        let in_next_chunk = Entry {
            chunk: 1,
            offset: 0,
            ..next
        };
        assert_eq!(in_next_chunk.follows(Some(&first), 1), Ok(()));
        assert!(next.follows(Some(&first), 2).is_err());
        let gap = Entry {
            offset: first.end() + 1,
            ..next
        };
        assert!(gap.follows(Some(&first), 1).is_err());
        assert!(first.follows(Some(&in_next_chunk), 0).is_err());
    }

    #[test]
    fn chunk_names_parse_only_in_the_written_form() {
        assert_eq!(parse_chunk_name("chunk-00000.dat"), Some(0));
        assert_eq!(parse_chunk_name("chunk-00042.dat"), Some(42));
        assert_eq!(parse_chunk_name("chunk-123456.dat"), Some(123_456));
        for bad in [
            "chunk-0001.dat",
            "chunk-+0001.dat",
            "chunk-00001.da",
            "index.dat",
            "chunk-.dat",
        ] {
            assert_eq!(parse_chunk_name(bad), None, "{bad}");
        }
        let path = chunk_path(Path::new("d"), 7);
        assert_eq!(path, Path::new("d/chunk-00007.dat"));
    }

    #[test]
    fn append_refuses_blocks_that_do_not_extend_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path(), 1 << 20);
        let chain = blocks(4, 1);
        for (info, b) in &chain[..2] {
            s.append(info, b).unwrap();
        }

        let err = s.append(&chain[3].0, &chain[3].1).unwrap_err();
        assert!(matches!(
            err,
            StoreError::WrongBlockNo {
                expected: 2,
                got: 3
            }
        ));
        assert_eq!(
            err.to_string(),
            "cannot append block 3: the next block number is 2"
        );

        let mut orphan = chain[2].0;
        orphan.prev_hash = Some([7; 32]);
        let err = s.append(&orphan, &chain[2].1).unwrap_err();
        assert!(matches!(err, StoreError::WrongPrevHash { block_no: 2, .. }));
        let msg = err.to_string();
        assert!(
            msg.contains(&hex(&[7; 32])) && msg.contains(&hex(&hash(1, 1))),
            "{msg}"
        );

        let mut dup = chain[2].0;
        dup.hash = chain[0].0.hash;
        let err = s.append(&dup, &chain[2].1).unwrap_err();
        assert!(matches!(err, StoreError::DuplicateHash { existing: 0, .. }));

        let big = vec![0; MAX_BLOCK_BYTES + 1];
        let err = s.append(&chain[2].0, &big).unwrap_err();
        assert!(matches!(err, StoreError::BlockTooLarge { .. }));

        // Nothing was written by the refused appends.
        s.append(&chain[2].0, &chain[2].1).unwrap();
        assert_eq!(s.len(), 3);
        drop(s);
        assert_eq!(store(dir.path(), 1 << 20).len(), 3);
    }

    #[test]
    fn the_first_block_may_name_any_anchor() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path(), 1 << 20);
        let (mut info, b) = blocks(1, 2).remove(0);
        info.prev_hash = Some([0x99; 32]);
        s.append(&info, &b).unwrap();
        assert_eq!(s.tip(), Some(&info));
        let err = s.append(&blocks(1, 3)[0].0, b"x").unwrap_err();
        assert!(matches!(
            err,
            StoreError::WrongBlockNo {
                expected: 1,
                got: 0
            }
        ));
    }

    #[test]
    fn rollback_past_the_tip_is_refused_and_to_the_tip_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path(), 1 << 20);
        for (info, b) in blocks(3, 1) {
            s.append(&info, &b).unwrap();
        }
        let err = s.truncate_after(Some(3)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot roll back to block 3: the chain has 3 blocks"
        );
        s.truncate_after(Some(2)).unwrap();
        assert_eq!(s.len(), 3);
        s.truncate_after(None).unwrap();
        assert!(s.is_empty() && s.tip().is_none());
        assert!(s.info_by_hash(&hash(1, 0)).is_none());
    }

    #[test]
    fn scan_keeps_whole_records_and_stops_at_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path(), 1 << 20);
        let chain = blocks(5, 4);
        for (info, b) in &chain {
            s.append(info, b).unwrap();
        }
        let end = s.head.end;
        drop(s);
        let path = chunk_path(dir.path(), 0);
        let mut bytes = fs::read(&path).unwrap();
        bytes.extend_from_slice(&[0x55; 200]);
        fs::write(&path, &bytes).unwrap();

        let mut chain_read = Chain::default();
        let (good, stop) = scan_chunk(&path, 0, bytes.len() as u64, &mut chain_read).unwrap();
        assert_eq!(good, end);
        let stop = stop.unwrap();
        assert_eq!((stop.offset, stop.breaks_chain), (end, false));
        assert!(stop.reason.contains("bad magic"), "{}", stop.reason);
        assert_eq!(chain_read.len(), 5);

        // A whole record that does not link breaks the chain.
        let mut other = Chain::default();
        other.push(Entry {
            info: blocks(1, 8)[0].0,
            chunk: 0,
            offset: 0,
            len: 0,
        });
        let (good, stop) = scan_chunk(&path, 0, bytes.len() as u64, &mut other).unwrap();
        assert_eq!(good, 0);
        assert!(stop.unwrap().breaks_chain);
    }

    #[test]
    fn errors_name_the_file_and_offset() {
        let err = StoreError::Corrupt {
            path: PathBuf::from("/s/chunk-00001.dat"),
            offset: 42,
            reason: "checksum mismatch".into(),
        };
        assert_eq!(
            err.to_string(),
            "/s/chunk-00001.dat: corrupt record at offset 42: checksum mismatch"
        );
        let err =
            io_at(Path::new("/s/index.dat"), Some(8), "reading an entry")(io::Error::other("boom"));
        assert_eq!(
            err.to_string(),
            "/s/index.dat at offset 8: reading an entry: boom"
        );
    }
}
