//! The live page in a real headless Chromium (Debian's `chromium`, installed by `.ci/run`): it
//! loads from the tracer, receives server-sent events, and shows a node that is forwarding.

use std::process::Command;
use std::time::Duration;

use wb_forward::Address;
use wb_trace::forwarder::ForwarderSettings;
use wb_trace::{
    DetailLevel, Dispatcher, EventMeta, JsonObject, Output, Severity, TraceConfig, TraceEvent,
};
use wb_tracer::{ServiceOptions, TracerConfig, TracerService};

/// Forging and chain-selection messages with the fields the tracer reads.
enum Chain {
    Forged { slot: u64 },
    Adopted { slot: u64, block_no: u64 },
}

impl TraceEvent for Chain {
    const NAMESPACES: &'static [EventMeta] = &[
        EventMeta::new("Forge.Loop.ForgedBlock", Severity::Info, "forged"),
        EventMeta::new(
            "ChainDB.AddBlockEvent.AddedToCurrentChain",
            Severity::Notice,
            "adopted",
        ),
    ];
    fn namespace(&self) -> usize {
        match self {
            Chain::Forged { .. } => 0,
            Chain::Adopted { .. } => 1,
        }
    }
    fn to_machine(&self, _: DetailLevel, o: &mut JsonObject<'_>) {
        match self {
            Chain::Forged { slot } => {
                o.str("kind", "TraceForgedBlock").u64("slot", *slot);
            }
            Chain::Adopted { slot, block_no } => {
                o.str("kind", "AddedToCurrentChain")
                    .object("newTipSelectView", |v| {
                        v.u64("blockNo", *block_no).u64("slotNo", *slot);
                    })
                    .display("newtip", format_args!("ab12@{slot}"));
            }
        }
    }
}

fn chromium_dom(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--timeout=4000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .output()
        .expect(
            "Debian's chromium must be installed (apt-get install -y chromium; .ci/run does it)",
        );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `data-value` of the element with `data-field="field"` inside the card of `node`.
fn field<'a>(dom: &'a str, node: &str, field: &str) -> Option<&'a str> {
    let card = dom
        .split(&format!("data-node=\"{node}\""))
        .nth(1)?
        .split("</article>")
        .next()?;
    let at = card.find(&format!("data-field=\"{field}\""))?;
    let tag_start = card[..at].rfind('<')?;
    let tag = &card[tag_start..at + card[at..].find('>')?];
    tag.split("data-value=\"").nth(1)?.split('"').next()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_page_shows_a_forwarding_node_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("tracer.sock");
    let cfg = TracerConfig::from_yaml_str(
        &format!(
            "networkMagic: 42\nnetwork:\n  tag: AcceptAt\n  contents: \"{}\"\nlogging:\n  - logRoot: \"{}\"\n    logMode: FileMode\n    logFormat: ForMachine\nhasLiveView:\n  epHost: 127.0.0.1\n  epPort: 0\n",
            sock.display(),
            dir.path().join("logs").display()
        ),
        "test",
    )
    .unwrap();
    let service = TracerService::start(cfg, None, ServiceOptions::default())
        .await
        .unwrap();
    let node_cfg = TraceConfig::from_yaml_str(
        "TraceOptionResourceFrequency: 100\nTraceOptions:\n  '':\n    severity: Info\n    backends: [Forwarder, EKGBackend]\n",
        "node",
    )
    .unwrap();
    let settings = ForwarderSettings {
        address: Address::Unix(sock.clone()),
        accept: false,
        network_magic: 42,
        node_name: "node-7".into(),
        queue_size: 1000,
        min_reconnect_delay: Duration::from_millis(50),
        max_reconnect_delay: Duration::from_millis(200),
    };
    let mut d = Dispatcher::builder()
        .config(node_cfg)
        .output(Output::None)
        .forward_to(settings)
        .sample_resources(true)
        .build()
        .unwrap();
    let t = d.tracer::<Chain>("");
    for slot in [3, 9, 14] {
        t.trace(&Chain::Forged { slot });
    }
    t.trace(&Chain::Adopted {
        slot: 14,
        block_no: 12,
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while service.snapshot()["nodes"][0]["tipBlock"] != 12 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "node state never arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let url = format!("http://{}/", service.live_addr().unwrap());
    if let Ok(png) = std::env::var("WB_LIVE_SCREENSHOT") {
        // For looking at the page: WB_LIVE_SCREENSHOT=/tmp/live.png cargo test --test live_page
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let profile = tempfile::tempdir().unwrap();
            Command::new("chromium")
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--timeout=4000",
                    "--window-size=1200,700",
                ])
                .arg(format!("--user-data-dir={}", profile.path().display()))
                .arg(format!("--screenshot={png}"))
                .arg(url)
                .output()
                .unwrap();
        })
        .await
        .unwrap();
    }
    // Chromium dumps the DOM at the load event, and the page fills in from its event stream
    // just after: a dump can come too early, so take a few before judging the page.
    let dom = tokio::task::spawn_blocking(move || {
        let mut dom = String::new();
        for _ in 0..5 {
            dom = chromium_dom(&url);
            if dom.contains("data-node=\"node-7\"") {
                break;
            }
        }
        dom
    })
    .await
    .unwrap();
    assert!(
        dom.contains("data-node=\"node-7\""),
        "the card of node-7 is on the page:\n{dom}"
    );
    let card = dom.split("data-node=\"node-7\"").nth(1).unwrap();
    let status = card.split("data-field=\"status\"").nth(1).unwrap();
    let status_text = status.split('>').nth(1).unwrap().split('<').next().unwrap();
    assert_eq!(status_text, "connected", "{dom}");
    assert_eq!(field(&dom, "node-7", "tipBlock"), Some("12"));
    assert_eq!(field(&dom, "node-7", "tipSlot"), Some("14"));
    assert_eq!(field(&dom, "node-7", "forged"), Some("3"));
    d.shutdown();
    service.shutdown().await;
}
