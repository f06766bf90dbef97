#!/usr/bin/env python3
"""Prints scripts/bench's results (JSON lines on stdin) as one table: each
scenario's figures for Canvas and, when it ran, the reference server, with
their ratio (Canvas / reference)."""
import json
import sys

runs = [json.loads(line) for line in sys.stdin if line.strip()]


def get(result, path):
    value = result
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


FIGURES = [
    ("accepted/s", "accepted_per_s", "{:,.0f}"),
    ("tiles/s delivered", "tiles_per_s", "{:,.0f}"),
    ("frames/s", "tiles_frames_per_s", "{:,.0f}"),
    ("ack p50 ms", "ack_ms.p50", "{:.2f}"),
    ("ack p99 ms", "ack_ms.p99", "{:.2f}"),
    ("visible p50 ms", "visible_ms.p50", "{:.2f}"),
    ("visible p99 ms", "visible_ms.p99", "{:.2f}"),
    ("server cores", "server.cpu_cores", "{:.2f}"),
    ("RSS/conn KB", "server.rss_bytes_per_conn", None),
    ("gaps", "gaps", "{:.0f}"),
    ("resyncs", "resyncs", "{:.0f}"),
    ("converged", "verify.converged", None),
    ("chat posted/s", "chat_posted_per_s", "{:,.1f}"),
    ("chat lines/s delivered", "chat_lines_per_s", "{:,.0f}"),
    ("chat seen p50 ms", "chat_seen_ms.p50", "{:.0f}"),
    ("chat seen p99 ms", "chat_seen_ms.p99", "{:.0f}"),
    ("chat lines missed", "chat_missed", "{:,.0f}"),
    ("chat lines dropped/s", "server.chat_lines_dropped_per_s", "{:,.0f}"),
]


def show(value, fmt, key):
    if value is None:
        return "-"
    if key == "server.rss_bytes_per_conn":
        return f"{value / 1024:.1f}"
    if fmt is None:
        return str(value).lower()
    return fmt.format(value)


def us_per_tile(result):
    cores, tiles = get(result, "server.cpu_cores"), get(result, "tiles_per_s")
    if not cores or not tiles:
        return None
    return cores / tiles * 1e6


by_scenario = {}
for run in runs:
    by_scenario.setdefault(run["scenario"], {})[run["server"]] = run["result"]

for scenario, servers in by_scenario.items():
    canvas, reference = servers.get("canvas"), servers.get("refserver")
    print(f"\n{scenario}")
    print(f"  {'':20} {'canvas':>14} {'refserver':>14} {'ratio':>8}")
    rows = FIGURES + [("CPU us/tile", None, "{:.3f}")]
    for label, key, fmt in rows:
        values = []
        for result in (canvas, reference):
            if result is None:
                values.append(None)
            elif key is None:
                values.append(us_per_tile(result))
            else:
                values.append(get(result, key))
        # The chat's rows only where a run chatted.
        if key and "chat" in key and not any(get(r, "chat_posted_per_s") for r in (canvas, reference) if r):
            continue
        ratio = ""
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) and values[1]:
            ratio = f"{values[0] / values[1]:.2f}"
        print(f"  {label:20} {show(values[0], fmt, key):>14} {show(values[1], fmt, key):>14} {ratio:>8}")
