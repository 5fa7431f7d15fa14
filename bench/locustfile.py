"""Players as locust users: each creates a session, loads its master, then polls one media playlist every
target duration, checking that MEDIA-SEQUENCE never goes back (a cheap invariant check, not a parser).

    make demo &                                                    # or any running proxy
    make locust ARGS="-u 2000 -r 200 -t 2m"                        # --headless against http://127.0.0.1:8080

`make locust` runs the virtualenv's locust (`.venv/bin/locust`, installed with the bench extras) on this file;
`HOST=` names another proxy.

Locust prints p50/p95/p99 per request name; pin locust and the server to different cores (taskset).
"""

from __future__ import annotations

import os
import random
import re

from locust import constant_pacing, task
from locust.contrib.fasthttp import FastHttpUser

CHANNEL = os.environ.get("SSAI_CHANNEL", "demo")
TARGET_DURATION = float(os.environ.get("SSAI_TARGET_DURATION", "6"))
_MSN = re.compile(rb"#EXT-X-MEDIA-SEQUENCE:(\d+)")
_VARIANT = re.compile(rb"^(/v1/ssai/media/\S+\.m3u8)$", re.M)


class Player(FastHttpUser):
    wait_time = constant_pacing(TARGET_DURATION)

    def on_start(self) -> None:
        response = self.client.post(f"/v1/ssai/session/{CHANNEL}/main.m3u8", name="session")
        manifest = response.json()["manifestUrl"]
        master = self.client.get(manifest, name="master").content
        variants = _VARIANT.findall(master)
        self.media = random.choice(variants).decode()
        self.last_msn = -1
        self._sleep_offset()

    def _sleep_offset(self) -> None:
        # Players started together would poll in lockstep; a real audience is spread over a target duration.
        import gevent

        gevent.sleep(random.uniform(0, TARGET_DURATION))

    @task
    def poll(self) -> None:
        with self.client.get(self.media, name="media playlist", catch_response=True) as response:
            match = _MSN.search(response.content or b"")
            if match is None:
                response.failure("no EXT-X-MEDIA-SEQUENCE")
                return
            msn = int(match.group(1))
            if msn < self.last_msn:
                response.failure(f"MEDIA-SEQUENCE went back from {self.last_msn} to {msn}")
            self.last_msn = msn
