#!/usr/bin/env python3
"""Fits the `cardano-node-10` cost calibration of the emulated node (crates/node/src/costs.rs).

Inputs, both in the repository:
  * real cardano-node logs, tests/fixtures/real-logs/ (their provenance is in that directory's
    README): every forged block's phases and every fetched block's validation are measured
    from the trace timestamps;
  * published.csv: phase figures from published benchmark reports and other material, each
    row naming its source (README.md here lists them).

Outputs, written next to this script:
  * points.csv: every data point the fit uses (phase, bytes, seconds, source);
  * cardano-node-10.json: per phase `base_ms + per_kb_ms * kilobytes` by least squares over the
    points (weighted: each source counts once, however many points it has), with the points'
    count and sources.

`fit.py --check` writes nothing and fails when either output is not exactly what the inputs
give (CI runs it). Only the Python standard library is used.
"""

import csv
import io
import json
import os
import sys
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
LOGS = os.path.join(ROOT, "tests", "fixtures", "real-logs")

# Real logs with forging or fetching in them (the others have neither).
LOG_FILES = [
    "benchmark-node-locli-excerpt.jsonl",
    "block-producer-tracer-output.jsonl",
    "leios-demo-node-0-stdout.log",
    "leios-demo-node-1-stdout.log",
    "mainnet-relay-legacy-json.jsonl",
]

PHASES = ["leadership", "tick", "snapshot", "forge", "adopt_forged", "adopt_fetched"]

# A fetched block adopted later than this was queued behind a sync, not validated alone.
MAX_ADOPTION_S = 1.0


def seconds(at):
    """A trace timestamp as seconds since the epoch (nanosecond digits kept)."""
    at = at.rstrip("Z")
    whole, _, frac = at.partition(".")
    t = datetime.fromisoformat(whole).replace(tzinfo=None)
    epoch = (t - datetime(1970, 1, 1)).total_seconds()
    return epoch + (float("0." + frac) if frac else 0.0)


def events(path):
    """(time, kind, data) of every JSON trace line; other lines are skipped."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                v = json.loads(line)
            except ValueError:
                continue
            data = v.get("data")
            if not isinstance(data, dict) or "at" not in v:
                continue
            ns = v.get("ns")
            if isinstance(ns, list):
                ns = ".".join(ns)
            kind = data.get("kind", "") or ""
            # New tracing names the event by namespace, the legacy system by `kind`.
            name = (ns or "").split(".")[-1]
            if name in ("", "ChainDB", "BlockFetchClient", "ChainSyncClient"):
                name = kind.split(".")[-1]
            out.append((seconds(v["at"]), name, data))
    out.sort(key=lambda e: e[0])
    return out


def block_of(data):
    for key in ("block", "blockHash", "newtip"):
        b = data.get(key)
        if isinstance(b, str):
            return b.split("@")[0]
    return None


def log_points(name):
    evs = events(os.path.join(LOGS, name))
    pts = []
    # Forging: the phases of every slot the node led, as locli measures them.
    slots = {}
    for t, kind, d in evs:
        slot = d.get("slot")
        if kind in ("StartLeadershipCheck", "TraceStartLeadershipCheck"):
            slots.setdefault(slot, {})["start"] = t
        elif kind in ("NodeIsLeader", "NodeNotLeader", "TraceNodeIsLeader", "TraceNodeNotLeader"):
            s = slots.setdefault(slot, {})
            s.setdefault("lead", t)
            if "start" in s:
                pts.append(("leadership", 0, t - s["start"], name))
        elif kind in ("ForgeTickedLedgerState", "TraceForgeTickedLedgerState"):
            slots.setdefault(slot, {})["ticked"] = t
        elif kind in ("ForgingMempoolSnapshot", "TraceForgingMempoolSnapshot"):
            slots.setdefault(slot, {})["snap"] = t
        elif kind in ("ForgedBlock", "TraceForgedBlock"):
            slots.setdefault(slot, {})["forged"] = t
        elif kind in ("AdoptedBlock", "TraceAdoptedBlock"):
            s = slots.setdefault(slot, {})
            size = d.get("blockSize")
            if not size or "forged" not in s:
                continue
            # Each phase where both its ends were traced; forging counts from the snapshot,
            # else (nodes that trace neither ticking nor snapshot) from the leadership check,
            # as locli does.
            if "lead" in s and "ticked" in s:
                pts.append(("tick", 0, s["ticked"] - s["lead"], name))
            if "ticked" in s and "snap" in s:
                pts.append(("snapshot", 0, s["snap"] - s["ticked"], name))
            if "snap" in s or "lead" in s:
                pts.append(("forge", size, s["forged"] - s.get("snap", s.get("lead")), name))
            pts.append(("adopt_forged", size, t - s["forged"], name))
    # Validation: a fetched block's first completed fetch to its adoption.
    fetched = {}
    for t, kind, d in evs:
        if kind == "CompletedBlockFetch":
            b = block_of(d)
            if b and b not in fetched and d.get("size"):
                fetched[b] = (t, d["size"])
        elif kind in ("AddedToCurrentChain", "SwitchedToAFork"):
            b = block_of(d)
            if b in fetched:
                t0, size = fetched.pop(b)
                if 0 <= t - t0 <= MAX_ADOPTION_S:
                    pts.append(("adopt_fetched", size, t - t0, name))
    return pts


def published_points():
    pts = []
    with open(os.path.join(HERE, "published.csv"), encoding="utf-8") as f:
        for n, row in enumerate(csv.DictReader(f), start=2):
            if row["phase"] not in PHASES:
                sys.exit(f"published.csv line {n}: unknown phase {row['phase']!r}")
            pts.append((row["phase"], int(row["bytes"]), float(row["seconds"]), row["source"]))
    return pts


def fit(points):
    """Weighted least squares of ms on kilobytes; each source weighs 1 in total."""
    per_source = {}
    for _, _, _, src in points:
        per_source[src] = per_source.get(src, 0) + 1
    w = [1.0 / per_source[p[3]] for p in points]
    x = [p[1] / 1000.0 for p in points]
    y = [p[2] * 1000.0 for p in points]
    sw = sum(w)
    mx = sum(wi * xi for wi, xi in zip(w, x)) / sw
    my = sum(wi * yi for wi, yi in zip(w, y)) / sw
    sxx = sum(wi * (xi - mx) ** 2 for wi, xi in zip(w, x))
    sxy = sum(wi * (xi - mx) * (yi - my) for wi, xi, yi in zip(w, x, y))
    slope = sxy / sxx if sxx > 0 else 0.0
    slope = max(slope, 0.0)
    base = max(my - slope * mx, 0.0)
    return round(base, 4), round(slope, 5)


def outputs():
    points = []
    for name in LOG_FILES:
        points += log_points(name)
    points += published_points()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["phase", "bytes", "seconds", "source"])
    for p in points:
        w.writerow([p[0], p[1], f"{p[2]:.6f}", p[3]])
    costs = {"name": "cardano-node-10"}
    fitted = {}
    for phase in PHASES:
        pts = [p for p in points if p[0] == phase]
        if not pts:
            sys.exit(f"no data for phase {phase}")
        base, per_kb = fit(pts)
        costs[phase] = {"base_ms": base, "per_tx_ms": 0.0, "per_kb_ms": per_kb}
        fitted[phase] = {
            "points": len(pts),
            "sources": sorted({p[3] for p in pts}),
        }
    doc = {
        "costs": costs,
        "fitted_to": fitted,
        "note": "written by crates/node/calibration/fit.py; do not edit by hand",
    }
    return buf.getvalue(), json.dumps(doc, indent=2) + "\n"


def main():
    check = "--check" in sys.argv[1:]
    points, table = outputs()
    files = {"points.csv": points, "cardano-node-10.json": table}
    stale = []
    for name, text in files.items():
        path = os.path.join(HERE, name)
        if check:
            try:
                with open(path, encoding="utf-8") as f:
                    if f.read() != text:
                        stale.append(name)
            except FileNotFoundError:
                stale.append(name)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    if stale:
        sys.exit("not what fit.py writes (run crates/node/calibration/fit.py): " + ", ".join(stale))
    print(table, end="")


if __name__ == "__main__":
    main()
