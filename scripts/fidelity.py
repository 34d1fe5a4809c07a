#!/usr/bin/env python3
"""The fidelity table of docs/FIDELITY.md: analysed runs' per-block means beside the published
means of Cardano's 52-node cloud cluster (docs/fidelity/real-cluster-value.csv, from the
Performance & Tracing team's release reports; docs/FIDELITY.md names them).

Usage: scripts/fidelity.py [--only METRIC,METRIC…] [--svg FILE] LABEL=RUN_DIR [LABEL=RUN_DIR …] > table.md

`--only` keeps the rows of the named metrics (locli's names, e.g. cdfPeerFetch,cdf0.50).
`--svg FILE` also draws the ratios: one line per phase, one marker per run, on a log scale
with the ±25 % band shaded.

Each RUN_DIR is a run directory (its analysis/blockprop.json is read) or an analysis
directory. The published figures are per-block means (locli's report tables average the
per-block values), so each run's `cdfAverage` is shown, with its ratio to the mean over
releases and whether it is within ±25 % of it. Only the Python standard library is used.
"""

import csv
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REAL = os.path.join(HERE, "..", "docs", "fidelity", "real-cluster-value.csv")

# The phases shown, in diffusion order: (locli name, what it is).
ROWS = [
    ("cdfBlockSize", "block size"),
    ("cdfForgerTicked", "forger: ledger ticking"),
    ("cdfForgerMemSnap", "forger: mempool snapshot"),
    ("cdfForgerForge", "forger: snapshot → forged"),
    ("cdfForgerAnnounce", "forger: forged → announced"),
    ("cdfForgerSend", "forger: forged → sending"),
    ("cdfForgerAdoption", "forger: forged → self-adopted"),
    ("cdfForgerAnnounceCum", "forger: slot start → announced"),
    ("cdfPeerNoticeFirst", "peers: first peer notice (slot start → header)"),
    ("cdfPeerRequest", "peers: notice → fetch request"),
    ("cdfPeerFetch", "peers: fetch duration"),
    ("cdfPeerAdoption", "peers: fetched → adopted"),
    ("cdf0.50", "adoption by 50 % of nodes"),
    ("cdf0.80", "adoption by 80 %"),
    ("cdf0.90", "adoption by 90 %"),
    ("cdf0.96", "adoption by 96 %"),
    ("cdf1.00", "adoption by 100 %"),
]


def real():
    by = {}
    with open(REAL, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by.setdefault(row["metric"], []).append((float(row["mean"]), row["unit"]))
    return by


def run_means(path):
    p = os.path.join(path, "analysis", "blockprop.json")
    if not os.path.exists(p):
        p = os.path.join(path, "blockprop.json")
    try:
        with open(p, encoding="utf-8") as f:
            cdfs = json.load(f)["cdfs"]
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"{p}: {e}")
    out = {}
    for name, _ in ROWS:
        c = cdfs.get(name)
        if c and c.get("cdfSize", 0) > 0:
            # Times are seconds in the analysis, ms here; sizes stay bytes.
            scale = 1.0 if name == "cdfBlockSize" else 1000.0
            out[name] = c["cdfAverage"] * scale
    return out


# Marker colours of the runs, in order (colour-blind safe: Okabe–Ito).
COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]


def svg(rows, labels):
    """A ratio chart: `rows` is [(what, [ratio or None per run])], on a log scale 1/8 … 8."""
    left, width, top, step = 330, 420, 40, 24
    lo, hi = math.log(1 / 8), math.log(8)

    def x(r):
        r = min(max(r, 1 / 8), 8)
        return left + (math.log(r) - lo) / (hi - lo) * width

    height = top + step * len(rows) + 50
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 30}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{left}" y="16" font-weight="bold">run ÷ real cluster (per-block means; '
        "log scale, band ±25 %)</text>",
        f'<rect x="{x(0.75):.1f}" y="{top - 8}" width="{x(1.25) - x(0.75):.1f}" '
        f'height="{step * len(rows)}" fill="#e8f4e8"/>',
    ]
    for t in [1 / 8, 1 / 4, 1 / 2, 1, 2, 4, 8]:
        label = f"{t:g}" if t >= 1 else f"1/{round(1 / t)}"
        # Ratios beyond the scale sit at its ends.
        label = {1 / 8: "≤ 1/8", 8: "≥ 8"}.get(t, label)
        out.append(
            f'<line x1="{x(t):.1f}" y1="{top - 8}" x2="{x(t):.1f}" '
            f'y2="{top + step * len(rows) - 8}" stroke="{"#888" if t == 1 else "#ddd"}"/>'
        )
        out.append(
            f'<text x="{x(t):.1f}" y="{top + step * len(rows) + 8}" '
            f'text-anchor="middle">{label}</text>'
        )
    for i, (what, ratios) in enumerate(rows):
        y = top + i * step + 4
        out.append(f'<text x="{left - 8}" y="{y + 4}" text-anchor="end">{what}</text>')
        for j, r in enumerate(ratios):
            if r is None:
                continue
            c = COLOURS[j % len(COLOURS)]
            # Markers of different runs are offset a little so equal ratios stay visible.
            dy = (j - (len(ratios) - 1) / 2) * 3
            out.append(
                f'<circle cx="{x(r):.1f}" cy="{y + dy:.1f}" r="4.5" fill="{c}" '
                f'fill-opacity="0.85"><title>{labels[j]}: {r:.2f}</title></circle>'
            )
    ly = top + step * len(rows) + 30
    lx = left
    for j, label in enumerate(labels):
        out.append(f'<circle cx="{lx}" cy="{ly - 4}" r="4.5" fill="{COLOURS[j % len(COLOURS)]}"/>')
        out.append(f'<text x="{lx + 8}" y="{ly}">{label}</text>')
        lx += 16 + 7 * len(label) + 14
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    runs = []
    args = sys.argv[1:]
    only = None
    svg_file = None
    while args[:1] in (["--only"], ["--svg"]) and len(args) > 1:
        if args[0] == "--only":
            only = set(args[1].split(","))
            unknown = only - {name for name, _ in ROWS}
            if unknown:
                sys.exit(f"--only: no such row: {', '.join(sorted(unknown))}")
        else:
            svg_file = args[1]
        args = args[2:]
    for arg in args:
        label, sep, path = arg.partition("=")
        if not sep:
            sys.exit(f"expected LABEL=RUN_DIR, not {arg!r}")
        runs.append((label, run_means(path)))
    if not runs:
        sys.exit(__doc__)
    ref = real()
    head = "| phase (per-block mean) | real cluster, 8.7.2–11.0.1: range | mean over releases |"
    rule = "|---|---|---|"
    for label, _ in runs:
        head += f" {label} | ratio |"
        rule += "---|---|"
    print(head)
    print(rule)
    chart = []
    for name, what in ROWS:
        if only is not None and name not in only:
            continue
        vals = ref.get(name, [])
        unit = vals[0][1] if vals else "ms"
        if vals:
            xs = [v for v, _ in vals]
            lo, hi, mid = min(xs), max(xs), sum(xs) / len(xs)
            fmt = (lambda x: f"{x:,.0f}") if unit == "bytes" else (lambda x: f"{x:.1f}")
            line = f"| {what} ([`{name}`](DICTIONARY.md)) | {fmt(lo)} – {fmt(hi)} {unit} | {fmt(mid)} |"
        else:
            mid = None
            line = f"| {what} | — | — |"
        if mid:
            chart.append((what, [m[name] / mid if name in m else None for _, m in runs]))
        for _, means in runs:
            v = means.get(name)
            if v is None:
                line += " — | |"
                continue
            fmt = f"{v:,.0f}" if unit == "bytes" else f"{v:.1f}"
            if mid:
                r = v / mid
                mark = "✓" if 0.75 <= r <= 1.25 else "✗"
                line += f" {fmt} | {r:.2f} {mark} |"
            else:
                line += f" {fmt} | |"
        print(line)
    if svg_file:
        with open(svg_file, "w", encoding="utf-8") as f:
            f.write(svg(chart, [label for label, _ in runs]))


if __name__ == "__main__":
    main()
