#!/usr/bin/env python3
"""Load a running nmt-serve: N concurrent clients for T seconds, then sentences/s, latency and errors.

    nmt-serve --model recipes/ding-de-en/exp/rnnsearch &
    python tools/load_test.py --url http://127.0.0.1:8080 --clients 1,8,32 --seconds 20 [--input recipes/ding-de-en/data/test.de]

Each client sends one request at a time (`--lines` sentences, beam `--beam`) and the next as soon
as the answer is in; with one client that is one request at a time, the server's baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
DEFAULT_INPUT = REPO / "recipes" / "ding-de-en" / "data" / "test.de"
FALLBACK = ["Ich habe Hunger.", "Das Haus ist alt.", "Wie spät ist es?", "Er liest ein Buch.", "Wir gehen nach Hause."]


async def client_loop(client: httpx.AsyncClient, url: str, sentences: list[str], start: int, args, deadline: float,
                      latencies: list[float], counts: dict) -> None:
    index = start
    while time.perf_counter() < deadline:
        lines = [sentences[(index + k) % len(sentences)] for k in range(args.lines)]
        index += args.lines * 7919  # spread the clients over the input
        began = time.perf_counter()
        try:
            response = await client.post(url, json={"text": lines, "beam": args.beam}, timeout=120)
            ok = response.status_code == 200 and len(response.json()["translations"]) == len(lines)
        except httpx.HTTPError:
            ok = False
        latencies.append(time.perf_counter() - began)
        counts["ok" if ok else "errors"] += 1
        counts["sentences"] += len(lines) if ok else 0


async def measure(url: str, sentences: list[str], clients: int, args) -> dict:
    latencies: list[float] = []
    counts = {"ok": 0, "errors": 0, "sentences": 0}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits) as client:
        await client.post(url, json={"text": sentences[:2], "beam": args.beam}, timeout=120)  # warm-up
        began = time.perf_counter()
        deadline = began + args.seconds
        await asyncio.gather(*(client_loop(client, url, sentences, c * 101, args, deadline, latencies, counts)
                               for c in range(clients)))
        seconds = time.perf_counter() - began
    ordered = sorted(latencies)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")  # noqa: E731
    return {"clients": clients, "seconds": round(seconds, 2), "requests": counts["ok"], "errors": counts["errors"],
            "sentences_per_sec": counts["sentences"] / seconds, "p50_ms": pick(0.50), "p95_ms": pick(0.95),
            "p99_ms": pick(0.99), "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--clients", default="1,8,32", help="comma-separated client counts, measured in turn")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--lines", type=int, default=1, help="sentences a request")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--input", type=Path, default=None, help="sentences, one a line (default: the Ding test set)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    source = args.input or (DEFAULT_INPUT if DEFAULT_INPUT.exists() else None)
    sentences = [s for s in source.read_text(encoding="utf-8").splitlines() if s.strip()] if source else FALLBACK
    url = args.url.rstrip("/") + "/v1/translate"
    rows = []
    print("| clients | sentences/s | p50 ms | p95 ms | p99 ms | requests | errors |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for clients in (int(c) for c in args.clients.split(",")):
        row = asyncio.run(measure(url, sentences, clients, args))
        rows.append(row)
        print(f"| {clients} | {row['sentences_per_sec']:,.1f} | {row['p50_ms']:,.0f} | {row['p95_ms']:,.0f} | "
              f"{row['p99_ms']:,.0f} | {row['requests']:,} | {row['errors']} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"beam": args.beam, "lines": args.lines, "rows": rows}, indent=2))
    return 1 if any(row["errors"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
