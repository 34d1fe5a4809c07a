//! Connections between nodes. A node connects to each peer of its topology and runs the client
//! side there (chain-sync and block-fetch clients: it downloads from that peer); it accepts
//! connections and runs the server side for them. The connecting side emulates the link: what it
//! sends and what it receives are timed by the node's link model with the topology's latency and
//! bandwidth for that peer. Everything a node sends, on any connection, also passes its uplink.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::time::Instant;
use wb_forward::{Mode, MuxError, MuxReader, MuxWriter};
use wb_ledger::block::{Block, Header};
use wb_ledger::crypto::Hash32;

use crate::events::DiffusionEvent;
use crate::events::MempoolEvent;
use crate::link::{Link, Uplink};
use crate::node::{Refused, Shared};
use crate::pipelining;
use crate::protocol::{BlockFetch, ChainSync, Handshake, KeepAlive, N2N_VERSION, Point, Tip, num};
use crate::topology::Peer;
use crate::txproto::{EraTx, EraTxId, TxSubmission};

type Msg = Result<(u16, Vec<u8>), MuxError>;

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
enum PeerError {
    #[error(transparent)]
    Mux(#[from] MuxError),
    #[error(transparent)]
    Codec(#[from] crate::protocol::CodecError),
    #[error("{0}")]
    Protocol(String),
}

/// Messages to send, with the time each was handed over.
type Outbox = mpsc::UnboundedSender<(u16, Vec<u8>, Instant)>;

/// Sends through a writer task that applies the host's uplink and the link's timing.
fn spawn_writer(
    w: OwnedWriteHalf,
    mode: Mode,
    uplink: Option<Arc<Uplink>>,
    mut link: Option<Link>,
) -> Outbox {
    let (tx, mut rx) = mpsc::unbounded_channel::<(u16, Vec<u8>, Instant)>();
    tokio::spawn(async move {
        let mut w = MuxWriter::new(w, mode);
        while let Some((p, msg, handed_over)) = rx.recv().await {
            // Timing counts from when the message was handed over: messages queue on the
            // link, they do not wait out each other's latency.
            let bytes = msg.len() + 8;
            let left = uplink
                .as_ref()
                .map_or(handed_over, |u| u.departure(handed_over, bytes));
            let at = link.as_mut().map_or(left, |l| l.delivery(left, bytes));
            if at > Instant::now() {
                tokio::time::sleep_until(at).await;
            }
            if w.send(p, &msg).await.is_err() {
                return;
            }
        }
    });
    tx
}

/// Receives through a reader task, and a delay stage when the link is emulated.
fn spawn_reader(r: OwnedReadHalf, mode: Mode, link: Option<Link>) -> mpsc::Receiver<Msg> {
    let (tx, rx) = mpsc::channel::<Msg>(256);
    let mut reader = MuxReader::new(r, mode, num::COUNT);
    match link {
        None => {
            tokio::spawn(async move {
                loop {
                    let m = reader.recv().await;
                    let last = m.is_err();
                    if tx.send(m).await.is_err() || last {
                        return;
                    }
                }
            });
        }
        Some(mut link) => {
            let (dtx, mut drx) = mpsc::unbounded_channel::<(Instant, Msg)>();
            tokio::spawn(async move {
                loop {
                    let m = reader.recv().await;
                    let len = m.as_ref().map_or(0, |(_, b)| b.len() + 8);
                    let last = m.is_err();
                    if dtx.send((link.delivery(Instant::now(), len), m)).is_err() || last {
                        return;
                    }
                }
            });
            tokio::spawn(async move {
                while let Some((at, m)) = drx.recv().await {
                    tokio::time::sleep_until(at).await;
                    if tx.send(m).await.is_err() {
                        return;
                    }
                }
            });
        }
    }
    rx
}

/// FNV-1a: a connection's seed for the link model's jitter and loss.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn connection_id(s: &TcpStream) -> Arc<str> {
    let local = s.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let remote = s.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    Arc::from(format!("{local} {remote}"))
}

/// The chain-sync tip of `chain`.
fn chain_tip(chain: &wb_ledger::chain::Chain) -> Tip {
    let t = chain.tip();
    Tip {
        point: t.map(|h| (h.body.slot, h.hash())),
        block_no: t.map(|h| h.body.block_no),
    }
}

/// Accepts downstream peers and serves each.
pub(crate) async fn listen(shared: Arc<Shared>, listener: tokio::net::TcpListener) {
    // Connections live in the set: when the node stops (this task is aborted), they close too.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        while connections.try_join_next().is_some() {}
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        connections.spawn(async move {
            let _ = serve(shared, stream).await;
        });
    }
}

/// Keeps a connection to an upstream peer, reconnecting with backoff.
pub(crate) async fn connect_loop(shared: Arc<Shared>, peer: Peer) {
    let mut delay = Duration::from_millis(100);
    loop {
        if let Ok(stream) = TcpStream::connect(peer.address()).await {
            let _ = stream.set_nodelay(true);
            delay = Duration::from_millis(100);
            let _ = client(shared.clone(), stream, &peer).await;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// The server side: handshake, then chain-sync, block-fetch and keep-alive servers.
async fn serve(shared: Arc<Shared>, stream: TcpStream) -> Result<(), PeerError> {
    let id = connection_id(&stream);
    let (r, w) = stream.into_split();
    let tx = spawn_writer(w, Mode::Responder, shared.uplink.clone(), None);
    let mut rx = spawn_reader(r, Mode::Responder, None);
    let send = |p: u16, m: Vec<u8>| {
        tx.send((p, m, Instant::now()))
            .map_err(|_| PeerError::Protocol("connection closed".into()))
    };
    // Handshake: accept our version with our magic.
    let magic = shared.genesis.network_magic;
    let (p, bytes) = rx.recv().await.unwrap_or(Err(MuxError::Closed))?;
    let offered = match (p, Handshake::decode(&bytes)?) {
        (num::HANDSHAKE, Handshake::Propose(vs)) => vs,
        _ => return Err(PeerError::Protocol("expected a handshake proposal".into())),
    };
    match offered
        .iter()
        .filter(|(_, m)| *m == magic)
        .map(|(v, _)| *v)
        .max()
    {
        Some(v) => send(num::HANDSHAKE, Handshake::Accept(v, magic).encode())?,
        None => {
            send(
                num::HANDSHAKE,
                Handshake::Refuse(format!("network magic {magic} expected")).encode(),
            )?;
            return Err(PeerError::Protocol("handshake refused".into()));
        }
    }
    let mut tip_rx = shared.tip.subscribe();
    // Chain changes make room in a full mempool.
    let mut room_rx = shared.tip.subscribe();
    // Transaction ids the peer handed us that we have not acknowledged yet.
    let mut unacked: u16 = 0;
    // Transactions the peer sent while our mempool was full, in order, retried after each
    // chain change; no more ids are asked for until they are in (back-pressure, as a
    // cardano-node's inbound side stops pulling while its mempool is full).
    let mut held: Vec<Vec<u8>> = Vec::new();
    // The peer's view of our chain: the points we told it about, after the intersection.
    let mut sent: Vec<(u64, Hash32)> = Vec::new();
    let mut waiting = false;
    loop {
        tokio::select! {
            m = rx.recv() => {
                let (p, bytes) = m.unwrap_or(Err(MuxError::Closed))?;
                match p {
                    num::CHAIN_SYNC => match ChainSync::decode(&bytes)? {
                        ChainSync::FindIntersect(points) => {
                            let reply = {
                                let db = shared.db.lock().unwrap_or_else(PoisonError::into_inner);
                                let chain = db.chain();
                                let found = points.iter().find(|p| match p {
                                    None => true,
                                    Some((slot, hash)) => chain.contains(&wb_ledger::block::Point { slot: *slot, hash: *hash }),
                                });
                                sent.clear();
                                let tip = chain_tip(chain);
                                match found {
                                    Some(Some((slot, hash))) => {
                                        let n = chain.block_no_of(hash).unwrap_or(0);
                                        sent.push((n, *hash));
                                        ChainSync::IntersectFound(Some((*slot, *hash)), tip)
                                    }
                                    Some(None) => ChainSync::IntersectFound(None, tip),
                                    None => ChainSync::IntersectNotFound(tip),
                                }
                            };
                            send(num::CHAIN_SYNC, reply.encode())?;
                        }
                        ChainSync::RequestNext => {
                            tip_rx.borrow_and_update();
                            match next_update(&shared, &mut sent, &id) {
                                Some(reply) => send(num::CHAIN_SYNC, reply.encode())?,
                                None => {
                                    send(num::CHAIN_SYNC, ChainSync::AwaitReply.encode())?;
                                    waiting = true;
                                }
                            }
                        }
                        ChainSync::Done => {}
                        other => return Err(PeerError::Protocol(format!("{other:?} sent to a chain-sync server"))),
                    },
                    num::BLOCK_FETCH => match BlockFetch::decode(&bytes)? {
                        BlockFetch::RequestRange(from, to) => {
                            for m in serve_range(&shared, from, to, &id) {
                                send(num::BLOCK_FETCH, m.encode())?;
                            }
                        }
                        BlockFetch::ClientDone => {}
                        other => return Err(PeerError::Protocol(format!("{other:?} sent to a block-fetch server"))),
                    },
                    num::TX_SUBMISSION => {
                        if let Some(next) = pull_txs(&shared, TxSubmission::decode(&bytes)?, &mut unacked, &mut held, &id)? {
                            send(num::TX_SUBMISSION, next.encode())?;
                        }
                    }
                    num::KEEP_ALIVE => match KeepAlive::decode(&bytes)? {
                        KeepAlive::KeepAlive(c) => send(num::KEEP_ALIVE, KeepAlive::Response(c).encode())?,
                        KeepAlive::Done => {}
                        KeepAlive::Response(_) => return Err(PeerError::Protocol("keep-alive response sent to a server".into())),
                    },
                    other => return Err(PeerError::Protocol(format!("unexpected mini-protocol {other}"))),
                }
            }
            changed = room_rx.changed(), if !held.is_empty() => {
                if changed.is_err() {
                    return Ok(());
                }
                if add_held(&shared, &mut held, &id) {
                    send(num::TX_SUBMISSION, request_more(&mut unacked).encode())?;
                }
            }
            changed = tip_rx.changed(), if waiting => {
                if changed.is_err() {
                    return Ok(());
                }
                if let Some(reply) = next_update(&shared, &mut sent, &id) {
                    send(num::CHAIN_SYNC, reply.encode())?;
                    waiting = false;
                }
            }
        }
    }
}

/// The next chain-sync update for a peer that has seen `sent`: a rollback if what it saw left
/// our chain (or was a withdrawn tentative header), else the next header (the tentative one
/// after our tip), else nothing yet.
fn next_update(shared: &Shared, sent: &mut Vec<(u64, Hash32)>, id: &Arc<str>) -> Option<ChainSync> {
    let db = shared.db.lock().unwrap_or_else(PoisonError::into_inner);
    let chain = db.chain();
    let slot = shared
        .tentative
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let tentative = pipelining::current(&slot, chain).map(|t| &t.header);
    let tip = chain_tip(chain);
    let mut rolled = false;
    while let Some(&(n, h)) = sent.last() {
        let known = |x: &Header| x.body.block_no == n && x.hash() == h;
        if chain.get(n).is_some_and(known) || tentative.is_some_and(known) {
            break;
        }
        sent.pop();
        rolled = true;
    }
    if rolled {
        let point = sent
            .last()
            .and_then(|(n, _)| chain.get(*n))
            .map(|h| (h.body.slot, h.hash()));
        return Some(ChainSync::RollBackward(point, tip));
    }
    let next = sent.last().map_or(0, |(n, _)| n + 1);
    let (h, tip_header) = match chain.get(next) {
        Some(h) => (h, chain.tip()),
        None => {
            let t = tentative.filter(|t| t.body.block_no == next)?;
            (t, Some(t))
        }
    };
    sent.push((next, h.hash()));
    shared
        .tracers
        .diffusion
        .trace(&DiffusionEvent::ServerHeaderUpdate {
            peer: id.clone(),
            add_block: (h.hash(), h.body.slot),
            tip: tip_header.map(|t| (t.hash(), t.body.block_no, t.body.slot)),
        });
    let tip = Tip {
        point: tip_header.map(|t| (t.body.slot, t.hash())),
        block_no: tip_header.map(|t| t.body.block_no),
    };
    Some(ChainSync::RollForward(h.bytes().to_vec(), tip))
}

/// The block-fetch server's answer to a range request: blocks of our chain, up to the
/// tentative block (served while it is validated) if the range ends there.
fn serve_range(shared: &Shared, from: Point, to: Point, id: &Arc<str>) -> Vec<BlockFetch> {
    let db = shared.db.lock().unwrap_or_else(PoisonError::into_inner);
    let chain = db.chain();
    let slot = shared
        .tentative
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let tentative = pipelining::current(&slot, chain);
    let is_tentative =
        |p: &Point| tentative.is_some_and(|t| *p == Some((t.header.body.slot, t.header.hash())));
    let on_chain = |p: &Point| {
        p.and_then(|(slot, hash)| {
            chain
                .block_no_of(&hash)
                .filter(|n| chain.get(*n).is_some_and(|h| h.body.slot == slot))
        })
    };
    let last = if is_tentative(&to) {
        // The chain's tip, which the tentative block extends (none: the range is that block).
        chain.tip().map(|t| t.body.block_no)
    } else {
        on_chain(&to)
    };
    let first = if is_tentative(&from) {
        None
    } else {
        on_chain(&from)
    };
    let mut out = vec![BlockFetch::StartBatch];
    match (first, last) {
        (Some(a), Some(b)) if a <= b => {
            for n in a..=b {
                let Some(h) = chain.get(n) else {
                    return vec![BlockFetch::NoBlocks];
                };
                match db.block_bytes(&h.hash()) {
                    Ok(Some(bytes)) => {
                        shared.tracers.diffusion.trace(&DiffusionEvent::SendBlock {
                            peer: id.clone(),
                            block: h.hash(),
                        });
                        out.push(BlockFetch::Block(bytes));
                    }
                    _ => return vec![BlockFetch::NoBlocks],
                }
            }
        }
        (None, _) if is_tentative(&from) => {}
        _ => return vec![BlockFetch::NoBlocks],
    }
    if let Some(t) = tentative.filter(|_| is_tentative(&to)) {
        shared.tracers.diffusion.trace(&DiffusionEvent::SendBlock {
            peer: id.clone(),
            block: t.header.hash(),
        });
        out.push(BlockFetch::Block(t.bytes.clone()));
    }
    out.push(BlockFetch::BatchDone);
    out
}

/// Most blocks asked for in one range request.
const FETCH_BATCH: usize = 10;

/// The client side: handshake, chain-sync client following the peer's chain, block-fetch client
/// fetching what makes it better than ours, keep-alive.
async fn client(shared: Arc<Shared>, stream: TcpStream, peer: &Peer) -> Result<(), PeerError> {
    let id = connection_id(&stream);
    let (r, w) = stream.into_split();
    // Each direction has its own window; jitter and loss draw from the connection's seed.
    let now = Instant::now();
    let seed = fnv1a(id.as_bytes());
    let timing = |seed| {
        shared
            .link
            .link(peer.latency, peer.bandwidth_bps, seed, now)
    };
    let tx = spawn_writer(w, Mode::Initiator, shared.uplink.clone(), timing(seed));
    let mut rx = spawn_reader(r, Mode::Initiator, timing(!seed));
    let send = |p: u16, m: Vec<u8>| {
        tx.send((p, m, Instant::now()))
            .map_err(|_| PeerError::Protocol("connection closed".into()))
    };
    let magic = shared.genesis.network_magic;
    send(
        num::HANDSHAKE,
        Handshake::Propose(vec![(N2N_VERSION, magic)]).encode(),
    )?;
    match rx.recv().await.unwrap_or(Err(MuxError::Closed))? {
        (num::HANDSHAKE, bytes) => match Handshake::decode(&bytes)? {
            Handshake::Accept(_, m) if m == magic => {}
            other => return Err(PeerError::Protocol(format!("handshake: {other:?}"))),
        },
        (p, _) => {
            return Err(PeerError::Protocol(format!(
                "message on mini-protocol {p} before the handshake ended"
            )));
        }
    }
    let points: Vec<Point> = {
        let db = shared.db.lock().unwrap_or_else(PoisonError::into_inner);
        let mut ps: Vec<Point> = db
            .chain()
            .intersection_points()
            .iter()
            .map(|p| Some((p.slot, p.hash)))
            .collect();
        ps.push(None);
        ps
    };
    send(num::CHAIN_SYNC, ChainSync::FindIntersect(points).encode())?;
    // We offer our mempool to the peer (transactions flow towards the peers we download from).
    send(num::TX_SUBMISSION, TxSubmission::Init.encode())?;
    let mut offered_up_to = 0u64;
    let mut pending_ids: Option<u16> = None;
    let mut mempool_rx = shared.mempool_changed.subscribe();
    // The peer's chain from block 0, as far as we know it.
    let mut theirs: Vec<Header> = Vec::new();
    let mut fetching: Option<(Vec<Hash32>, Instant)> = None;
    let mut tip_rx = shared.tip.subscribe();
    let mut keep_alive = tokio::time::interval(Duration::from_secs(10));
    let mut cookie = 0u16;
    let result = async {
        loop {
            tokio::select! {
                m = rx.recv() => {
                    let (p, bytes) = m.unwrap_or(Err(MuxError::Closed))?;
                    match p {
                        num::CHAIN_SYNC => {
                            match ChainSync::decode(&bytes)? {
                                ChainSync::IntersectFound(point, _) => {
                                    let db = shared.db.lock().unwrap_or_else(PoisonError::into_inner);
                                    let upto = point.and_then(|(_, h)| db.chain().block_no_of(&h)).map_or(0, |n| n + 1);
                                    theirs = (0..upto).filter_map(|n| db.chain().get(n).cloned()).collect();
                                }
                                ChainSync::IntersectNotFound(_) => theirs.clear(),
                                ChainSync::AwaitReply => continue,
                                ChainSync::RollForward(hb, _) => {
                                    let h = Header::decode(&hb).map_err(|e| PeerError::Protocol(format!("bad header: {e}")))?;
                                    shared.db.lock().unwrap_or_else(PoisonError::into_inner).verify_header(&h).map_err(|e| PeerError::Protocol(format!("bad header: {e}")))?;
                                    let extends = h.body.block_no == theirs.len() as u64 && h.body.prev_hash == theirs.last().map(Header::hash);
                                    if !extends {
                                        return Err(PeerError::Protocol(format!("header {} does not extend the peer's chain", h.point())));
                                    }
                                    shared.tracers.diffusion.trace(&DiffusionEvent::DownloadedHeader { peer: id.clone(), block: h.hash(), block_no: h.body.block_no, slot: h.body.slot });
                                    theirs.push(h);
                                }
                                ChainSync::RollBackward(point, _) => {
                                    let keep = match point {
                                        None => 0,
                                        Some((_, hash)) => theirs.iter().position(|h| h.hash() == hash).map(|i| i + 1)
                                            .ok_or_else(|| PeerError::Protocol("rollback to a point not on the peer's chain".into()))?,
                                    };
                                    theirs.truncate(keep);
                                }
                                other => return Err(PeerError::Protocol(format!("{other:?} sent to a chain-sync client"))),
                            }
                            send(num::CHAIN_SYNC, ChainSync::RequestNext.encode())?;
                            if fetching.is_none() {
                                fetching = request_bodies(&shared, &theirs, &id, &send)?;
                            }
                        }
                        num::BLOCK_FETCH => match BlockFetch::decode(&bytes)? {
                            BlockFetch::StartBatch => {}
                            BlockFetch::Block(b) => {
                                let block = Block::decode(&b).map_err(|e| PeerError::Protocol(format!("bad block: {e}")))?;
                                let hash = block.header.hash();
                                let delay = fetching.as_ref().map_or(0.0, |(_, at)| at.elapsed().as_secs_f64());
                                shared.tracers.diffusion.trace(&DiffusionEvent::CompletedBlockFetch { peer: id.clone(), block: hash, delay, size: b.len() as u64 });
                                shared.set_tentative(&block.header, &b);
                                if shared.costs.is_none() {
                                    shared.in_flight.lock().unwrap_or_else(PoisonError::into_inner).remove(&hash);
                                    shared.bodies.lock().unwrap_or_else(PoisonError::into_inner).insert(hash, (block, b));
                                    shared.try_adopt(&theirs);
                                    shared.end_tentative(&hash);
                                } else {
                                    // Validation takes its cost, after the blocks fetched before
                                    // it; the body counts as in flight until then (not for the
                                    // batch to release).
                                    if let Some((hashes, _)) = fetching.as_mut() {
                                        hashes.retain(|h| *h != hash);
                                    }
                                    let done = shared.costs.validation_done(Instant::now(), block.txs.len(), b.len());
                                    let (shared, candidate) = (shared.clone(), theirs.clone());
                                    tokio::spawn(async move {
                                        shared.costs.spend(done).await;
                                        shared.bodies.lock().unwrap_or_else(PoisonError::into_inner).insert(hash, (block, b));
                                        shared.in_flight.lock().unwrap_or_else(PoisonError::into_inner).remove(&hash);
                                        shared.try_adopt(&candidate);
                                        shared.end_tentative(&hash);
                                    });
                                }
                            }
                            BlockFetch::NoBlocks | BlockFetch::BatchDone => {
                                if let Some((hashes, _)) = fetching.take() {
                                    let mut inf = shared.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
                                    for h in hashes {
                                        inf.remove(&h);
                                    }
                                }
                                fetching = request_bodies(&shared, &theirs, &id, &send)?;
                            }
                            other => return Err(PeerError::Protocol(format!("{other:?} sent to a block-fetch client"))),
                        },
                        num::TX_SUBMISSION => match TxSubmission::decode(&bytes)? {
                            TxSubmission::RequestTxIds { blocking, req, .. } => {
                                let ids = offer_ids(&shared, &mut offered_up_to, req);
                                if ids.is_empty() && blocking {
                                    pending_ids = Some(req);
                                } else {
                                    send(num::TX_SUBMISSION, TxSubmission::ReplyTxIds(ids).encode())?;
                                }
                            }
                            TxSubmission::RequestTxs(ids) => {
                                let txs = {
                                    let mempool = shared.mempool.lock().unwrap_or_else(PoisonError::into_inner);
                                    ids.iter().filter_map(|i| mempool.get(&i.id)).map(|t| EraTx::conway(t.bytes.clone())).collect()
                                };
                                send(num::TX_SUBMISSION, TxSubmission::ReplyTxs(txs).encode())?;
                            }
                            other => return Err(PeerError::Protocol(format!("{other:?} sent to a tx-submission client"))),
                        },
                        num::KEEP_ALIVE => {
                            KeepAlive::decode(&bytes)?;
                        }
                        other => return Err(PeerError::Protocol(format!("unexpected mini-protocol {other}"))),
                    }
                }
                _ = tip_rx.changed() => {
                    // Our chain moved (another peer's blocks): maybe this peer's chain still wins.
                    shared.try_adopt(&theirs);
                    if fetching.is_none() {
                        fetching = request_bodies(&shared, &theirs, &id, &send)?;
                    }
                }
                _ = mempool_rx.changed(), if pending_ids.is_some() => {
                    let req = pending_ids.unwrap_or(0);
                    let ids = offer_ids(&shared, &mut offered_up_to, req);
                    if !ids.is_empty() {
                        pending_ids = None;
                        send(num::TX_SUBMISSION, TxSubmission::ReplyTxIds(ids).encode())?;
                    }
                }
                _ = keep_alive.tick() => {
                    cookie = cookie.wrapping_add(1);
                    send(num::KEEP_ALIVE, KeepAlive::KeepAlive(cookie).encode())?;
                }
            }
        }
    }
    .await;
    if let Some((hashes, _)) = fetching {
        let mut inf = shared
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for h in hashes {
            inf.remove(&h);
        }
    }
    result
}

/// Asks the peer for the bodies that would make its chain ours, if it is better and nobody is
/// fetching them already.
fn request_bodies(
    shared: &Shared,
    theirs: &[Header],
    id: &Arc<str>,
    send: &impl Fn(u16, Vec<u8>) -> Result<(), PeerError>,
) -> Result<Option<(Vec<Hash32>, Instant)>, PeerError> {
    let (better, common) = shared.prefers(theirs);
    if !better {
        return Ok(None);
    }
    let bodies = shared.bodies.lock().unwrap_or_else(PoisonError::into_inner);
    let mut in_flight = shared
        .in_flight
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let wanted: Vec<&Header> = theirs[common..]
        .iter()
        .skip_while(|h| bodies.contains_key(&h.hash()) || in_flight.contains(&h.hash()))
        .take_while(|h| !bodies.contains_key(&h.hash()) && !in_flight.contains(&h.hash()))
        .take(FETCH_BATCH)
        .collect();
    let (Some(first), Some(last)) = (wanted.first(), wanted.last()) else {
        return Ok(None);
    };
    let hashes: Vec<Hash32> = wanted.iter().map(|h| h.hash()).collect();
    in_flight.extend(hashes.iter().copied());
    shared
        .tracers
        .diffusion
        .trace(&DiffusionEvent::SendFetchRequest {
            peer: id.clone(),
            head: last.hash(),
            length: wanted.len() as u64,
        });
    send(
        num::BLOCK_FETCH,
        BlockFetch::RequestRange(
            Some((first.body.slot, first.hash())),
            Some((last.body.slot, last.hash())),
        )
        .encode(),
    )?;
    Ok(Some((hashes, Instant::now())))
}

/// Most transaction ids asked for at once.
const TX_IDS_PER_REQUEST: u16 = 50;

/// The ids of mempool transactions not yet offered to this peer (at most `req`).
fn offer_ids(shared: &Shared, offered_up_to: &mut u64, req: u16) -> Vec<(EraTxId, u32)> {
    let mempool = shared
        .mempool
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let ids = mempool.ids_after(*offered_up_to, usize::from(req));
    if let Some(last) = ids.last() {
        *offered_up_to = last.ticket;
    }
    ids.into_iter()
        .map(|t| {
            // Advertised sizes are of the wrapped transaction, as a real node checks them.
            let wire = crate::txproto::wire_size(crate::txproto::CONWAY_ERA, t.size as usize);
            (EraTxId::conway(t.id), wire)
        })
        .collect()
}

/// The tx-submission server's next request, given what the peer sent: ask for the
/// transactions we lack, add what arrives to the mempool, and ask for more.
fn pull_txs(
    shared: &Shared,
    msg: TxSubmission,
    unacked: &mut u16,
    held: &mut Vec<Vec<u8>>,
    id: &Arc<str>,
) -> Result<Option<TxSubmission>, PeerError> {
    Ok(match msg {
        TxSubmission::Init => Some(request_more(unacked)),
        TxSubmission::ReplyTxIds(ids) => {
            *unacked = unacked.saturating_add(ids.len() as u16);
            let wanted: Vec<EraTxId> = {
                let mempool = shared
                    .mempool
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                ids.into_iter()
                    .map(|(i, _)| i)
                    .filter(|i| !mempool.contains(&i.id))
                    .collect()
            };
            if wanted.is_empty() {
                Some(request_more(unacked))
            } else {
                Some(TxSubmission::RequestTxs(wanted))
            }
        }
        TxSubmission::ReplyTxs(txs) => {
            shared.tracers.mempool.trace(&MempoolEvent::Collected {
                peer: id.clone(),
                count: txs.len() as u64,
            });
            held.extend(txs.into_iter().map(|t| t.bytes));
            add_held(shared, held, id).then(|| request_more(unacked))
        }
        TxSubmission::Done => None,
        other => {
            return Err(PeerError::Protocol(format!(
                "{other:?} sent to a tx-submission server"
            )));
        }
    })
}

/// The next `RequestTxIds`, acknowledging everything handed over so far.
fn request_more(unacked: &mut u16) -> TxSubmission {
    TxSubmission::RequestTxIds {
        blocking: true,
        ack: std::mem::take(unacked),
        req: TX_IDS_PER_REQUEST,
    }
}

/// Adds held transactions to the mempool in order until one does not fit; traces what was
/// processed. True when none is left (the peer may be asked for more).
fn add_held(shared: &Shared, held: &mut Vec<Vec<u8>>, id: &Arc<str>) -> bool {
    let (mut accepted, mut rejected, mut done) = (0, 0, 0);
    for bytes in held.iter() {
        match shared.try_submit(bytes, true) {
            Ok(_) => accepted += 1,
            Err(Refused::Reason(_)) => rejected += 1,
            Err(Refused::Full) => break,
        }
        done += 1;
    }
    held.drain(..done);
    if done > 0 {
        shared.tracers.mempool.trace(&MempoolEvent::Processed {
            peer: id.clone(),
            accepted,
            rejected,
        });
    }
    held.is_empty()
}
