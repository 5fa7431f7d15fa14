"""ControlPlane's write methods tell the subscriber (the channel directory) themselves when a write changes what a
channel plays, on SQLite and PostgreSQL; a write that changes nothing played (a refused one, a new or deleted
configuration no channel names) tells nothing."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from proxy.control import accounts
from proxy.control.db import Database
from proxy.control.plane import ControlPlane
from proxy.errors import Conflict
from proxy.media.pipeline import MediaPipeline


class Subscriber:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1


@pytest.fixture
async def plane(database: Database) -> tuple[ControlPlane, Subscriber, str]:
    # The slate library subscribes to the pipeline; these writes never reach it.
    pipeline = cast(MediaPipeline, SimpleNamespace(on_profile=[], jobs=SimpleNamespace(on_finished=[])))
    control = ControlPlane(database, pipeline)
    control.on_change = subscriber = Subscriber()
    return control, subscriber, await accounts.create_account(database, "writes")


APPLICATION: dict[str, Any] = {"name": "ads", "ad_config": {"ad_tag": "http://ads.example/vast"}}


async def test_application_writes(plane: tuple[ControlPlane, Subscriber, str]) -> None:
    control, subscriber, account = plane
    stored = await control.create_application(account, APPLICATION)
    assert subscriber.calls == 1
    assert await control.update_application(account, stored.id, {**APPLICATION, "name": "b"}) is not None
    assert subscriber.calls == 2
    assert await control.update_application(account, "missing", APPLICATION) is None
    assert await control.delete_application(account, stored.id) is True
    assert await control.delete_application(account, stored.id) is False
    assert subscriber.calls == 2


async def test_ssai_config_writes(plane: tuple[ControlPlane, Subscriber, str]) -> None:
    control, subscriber, account = plane
    stored = await control.create_ssai_config(account, {"name": "c"})
    assert subscriber.calls == 0  # no channel names a new configuration
    assert await control.update_ssai_config(account, stored.id, {"name": "d"}) is not None
    assert subscriber.calls == 1
    assert await control.delete_ssai_config(account, stored.id) is True
    assert subscriber.calls == 1


async def test_channel_and_cue_point_writes(plane: tuple[ControlPlane, Subscriber, str]) -> None:
    control, subscriber, account = plane
    application = await control.create_application(account, APPLICATION)
    document = {"name": "news", "origin": "http://origin.example/master.m3u8", "application_id": application.id}
    await control.create_channel(account, "news", document)
    assert subscriber.calls == 2
    with pytest.raises(Conflict):
        await control.delete_application(account, application.id)
    assert await control.update_channel(account, "news", document) is not None
    assert await control.add_cuepoint(account, "news", 0.0, 30.0, {}) is not None
    assert await control.add_cuepoint(account, "other", 0.0, 30.0, {}) is None
    assert subscriber.calls == 4
    assert await control.delete_channel(account, "news") is True
    assert await control.delete_channel(account, "news") is False
    assert subscriber.calls == 5
