"""A live origin that speaks HTTP/1.1 by hand, so it can misbehave as no web framework lets a server: stop
mid-body and close, stall mid-body, send more than any playlist should, answer with whatever bytes a test
gives. Its playlists are `FakeOrigin`'s (the same live clock). One request per connection."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator

from proxy.demo.testing import MASTER, FakeOrigin

HUGE_SEGMENTS = 100_000  # about 2.4 MB of playlist: over the proxy's 2 MiB cap


def response(body: bytes, status: str = "200 OK", headers: str = "", sized: bool = True) -> bytes:
    length = f"Content-Length: {len(body)}\r\n" if sized else ""
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/vnd.apple.mpegurl\r\n{length}{headers}"
    return f"{head}Connection: close\r\n\r\n".encode() + body


def redirect(location: str) -> bytes:
    return response(b"", "302 Found", f"Location: {location}\r\n")


def huge_playlist(name: str, td: int) -> bytes:
    """A valid media playlist of HUGE_SEGMENTS segments."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{td}", "#EXT-X-MEDIA-SEQUENCE:0"]
    for msn in range(HUGE_SEGMENTS):
        lines += [f"#EXTINF:{td:.3f},", f"{name}/{msn}.ts"]
    return ("\n".join(lines) + "\n").encode()


class RawOrigin:
    """`mode` says how media playlists are answered: "ok"; "close" (half the announced body, then the
    connection closed); "stall" (half the announced body, then nothing until the client gives up); "huge"
    (HUGE_SEGMENTS segments with their Content-Length); "huge-unsized" (the same, read until the close).
    `raw[path]` is answered as given, whatever the mode (redirects, garbage)."""

    def __init__(self, fake: FakeOrigin | None = None) -> None:
        self.fake = fake or FakeOrigin(every=10**6)  # no breaks: these tests are about the content
        self.mode = "ok"
        self.raw: dict[str, bytes] = {}
        self.requests: Counter[str] = Counter()
        self.base = ""
        self._open: set[asyncio.StreamWriter] = set()

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        """Listening on a free 127.0.0.1 port of the running loop; yields its base URL."""
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        try:
            yield self.base
        finally:
            server.close()
            for writer in list(self._open):
                writer.close()
            await server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            self.requests[path] += 1
            await self._answer(path, reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass  # the proxy went away first: what a stalled answer waits for
        finally:
            self._open.discard(writer)
            writer.close()

    async def _answer(self, path: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if path in self.raw:
            writer.write(self.raw[path])
        elif path == "/master.m3u8":
            writer.write(response(MASTER.encode()))
        else:
            name = path.strip("/").removesuffix(".m3u8")
            await self._media(name, reader, writer)
        await writer.drain()

    async def _media(self, name: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        fake, mode = self.fake, self.mode
        if mode.startswith("huge"):
            writer.write(response(huge_playlist(name, fake.td), sized=mode == "huge"))
            return
        body = fake.playlist(name, fake.edge()).encode()
        if mode == "ok":
            writer.write(response(body))
            return
        whole = response(body)
        writer.write(whole[: len(whole) - len(body) // 2])  # the head and half the body it announces
        await writer.drain()
        if mode == "stall":
            await reader.read()  # nothing more until the proxy closes the connection
