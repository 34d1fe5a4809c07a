//! Watching the chain for transactions: a node-to-node chain-sync and block-fetch client that
//! follows a node's chain from the origin and records the id of every transaction in every
//! block it adopts. Setup phases wait on it instead of sleeping, and the benchmark's end counts
//! what was adopted. (A rolled-back transaction stays counted as seen: with `k`-deep rollbacks
//! rare in a benchmark, that errs towards finishing, and the node's logs have the truth.)

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use wb_forward::{Mode, MuxError, MuxReader, MuxWriter};
use wb_ledger::block::{Block, Header};
use wb_node::protocol::{BlockFetch, ChainSync, Handshake, N2N_VERSION, num};

/// Transaction ids seen on the followed chain.
#[derive(Clone, Default)]
pub struct ChainWatch {
    seen: Arc<Mutex<HashSet<[u8; 32]>>>,
    blocks: Arc<Mutex<u64>>,
    changed: Arc<Notify>,
}

/// Why following stopped.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The connection.
    #[error("chain follower: {0}")]
    Mux(#[from] MuxError),
    /// Writing to the node.
    #[error("chain follower: {0}")]
    Io(#[from] std::io::Error),
    /// A message we cannot use.
    #[error("chain follower: {0}")]
    Protocol(String),
}

impl ChainWatch {
    /// Connects to `addr` (`host:port` of a node's node-to-node port) and follows its chain in a
    /// background task until the watch is dropped... or the connection ends.
    pub async fn start(addr: &str, magic: u32) -> Result<ChainWatch, FollowError> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| FollowError::Protocol(format!("cannot connect to {addr}: {e}")))?;
        let _ = stream.set_nodelay(true);
        let (r, w) = stream.into_split();
        let mut reader = MuxReader::new(r, Mode::Initiator, num::COUNT);
        let mut writer = MuxWriter::new(w, Mode::Initiator);
        writer
            .send(
                num::HANDSHAKE,
                &Handshake::Propose(vec![(N2N_VERSION, magic)]).encode(),
            )
            .await?;
        match reader.recv().await? {
            (num::HANDSHAKE, b) => {
                match Handshake::decode(&b).map_err(|e| FollowError::Protocol(e.to_string()))? {
                    Handshake::Accept(..) => {}
                    other => return Err(FollowError::Protocol(format!("handshake: {other:?}"))),
                }
            }
            (p, _) => {
                return Err(FollowError::Protocol(format!(
                    "message on mini-protocol {p} before the handshake ended"
                )));
            }
        }
        writer
            .send(
                num::CHAIN_SYNC,
                &ChainSync::FindIntersect(vec![None]).encode(),
            )
            .await?;
        let watch = ChainWatch::default();
        let w2 = watch.clone();
        tokio::spawn(async move {
            let _ = follow(&w2, &mut reader, &mut writer).await;
        });
        Ok(watch)
    }

    /// Whether `id` was seen.
    pub fn contains(&self, id: &[u8; 32]) -> bool {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(id)
    }

    /// How many of `ids` were seen.
    pub fn count(&self, ids: &[[u8; 32]]) -> usize {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        ids.iter().filter(|i| seen.contains(*i)).count()
    }

    /// Blocks followed so far.
    pub fn blocks(&self) -> u64 {
        *self.blocks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until every one of `ids` was seen, or `timeout`; returns how many are missing.
    pub async fn wait_for(&self, ids: &[[u8; 32]], timeout: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            let missing = ids.len() - self.count(ids);
            if missing == 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return ids.len() - self.count(ids);
            }
        }
    }
}

async fn follow(
    watch: &ChainWatch,
    reader: &mut MuxReader<tokio::net::tcp::OwnedReadHalf>,
    writer: &mut MuxWriter<tokio::net::tcp::OwnedWriteHalf>,
) -> Result<(), FollowError> {
    let codec = |e: wb_node::protocol::CodecError| FollowError::Protocol(e.to_string());
    loop {
        let (p, bytes) = reader.recv().await?;
        match p {
            num::CHAIN_SYNC => match ChainSync::decode(&bytes).map_err(codec)? {
                ChainSync::IntersectFound(..)
                | ChainSync::IntersectNotFound(_)
                | ChainSync::RollBackward(..) => {
                    writer
                        .send(num::CHAIN_SYNC, &ChainSync::RequestNext.encode())
                        .await?;
                }
                ChainSync::AwaitReply => {}
                ChainSync::RollForward(hb, _) => {
                    let h =
                        Header::decode(&hb).map_err(|e| FollowError::Protocol(e.to_string()))?;
                    let point = Some((h.body.slot, h.hash()));
                    writer
                        .send(
                            num::BLOCK_FETCH,
                            &BlockFetch::RequestRange(point, point).encode(),
                        )
                        .await?;
                    writer
                        .send(num::CHAIN_SYNC, &ChainSync::RequestNext.encode())
                        .await?;
                }
                other => {
                    return Err(FollowError::Protocol(format!(
                        "{other:?} from a chain-sync server"
                    )));
                }
            },
            num::BLOCK_FETCH => {
                if let BlockFetch::Block(b) = BlockFetch::decode(&bytes).map_err(codec)? {
                    let block =
                        Block::decode(&b).map_err(|e| FollowError::Protocol(e.to_string()))?;
                    let ids: Vec<[u8; 32]> = block
                        .txs
                        .iter()
                        .filter_map(|t| wb_ledger::tx::decode_tx(t).ok().map(|t| t.id))
                        .collect();
                    watch
                        .seen
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .extend(ids);
                    *watch.blocks.lock().unwrap_or_else(PoisonError::into_inner) += 1;
                    watch.changed.notify_waiters();
                }
            }
            _ => {}
        }
    }
}
