//! Transactions through emulated nodes: submitted over the node-to-client socket as a generator
//! would, diffused to the other nodes by tx-submission, included in a block everywhere; an
//! invalid one refused with its ledger rule, traced.

use std::time::Duration;

use wb_forward::{Mode, MuxReader, MuxWriter};
use wb_ledger::params::ProtocolParams;
use wb_ledger::tx::TxIn;
use wb_ledger::wallet::Wallet;
use wb_node::testnet::{self, Shape, TestnetSpec};
use wb_node::txproto::{EraTx, LocalTxSubmission, N2cHandshake, N2cVersionData, n2c_num};

/// A local tx-submission client: handshake, submit, answer.
async fn submit(socket: &std::path::Path, tx: Vec<u8>) -> LocalTxSubmission {
    let stream = tokio::net::UnixStream::connect(socket).await.unwrap();
    let (r, w) = stream.into_split();
    let mut reader = MuxReader::new(r, Mode::Initiator, 10);
    let mut writer = MuxWriter::new(w, Mode::Initiator);
    let propose = N2cHandshake::Propose(vec![(
        16,
        N2cVersionData {
            network_magic: 42,
            query: false,
        },
    )]);
    writer
        .send(n2c_num::HANDSHAKE, &propose.encode())
        .await
        .unwrap();
    let (_, answer) = reader.recv().await.unwrap();
    assert!(matches!(
        N2cHandshake::decode(&answer).unwrap(),
        N2cHandshake::Accept(16, _)
    ));
    writer
        .send(
            n2c_num::LOCAL_TX_SUBMISSION,
            &LocalTxSubmission::SubmitTx(EraTx::conway(tx)).encode(),
        )
        .await
        .unwrap();
    let (_, reply) = reader.recv().await.unwrap();
    let reply = LocalTxSubmission::decode(&reply).unwrap();
    writer
        .send(
            n2c_num::LOCAL_TX_SUBMISSION,
            &LocalTxSubmission::Done.encode(),
        )
        .await
        .unwrap();
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submitted_transaction_reaches_every_node_and_a_block() {
    let dir = tempfile::tempdir().unwrap();
    let wallet = Wallet::from_seed([0x77; 32], 0);
    let funds = 1_000_000_000_000u64;
    let spec = TestnetSpec {
        nodes: 3,
        pools: 3,
        slot_length: 0.1,
        f: 0.3,
        latency_ms: 10.0,
        bandwidth_mbps: None,
        shape: Shape::Mesh,
        start_in_ms: 300,
        severity: "Info",
        link: Default::default(),
        costs: Default::default(),
        pipelining: true,
        funds: vec![(wallet.address(), funds)],
    };
    let seeds = testnet::write_genesis(dir.path(), &spec).unwrap();
    let nodes = testnet::start(dir.path(), &spec, &seeds, 80).await.unwrap();
    let genesis_in = TxIn {
        tx_id: wb_ledger::crypto::blake2b_256(&wallet.address()),
        index: 0,
    };
    let to = Wallet::from_seed([0x78; 32], 0).address();
    let (tx, _fee) = wallet
        .build_payment(
            &[(genesis_in, funds)],
            &[(to.clone(), 5_000_000)],
            None,
            &ProtocolParams::default(),
        )
        .unwrap();
    let id = wb_ledger::tx::decode_tx(&tx).unwrap().id;

    // Submitted to node 2 only.
    let reply = submit(&dir.path().join("node-2.socket"), tx.clone()).await;
    assert_eq!(reply, LocalTxSubmission::AcceptTx);
    // The same again is refused: it is in the mempool (or already in a block).
    let again = submit(&dir.path().join("node-2.socket"), tx).await;
    let LocalTxSubmission::RejectTx(reason) = again else {
        panic!("{again:?}")
    };
    assert!(
        format!("{reason}").contains("AlreadyInMempool")
            || format!("{reason}").contains("BadInputsUTxO"),
        "{reason}"
    );
    // A transaction spending an input that does not exist: refused with the rule.
    let missing = TxIn {
        tx_id: [9; 32],
        index: 0,
    };
    let (bad, _) = wallet
        .build_payment(
            &[(missing, funds)],
            &[(to.clone(), 5_000_000)],
            None,
            &ProtocolParams::default(),
        )
        .unwrap();
    let LocalTxSubmission::RejectTx(reason) = submit(&dir.path().join("node-0.socket"), bad).await
    else {
        panic!()
    };
    assert!(format!("{reason}").contains("BadInputsUTxO"), "{reason}");

    // Every node ends with the payment in its ledger.
    let paid = TxIn {
        tx_id: id,
        index: 0,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while !nodes.iter().all(|n| {
        n.node
            .utxo_get(&paid)
            .is_some_and(|o| o.lovelace == 5_000_000 && o.address == to)
    }) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the payment did not reach every node's chain"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for n in &nodes {
        assert!(
            n.node.utxo_get(&genesis_in).is_none(),
            "the genesis output is spent everywhere"
        );
    }
    for n in &nodes {
        n.node.stop();
    }
    let (_, logs) = testnet::finish(nodes).await;
    let short = wb_node::events::Hex(&id[..4]).to_string();
    for (i, log) in logs.iter().enumerate() {
        let added = log
            .lines()
            .any(|l| l.contains("\"ns\":\"Mempool.AddedTx\"") && l.contains(&short));
        assert!(added, "node-{i} never had the transaction in its mempool");
        assert!(
            log.lines()
                .any(|l| l.contains("\"ns\":\"Mempool.RemoveTxs\"") && l.contains(&short)),
            "node-{i}: not removed when included"
        );
    }
    assert!(
        logs[0]
            .lines()
            .any(|l| l.contains("\"ns\":\"Mempool.RejectedTx\"") && l.contains("BadInputsUTxO")),
        "the rejection is traced with its reason"
    );
}

/// Genesis funds of each wallet in the full-mempool tests.
const FUNDS: u64 = 1_000_000_000_000;

/// Writes `spec`'s testnet with 1,500-byte blocks (so a 3,000-byte mempool) and starts it.
async fn small_block_testnet(
    dir: &std::path::Path,
    spec: &TestnetSpec,
    shutdown_slot: u64,
) -> Vec<testnet::TestNode> {
    let seeds = testnet::write_genesis(dir, spec).unwrap();
    let path = dir.join("genesis.json");
    let mut g: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    g["protocolParams"] = serde_json::json!({"maxBlockBodySize": 1500});
    std::fs::write(&path, g.to_string()).unwrap();
    testnet::start(dir, spec, &seeds, shutdown_slot)
        .await
        .unwrap()
}

/// Pays 2 ada `n` times from `wallet`'s genesis funds, each payment spending the previous one's
/// change, each submitted to `socket` and answered (waiting for room if need be) before the
/// next; `accepted(size)` runs after each acceptance. Returns the last change output.
async fn pay_chain(
    wallet: &Wallet,
    socket: &std::path::Path,
    n: usize,
    mut accepted: impl FnMut(usize),
) -> TxIn {
    let params = ProtocolParams::default();
    let to = Wallet::from_seed([0x58; 32], 0).address();
    let mut input = (
        TxIn {
            tx_id: wb_ledger::crypto::blake2b_256(&wallet.address()),
            index: 0,
        },
        FUNDS,
    );
    for i in 0..n {
        let (tx, fee) = wallet
            .build_payment(&[input], &[(to.clone(), 2_000_000)], None, &params)
            .unwrap();
        let size = tx.len();
        let id = wb_ledger::tx::decode_tx(&tx).unwrap().id;
        let reply = tokio::time::timeout(Duration::from_secs(30), submit(socket, tx))
            .await
            .expect("a waiting submission is answered once blocks make room");
        assert_eq!(reply, LocalTxSubmission::AcceptTx, "tx {i}");
        accepted(size);
        input = (
            TxIn {
                tx_id: id,
                index: 1,
            },
            input.1 - 2_000_000 - fee,
        );
    }
    input.0
}

/// A full mempool makes a local submitter wait for room (as cardano-node's mempool blocks local
/// clients) instead of refusing with MempoolFull: a chain of transactions several times the
/// mempool's capacity, submitted one after the other, is accepted whole as blocks make room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_mempool_makes_local_submitters_wait_not_fail() {
    let dir = tempfile::tempdir().unwrap();
    let wallet = Wallet::from_seed([0x57; 32], 0);
    let spec = TestnetSpec {
        nodes: 1,
        pools: 1,
        slot_length: 0.1,
        f: 0.2,
        latency_ms: 0.0,
        bandwidth_mbps: None,
        shape: Shape::Mesh,
        start_in_ms: 300,
        severity: "Info",
        link: Default::default(),
        costs: Default::default(),
        pipelining: true,
        funds: vec![(wallet.address(), FUNDS)],
    };
    let nodes = small_block_testnet(dir.path(), &spec, 600).await;
    let capacity = 3000;
    let mut total = 0;
    pay_chain(&wallet, &dir.path().join("node-0.socket"), 60, |size| {
        total += size;
        assert!(nodes[0].node.mempool_size().bytes <= capacity);
    })
    .await;
    assert!(
        total > 2 * capacity as usize,
        "the chain ({total} B) overflows the mempool"
    );
    nodes[0].node.stopper().stop();
    let nodes_logs = testnet::finish(nodes).await.1;
    assert!(
        !nodes_logs[0].contains("MempoolFull"),
        "nobody was told full"
    );
}

/// Back-pressure across the network: the forger's mempool is kept full by its own local
/// clients while a relay's clients submit more; the forger holds what the relay sends and stops
/// pulling until blocks make room (never refusing with MempoolFull), so the relay's
/// transactions reach the chain instead of being stranded in its mempool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_mempool_holds_peer_transactions_until_blocks_make_room() {
    let dir = tempfile::tempdir().unwrap();
    let wallets = [
        Wallet::from_seed([0x67; 32], 0),
        Wallet::from_seed([0x66; 32], 0),
    ];
    let spec = TestnetSpec {
        nodes: 2,
        pools: 1,
        slot_length: 0.1,
        f: 0.2,
        latency_ms: 5.0,
        bandwidth_mbps: None,
        shape: Shape::Line,
        start_in_ms: 300,
        severity: "Info",
        link: Default::default(),
        costs: Default::default(),
        pipelining: true,
        funds: wallets.iter().map(|w| (w.address(), FUNDS)).collect(),
    };
    let nodes = small_block_testnet(dir.path(), &spec, 100_000).await;
    // One chain straight to the forger (node-0), one to the relay (node-1), at the same time.
    let (forger, relay) = (
        dir.path().join("node-0.socket"),
        dir.path().join("node-1.socket"),
    );
    let (last_a, last_b) = tokio::join!(
        pay_chain(&wallets[0], &forger, 40, |_| {}),
        pay_chain(&wallets[1], &relay, 40, |_| {})
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !nodes
        .iter()
        .all(|n| n.node.utxo_get(&last_a).is_some() && n.node.utxo_get(&last_b).is_some())
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not every transaction reached the chain"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for n in &nodes {
        n.node.stopper().stop();
    }
    let logs = testnet::finish(nodes).await.1;
    assert!(
        !logs[0].contains("MempoolFull"),
        "the forger refused nothing for fullness"
    );
}
