"""Settings: the only module that reads the environment or the channel file.

Every value comes from an `SSAI_*` environment variable (or a `serve` flag that sets it) and is passed
explicitly from here; nothing else reads `os.environ`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from proxy.errors import ConfigError


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    name: str
    origin: str  # the origin's master playlist URL
    ad_tag: str | None = None  # VAST URL template, e.g. ".../vast?dur=[session.avail_duration_secs]&sid=[session.id]"
    slate: str | None = None  # an HLS master of the slate, conditioned like the ads
    content_segment_prefix: str | None = None  # a CDN in front of the origin's segments
    ad_segment_prefix: str | None = None  # a CDN in front of the ad segments


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    channels: Mapping[str, ChannelConfig] = field(default_factory=dict)
    data_dir: Path = Path("data")
    origin_timeout: float = 2.0  # MediaTailor's origin limit: a slower origin gets a 504
    origin_max_bytes: int = 2 * 1024 * 1024  # MediaTailor's origin manifest limit
    ad_timeout: float = 3.0  # per ad server request, MediaTailor's default
    decision_wait: float = 3.0  # how long a break may wait for its decision before slate (capped at TD/2)
    default_break_duration: float = 300.0  # for a break whose marker gives none (MediaTailor's default)
    max_break_duration: float = 600.0  # a break nothing ends is closed after this
    session_idle_targets: int = 10  # a session idle for this many target durations expires (MediaTailor)
    baseline_endpoint: bool = False  # serve /v1/ssai/_baseline/… for the HTTP benchmark
    log_level: str = "info"

    def with_channels(self, channels: Mapping[str, ChannelConfig]) -> Settings:
        return replace(self, channels=dict(channels))


def _cast(environ: Mapping[str, str], key: str, default: Any) -> Any:
    raw = environ.get(key)
    if raw is None:
        return default
    kind = type(default)
    try:
        if kind is bool:
            if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("1", "true", "yes")
        value = kind(raw)
        if kind in (int, float) and not 0 <= value < float("inf"):
            raise ValueError(raw)  # timeouts, sizes and ports are finite and never negative
        return value
    except ValueError:
        raise ConfigError(f"{key} has value {raw!r}: not a valid {kind.__name__}") from None


def from_env(environ: Mapping[str, str]) -> Settings:
    defaults = Settings()
    values = {
        name: _cast(environ, f"SSAI_{name.upper()}", getattr(defaults, name))
        for name in Settings.__dataclass_fields__
        if name != "channels"
    }
    settings = Settings(**values)
    channels_file = environ.get("SSAI_CHANNELS_FILE")
    return settings.with_channels(load_channels(Path(channels_file))) if channels_file else settings


def _url(name: str, key: str, value: Any) -> str:
    if isinstance(value, str):
        try:
            parts = urlsplit(value)
        except ValueError:  # e.g. an unclosed IPv6 bracket: "http://[::1"
            parts = None
        if parts is not None and parts.scheme in ("http", "https") and parts.netloc:
            return value
    raise ConfigError(f"channels.{name}.{key} has value {value!r}: expected an http(s) URL")


def channel_from_dict(name: str, raw: Mapping[str, Any]) -> ChannelConfig:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"channels.{name} has value {raw!r}: expected a table of channel settings")
    known = set(ChannelConfig.__dataclass_fields__) - {"name"}
    unknown = sorted(set(raw) - known)
    if unknown:
        key = unknown[0]
        raise ConfigError(f"channels.{name}.{key} = {raw[key]!r}: unknown key, expected one of {sorted(known)}")
    if "origin" not in raw:
        raise ConfigError(f"channels.{name}.origin is missing: expected the origin master playlist URL")
    # An empty optional URL means "none"; the origin is always checked (an empty one is an error, not None).
    values: dict[str, Any] = {
        key: _url(name, key, value) if value or key == "origin" else None for key, value in raw.items()
    }
    return ChannelConfig(name=name, **values)


def load_channels(path: Path) -> dict[str, ChannelConfig]:
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"channel file {str(path)!r}: {error}") from None
    channels = document.get("channels", {})
    if not isinstance(channels, dict):
        raise ConfigError(f"channel file {str(path)!r}: expected a [channels.NAME] table per channel")
    return {name: channel_from_dict(name, raw) for name, raw in channels.items()}
