"""Memory of idle sessions: RSS growth of one process holding 100,000 sessions of one channel.

Sessions are created through the real service (`Service.create_session`) against a fake live origin on
loopback, as a player's POST would create them. Run: `python -m bench.memory [COUNT]`.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys

from proxy.demo.testing import LOCAL_POLICY, FakeOrigin, free_port, local_settings, run_server
from proxy.net.origin import HttpClient, new_session
from proxy.playback.service import Service
from proxy.settings import ChannelConfig


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def measure(count: int, origin_base: str) -> tuple[int, int]:
    channel = ChannelConfig(name="bench", origin=f"{origin_base}/master.m3u8")
    settings = local_settings().with_channels({"bench": channel})  # the origin is a local process
    async with new_session(LOCAL_POLICY) as http:
        service = Service(settings, HttpClient(http, max_bytes=settings.origin_max_bytes))
        await service.create_session("bench", {})  # starts the channel: master, first window
        gc.collect()
        before = rss_bytes()
        for index in range(count):
            await service.create_session("bench", {"device": "tv", "n": str(index % 100)})
        gc.collect()
        grown = rss_bytes() - before
        await service.close()
    return grown, len(service.sessions)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    port = free_port()
    with run_server(FakeOrigin().app, port) as base:
        grown, live = asyncio.run(measure(count, base))
    print(f"{live} sessions: RSS grew {grown / 2**20:.1f} MiB, {grown / count:.0f} bytes per session")


if __name__ == "__main__":
    main()
