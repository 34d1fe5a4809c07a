//! Cost of tracing one event, against `tracing` + `tracing-subscriber`'s JSON layer in the same run.
//!
//! Run: `cargo bench -p wb-trace --bench emit`. Prints nanoseconds per event (median of several
//! samples) for: an event filtered out by severity; the same event written in machine format to a
//! sink (`io::sink`, through the log writer thread); and the same event through `tracing` with
//! `tracing_subscriber::fmt().json()` writing to the same sink. Then the ratios.

use std::hint::black_box;
use std::time::Instant;

use wb_trace::{
    DetailLevel, Dispatcher, EventMeta, JsonObject, Output, Severity, TraceConfig, TraceEvent,
};

/// `Forge.Loop.ForgedBlock` with its real fields, plus a Debug-level sibling to filter out.
enum Forge<'a> {
    ForgedBlock {
        block: &'a str,
        block_no: u64,
        block_prev: &'a str,
        slot: u64,
    },
    BlockContext {
        slot: u64,
    },
}

impl TraceEvent for Forge<'static> {
    const NAMESPACES: &'static [EventMeta] = &[
        EventMeta::new("ForgedBlock", Severity::Info, "A block was forged."),
        EventMeta::new(
            "BlockContext",
            Severity::Debug,
            "The block context of a forging attempt.",
        ),
    ];
    fn namespace(&self) -> usize {
        match self {
            Forge::ForgedBlock { .. } => 0,
            Forge::BlockContext { .. } => 1,
        }
    }
    fn to_machine(&self, _: DetailLevel, o: &mut JsonObject<'_>) {
        match self {
            Forge::ForgedBlock {
                block,
                block_no,
                block_prev,
                slot,
            } => {
                o.str("block", block)
                    .u64("blockNo", *block_no)
                    .str("blockPrev", block_prev)
                    .str("kind", "TraceForgedBlock")
                    .u64("slot", *slot);
            }
            Forge::BlockContext { slot } => {
                o.str("kind", "TraceBlockContext").u64("slot", *slot);
            }
        }
    }
}

const BLOCK: &str = "6be99e7e7ad7e3ec054729d273b531a60201d4f2cd86e28bea13c6caeeb50a4b";
const PREV: &str = "3002b6f091e64723880dbb457325b537d25288c1865dd54fdf4caaf589262898";

/// Median nanoseconds per call of `f` over `samples` runs of `iters` calls.
fn measure(samples: usize, iters: u64, mut f: impl FnMut(u64)) -> f64 {
    for i in 0..iters / 10 {
        f(i); // warm up
    }
    let mut per_op: Vec<f64> = (0..samples)
        .map(|_| {
            let t = Instant::now();
            for i in 0..iters {
                f(i);
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    per_op.sort_by(f64::total_cmp);
    per_op[samples / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (samples, iters) = if quick { (3, 100_000) } else { (9, 1_000_000) };

    let config = TraceConfig::from_yaml_str(
        "TraceOptions:\n  '':\n    severity: Info\n    backends: [Stdout MachineFormat]\n",
        "bench",
    )
    .expect("config");
    let dispatcher = Dispatcher::builder()
        .config(config)
        .host("node-0")
        .output(Output::Writer(Box::new(std::io::sink())))
        .build()
        .expect("dispatcher");
    let tracer = dispatcher.tracer::<Forge<'static>>("Forge.Loop");

    let filtered = measure(samples, iters * 10, |i| {
        tracer.trace(black_box(&Forge::BlockContext { slot: i }))
    });
    let emitted = measure(samples, iters, |i| {
        tracer.trace(black_box(&Forge::ForgedBlock {
            block: BLOCK,
            block_no: i,
            block_prev: PREV,
            slot: i,
        }))
    });
    let stats = dispatcher.writer_stats();
    if std::env::args().any(|a| a == "--only-wb") {
        // For profiling wb-trace alone.
        println!("filtered {filtered:.2} ns/event, emitted {emitted:.1} ns/event");
        return;
    }
    assert_eq!(stats.lines_dropped, 0, "the writer kept up: {stats:?}");

    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::sink)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let (ts_emitted, ts_filtered) = tracing::subscriber::with_default(subscriber, || {
        let emitted = measure(samples, iters, |i| {
            tracing::info!(target: "Forge.Loop.ForgedBlock", block = BLOCK, blockNo = i, blockPrev = PREV, kind = "TraceForgedBlock", slot = i);
        });
        let filtered = measure(samples, iters * 10, |i| {
            tracing::debug!(target: "Forge.Loop.BlockContext", kind = "TraceBlockContext", slot = i);
        });
        (emitted, filtered)
    });

    println!("wb-trace emit benchmark ({samples} samples × {iters} events, median)");
    println!("  filtered out (severity), wb-trace             {filtered:>8.2} ns/event");
    println!("  filtered out (level),    tracing              {ts_filtered:>8.2} ns/event");
    println!("  machine line to sink,    wb-trace             {emitted:>8.1} ns/event");
    println!("  JSON line to sink,       tracing-subscriber   {ts_emitted:>8.1} ns/event");
    println!(
        "  ratio emitted wb-trace / tracing-subscriber   {:>8.3}",
        emitted / ts_emitted
    );
    println!(
        "  writer: {} lines in {} batches, {} dropped",
        stats.lines_accepted, stats.batches, stats.lines_dropped
    );
}
