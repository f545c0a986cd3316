"""Issue #5 target: answer latency with the query log on within 10% of the log off.

Measured where a user feels it: signed `/units` requests over HTTP, one at a time, to two
copies of the bot served the same way (uvicorn), one with logging on and one with
`record_query` switched off, alternating request by request so machine drift hits both alike.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from bench.bench_slack import messages, running_servers, signed_bodies


async def _alternate(urls: dict[str, str], bodies: list[tuple[bytes, dict]]) -> dict[str, list[float]]:
    import aiohttp

    times: dict[str, list[float]] = {k: [] for k in urls}
    async with aiohttp.ClientSession() as session:
        for i, (body, headers) in enumerate(bodies):
            order = list(urls) if i % 2 == 0 else list(reversed(urls))
            for kind in order:
                t0 = time.perf_counter()
                async with session.post(urls[kind], data=body, headers=headers) as resp:
                    await resp.read()
                    assert resp.status == 200, resp.status
                times[kind].append((time.perf_counter() - t0) * 1000)
    return times


def main(n: int = 1500) -> dict:
    with running_servers(("bot", "bot-nolog")) as servers:
        urls = {kind: f"http://127.0.0.1:{port}/slack/events" for kind, (_, port) in servers.items()}
        bodies = signed_bodies(messages(n + 200, "units"))
        asyncio.run(_alternate(urls, bodies[:200]))  # warm up
        times = asyncio.run(_alternate(urls, bodies[200:]))
    result = {}
    for kind, values in times.items():
        q = statistics.quantiles(values, n=100)
        result[kind] = {"p50_ms": round(q[49], 3), "p90_ms": round(q[89], 3), "p99_ms": round(q[98], 3),
                        "mean_ms": round(statistics.fmean(values), 3)}
    on, off = result["bot"], result["bot-nolog"]
    ratio = on["p50_ms"] / off["p50_ms"]
    print(f"answer latency over HTTP, {n} sequential /units requests each:")
    print(f"  logging off: p50 {off['p50_ms']:.3f} ms  p90 {off['p90_ms']:.3f}  p99 {off['p99_ms']:.3f}  mean {off['mean_ms']:.3f}")
    print(f"  logging on : p50 {on['p50_ms']:.3f} ms  p90 {on['p90_ms']:.3f}  p99 {on['p99_ms']:.3f}  mean {on['mean_ms']:.3f}")
    print(f"  on/off p50 {ratio:.3f}x, p90 {on['p90_ms'] / off['p90_ms']:.3f}x, mean {on['mean_ms'] / off['mean_ms']:.3f}x"
          f"  (target: within 10%)")
    result["p50_ratio"] = ratio
    return result


if __name__ == "__main__":
    main()
