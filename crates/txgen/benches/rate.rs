//! Achieved vs requested submission rate at 1k, 5k and 10k transactions per second into a sink
//! that accepts everything (a node-to-client local tx-submission server that answers at once),
//! in one run.
//!
//! Run: `cargo bench -p wb-txgen --bench rate` (`-- --quick` for a short run). Transactions are
//! real: 2-input, 2-output Conway transfers with `add_tx_size` 100, built and signed by the
//! builder thread while the run goes on.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use wb_forward::{Mode, MuxReader, MuxWriter};
use wb_ledger::tx::TxIn;
use wb_node::testnet::{self, Shape, TestnetSpec};
use wb_node::txproto::{LocalTxSubmission, N2cHandshake, n2c_negotiate, n2c_num};
use wb_trace::{Dispatcher, Output};
use wb_txgen::build::{self, FeePolicy, Fund, Owner, Padding, WorkloadConfig};
use wb_txgen::config::{Target, TxgenConfig};

/// Accepts every submission; counts them.
async fn sink(listener: tokio::net::UnixListener, accepted: Arc<AtomicU64>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let accepted = accepted.clone();
        tokio::spawn(async move {
            let (r, w) = stream.into_split();
            let mut reader = MuxReader::new(r, Mode::Responder, 10);
            let mut writer = MuxWriter::new(w, Mode::Responder);
            let Ok((_, b)) = reader.recv().await else {
                return;
            };
            let Ok(N2cHandshake::Propose(vs)) = N2cHandshake::decode(&b) else {
                return;
            };
            if writer
                .send(n2c_num::HANDSHAKE, &n2c_negotiate(&vs, 42).encode())
                .await
                .is_err()
            {
                return;
            }
            let accept = LocalTxSubmission::AcceptTx.encode();
            while let Ok((_, m)) = reader.recv().await {
                if !matches!(
                    LocalTxSubmission::decode(&m),
                    Ok(LocalTxSubmission::SubmitTx(_))
                ) {
                    return;
                }
                accepted.fetch_add(1, Relaxed);
                if writer
                    .send(n2c_num::LOCAL_TX_SUBMISSION, &accept)
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let seconds = if quick { 1.0 } else { 3.0 };
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = TestnetSpec {
        nodes: 1,
        pools: 1,
        slot_length: 1.0,
        f: 0.1,
        latency_ms: 0.0,
        bandwidth_mbps: None,
        shape: Shape::Mesh,
        start_in_ms: 0,
        severity: "Info",
        link: Default::default(),
        costs: Default::default(),
        pipelining: true,
        funds: Vec::new(),
    };
    testnet::write_genesis(dir.path(), &spec).expect("genesis");
    let params = wb_ledger::params::ProtocolParams::default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let socket = dir.path().join("sink.socket");
    let accepted = Arc::new(AtomicU64::new(0));
    {
        let listener = rt
            .block_on(async { tokio::net::UnixListener::bind(&socket) })
            .expect("bind");
        rt.spawn(sink(listener, accepted.clone()));
    }
    let dispatcher = Dispatcher::builder()
        .output(Output::None)
        .build()
        .expect("dispatcher");
    let tracer = dispatcher.tracer::<wb_txgen::events::TxgenEvent>("Benchmark");
    println!(
        "wb txgen submission rate into an accept-all local tx-submission sink ({seconds} s per rate, window 8)"
    );
    for tps in [1_000.0, 5_000.0, 10_000.0] {
        let tx_count = (tps * seconds) as u64;
        let wallets = wb_txgen::run::generator_wallets(0);
        let n_wallets = wallets.len() as u64;
        let funds = (0..tx_count * 2).map(move |i| Fund {
            tx_in: TxIn {
                tx_id: wb_ledger::crypto::blake2b_256(&i.to_be_bytes()),
                index: 0,
            },
            lovelace: 10_000_000_000,
            owner: Owner::Generator((i % n_wallets) as usize),
        });
        let wc = WorkloadConfig {
            inputs_per_tx: 2,
            outputs_per_tx: 2,
            fee: FeePolicy::Minimum,
            padding: Padding::Add(100),
            min_recycle_lag: 0,
        };
        let workload = build::Workload::new(wallets, funds, wc, params.clone()).expect("workload");
        let builder = build::spawn_builder(workload, Some(tx_count), 4096).expect("builder");
        let cfg = TxgenConfig {
            tps,
            tx_count,
            inputs_per_tx: 2,
            outputs_per_tx: 2,
            tx_fee: None,
            min_utxo_value: 1_000_000,
            add_tx_size: Some(100),
            init_cooldown: 0.0,
            era: "Conway".into(),
            genesis_file: dir.path().join("genesis.json"),
            sig_key: dir.path().join("unused"),
            local_node_socket_path: socket.clone(),
            chain_follow: String::new(),
            target_nodes: vec![Target {
                name: Some("sink".into()),
                socket: socket.clone(),
            }],
            fan_out: 30,
            window: 8,
            report_interval: 1.0,
            phase_timeout: 1.0,
        };
        let s = rt.block_on(wb_txgen::run::benchmark_phase(&cfg, &tracer, builder, None));
        println!(
            "  requested {tps:>7.0} tx/s  achieved {:>9.1} tx/s  ratio {:.3}  (sent {}, accepted {}, generatorBound {})",
            s.achieved_tps,
            s.achieved_tps / tps,
            s.sent,
            s.accepted,
            s.generator_bound
        );
    }
    println!("  target: ratio >= 0.99 at 10,000 tx/s");
}
