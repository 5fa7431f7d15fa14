"""What a shared session store keeps, as bytes: a session's record, a frozen decision, a creative.

Small values on purpose (a session's record and parameters are a few hundred bytes): a decision names its
creatives by key, and each creative is written once for the whole cluster, so a million sessions with the same
pod share one copy of its segment URIs. JSON through orjson: readable with redis-cli, and fast.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from proxy.ads.models import Ad, MediaFile, Skip
from proxy.hls.fill import Creative, FillPlan
from proxy.playback.sessions import Client, Session
from proxy.playback.store.base import FrozenDecision

# -- the session record --------------------------------------------------------------------------------


def encode_record(session: Session) -> bytes:
    client = session.client
    return orjson.dumps(
        {
            "c": session.channel,
            "v": session.version,
            "j": session.join_msn,
            "t": session.join_time,
            "b": session.server_beacons,
            "cl": [client.ip, client.user_agent, client.referer, client.forwarded_for] if client else None,
        }
    )


def decode_record(session_id: str, record: bytes | str, params: bytes | str | None, expires_at: float) -> Session:
    fields = orjson.loads(record)
    session = Session(fields["c"], fields["j"], fields["t"], decode_params(params), expires_at)
    session.id = session_id
    session.version = fields["v"]
    session.server_beacons = fields["b"]
    if fields["cl"] is not None:
        session.client = Client(*fields["cl"])
    return session


def encode_params(params: Mapping[str, str] | None) -> bytes:
    return orjson.dumps(params or {})


def decode_params(raw: bytes | str | None) -> dict[str, str]:
    params: dict[str, str] = orjson.loads(raw) if raw else {}
    return params


# -- frozen decisions ----------------------------------------------------------------------------------


def encode_decision(frozen: FrozenDecision, start_msn: int, skipped: tuple[Skip, ...] = ()) -> bytes:
    """`skipped`: the ads a decision that is not frozen yet left out, for the processes that take it over."""
    plan = frozen.plan
    return orjson.dumps(
        {
            "m": start_msn,
            "x": [{name: getattr(skip, name) for name in Skip.__dataclass_fields__} for skip in skipped],
            "k": plan.key if plan else None,
            "c": [creative.key for creative in plan.ads] if plan else [],
            "s": plan.slate.key if plan and plan.slate else None,
            "r": plan.redirect if plan else False,
            "a": ads_id(frozen.ads),
            "t": frozen.break_tracking,
        }
    )


def decoded_skips(raw: bytes | str) -> tuple[Skip, ...]:
    skips = orjson.loads(raw)["x"]
    return tuple(Skip(**{**skip, "error_urls": tuple(skip["error_urls"])}) for skip in skips)


def decision_start(raw: bytes | str) -> int:
    """The start of the break a frozen decision is for."""
    start: int = orjson.loads(raw)["m"]
    return start


def encode_shift(session: Session) -> bytes:
    return orjson.dumps([*session.shift, session.folded_through, session.folded_count])


def decode_shift(session: Session, raw: bytes | str) -> None:
    msn, dsn, seconds, folded_through, *count = orjson.loads(raw)  # no count: written before it was kept
    session.shift, session.folded_through = (msn, dsn, seconds), folded_through
    session.folded_count = count[0] if count else 0
    session.last_start = max(session.last_start, folded_through)


def creative_keys(raw: bytes | str) -> list[str]:
    """The keys of the creatives (ads and slate) a frozen decision needs to be laid over a break."""
    fields = orjson.loads(raw)
    return [*fields["c"], *([fields["s"]] if fields["s"] else [])]


def ads_ref(raw: bytes | str) -> str:
    """The id of the ad list a frozen decision names ("" for none)."""
    ref: str = orjson.loads(raw)["a"]
    return ref


def decode_decision(
    raw: bytes | str, creatives: Mapping[str, Creative], ad_lists: Mapping[str, tuple[Ad, ...]]
) -> FrozenDecision:
    """The decision; a KeyError when a creative or the ad list it names is not given."""
    fields = orjson.loads(raw)
    plan = None
    if fields["k"] is not None:
        slate = creatives[fields["s"]] if fields["s"] else None
        ads = tuple(creatives[key] for key in fields["c"])
        plan = FillPlan(fields["k"], ads, slate, fields["r"])
    ads_in = ad_lists[fields["a"]] if fields["a"] else ()
    return FrozenDecision(plan, ads_in, tuple((name, url) for name, url in fields["t"]))


# -- ad lists: stored once by their content, shared by every session a shared decision gave them to ----------


def encode_ads(ads: tuple[Ad, ...]) -> bytes:
    return orjson.dumps([_ad_fields(ad) for ad in ads])


def decode_ads(raw: bytes | str) -> tuple[Ad, ...]:
    return tuple(_ad(fields) for fields in orjson.loads(raw))


def ads_id(ads: tuple[Ad, ...]) -> str:
    return hashlib.blake2b(encode_ads(ads), digest_size=16).hexdigest() if ads else ""


def creatives_of(frozen: FrozenDecision) -> list[Creative]:
    plan = frozen.plan
    if plan is None:
        return []
    return [*plan.ads, *([plan.slate] if plan.slate else [])]


def _ad_fields(ad: Ad) -> dict[str, Any]:
    fields = {name: getattr(ad, name) for name in Ad.__dataclass_fields__}
    fields["media_files"] = [_media_fields(media) for media in ad.media_files]
    fields["mezzanine"] = [_media_fields(media) for media in ad.mezzanine]
    return fields


def _media_fields(media: MediaFile) -> dict[str, Any]:
    return {name: getattr(media, name) for name in MediaFile.__dataclass_fields__}


def _ad(fields: dict[str, Any]) -> Ad:
    fields["media_files"] = tuple(MediaFile(**media) for media in fields["media_files"])
    fields["mezzanine"] = tuple(MediaFile(**media) for media in fields["mezzanine"])
    fields["tracking"] = tuple((event, url) for event, url in fields["tracking"])
    for name in ("impressions", "click_through", "click_tracking", "errors", "wrapper_chain"):
        fields[name] = tuple(fields[name])
    return Ad(**fields)


# -- creatives -----------------------------------------------------------------------------------------


def creative_id(key: str) -> str:
    """A creative's Redis key part: its key may be a long URL."""
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def encode_creative(creative: Creative) -> bytes:
    return orjson.dumps(_creative_fields(creative))


def decode_creative(raw: bytes | str) -> Creative:
    return _creative(orjson.loads(raw))


def _creative_fields(creative: Creative) -> dict[str, Any]:
    return {
        "key": creative.key,
        "durations": creative.durations,
        "uris": dict(creative.uris),
        "extinfs": dict(creative.extinfs),
        "map_lines": dict(creative.map_lines),
        "pieces": [_creative_fields(piece) for piece in creative.pieces],
    }


def _creative(fields: dict[str, Any]) -> Creative:
    return Creative(
        fields["key"],
        tuple(fields["durations"]),
        {track: tuple(uris) for track, uris in fields["uris"].items()},
        {track: tuple(extinfs) for track, extinfs in fields["extinfs"].items()},
        dict(fields["map_lines"]),
        tuple(_creative(piece) for piece in fields["pieces"]),
    )
