//! Ingestion (lines → typed events, per host) against reading the same files and counting their
//! lines, in one run. Run: `cargo bench -p wb-analyse --bench ingest` (`-- --quick` for a short
//! run). The input is a synthetic node log with the mix a full-tracing run writes: per slot a
//! leadership check and its decision, ledger metrics, mempool additions, and now and then an
//! adoption, a fetched block and a resource sample.

use std::io::Write;
use std::time::Instant;

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let slots: u64 = if quick { 2_000 } else { 20_000 };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node-1.json");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut lines = 0u64;
    let at = |s: u64| {
        format!(
            "2026-11-24T06:{:02}:{:02}.{:09}Z",
            s / 60 % 60,
            s % 60,
            s * 7919 % 1_000_000_000
        )
    };
    for s in 0..slots {
        let mut ls = vec![
            format!(
                r#"{{"at":"{}","ns":"Forge.Loop.StartLeadershipCheckPlus","data":{{"chainDensity":0.05,"delegMapSize":52,"kind":"TraceStartLeadershipCheck","slot":{s},"utxoSize":14402}},"sev":"Info","thread":"42","host":"node-1"}}"#,
                at(s)
            ),
            format!(
                r#"{{"at":"{}","ns":"Forge.Loop.NodeNotLeader","data":{{"kind":"TraceNodeNotLeader","slot":{s}}},"sev":"Info","thread":"42","host":"node-1"}}"#,
                at(s)
            ),
            format!(
                r#"{{"at":"{}","ns":"LedgerMetrics","data":{{"chainDensity":0.05,"delegMapSize":52,"kind":"LedgerMetrics","slot":{s},"utxoSize":14402}},"sev":"Info","thread":"15","host":"node-1"}}"#,
                at(s)
            ),
        ];
        for t in 0..12 {
            ls.push(format!(r#"{{"at":"{}","ns":"Mempool.AddedTx","data":{{"kind":"TraceMempoolAddedTx","mempoolSize":{{"bytes":{},"numTxs":{t}}},"tx":{{"txid":"3b26f955"}}}},"sev":"Info","thread":"5","host":"node-1"}}"#, at(s), t * 375));
        }
        if s % 20 == 0 {
            ls.push(format!(r#"{{"at":"{}","ns":"BlockFetch.Client.CompletedBlockFetch","data":{{"block":"a1e88dba00b72362da126842045a0155b72f358656e69a81d60cfd25f81b7ccd","delay":0.022536,"kind":"CompletedBlockFetch","peer":{{"connectionId":"127.0.0.1:30001 127.0.0.1:30000"}},"size":64192}},"sev":"Info","thread":"78","host":"node-1"}}"#, at(s)));
            ls.push(format!(r#"{{"at":"{}","ns":"ChainDB.AddBlockEvent.AddedToCurrentChain","data":{{"kind":"AddedToCurrentChain","newTipSelectView":{{"blockNo":{},"issueNo":0,"kind":"PraosTiebreakerView","slotNo":{s}}},"newtip":"a1e88dba00b72362da126842045a0155b72f358656e69a81d60cfd25f81b7ccd@{s}"}},"sev":"Notice","thread":"29","host":"node-1"}}"#, at(s), s / 20));
            ls.push(format!(r#"{{"at":"{}","ns":"Resources","data":{{"Alloc":7303777,"CentiBlkIO":0,"CentiCpu":{s},"FsRd":0,"FsWr":8192,"Heap":5321740,"NetRd":363852,"NetWr":361178,"RSS":9011200,"Threads":6,"kind":"ResourceStats"}},"sev":"Info","thread":"1","host":"node-1"}}"#, at(s)));
        }
        for l in ls {
            lines += 1;
            writeln!(out, "{l}").unwrap();
        }
    }
    drop(out);
    let bytes = std::fs::metadata(&path).unwrap().len();
    println!("log: {lines} lines, {:.1} MB", bytes as f64 / 1e6);

    let best = |f: &mut dyn FnMut() -> u64| {
        let mut best = f64::MAX;
        let mut r = 0;
        for _ in 0..if quick { 3 } else { 5 } {
            let t = Instant::now();
            r = f();
            best = best.min(t.elapsed().as_secs_f64());
        }
        (best, r)
    };
    let (t_count, n) = best(&mut || {
        std::fs::read(&path)
            .unwrap()
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64
    });
    assert_eq!(n, lines);
    let (t_ingest, events) = best(&mut || {
        let mut n = 0u64;
        let c = wb_analyse::source::read_host(std::slice::from_ref(&path), "node-1", |_| n += 1)
            .unwrap();
        assert_eq!(c.bad, 0);
        n
    });
    assert_eq!(events, lines);
    let mbs = |t: f64| bytes as f64 / t / 1e6;
    println!("read + count lines (baseline) {:>7.0} MB/s", mbs(t_count));
    println!(
        "wb-analyse ingestion          {:>7.0} MB/s, {:.2} M events/s",
        mbs(t_ingest),
        lines as f64 / t_ingest / 1e6
    );
    println!("ratio ingestion / read+count = {:.1}", t_ingest / t_count);
}
