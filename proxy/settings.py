"""Settings: the only module that reads the environment or the channel file.

Every value comes from an `SSAI_*` environment variable (or a `serve` flag that sets it) and is passed
explicitly from here; nothing else reads `os.environ`.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from proxy.errors import ConfigError

ROLES = ("all", "edge", "control")
LOG_FORMATS = ("text", "json")
AD_RESPONSE_TYPES = ("auto", "vast", "vmap", "dfp", "smartxml")
# Both APIs' response type names → proxy.settings.AD_RESPONSE_TYPES. "dfp" reads a Google ad rules response
# (proxy.ads.chain: dfp → dfp_ad_rules, a VMAP with one AdBreak per slot); dfp_vmap is plain VMAP 1.0.
_AD_RESPONSES = {
    "dfp": "dfp",
    "vast": "vast",
    "smartxml": "smartxml",
    "dfp_ad_rules": "dfp",
    "dfp_vmap": "vmap",
    "vast_3_0": "vast",
    "smart_xml": "smartxml",
}


def ad_response_of(expected: str) -> str:
    """Brightcove Live API's or Video Cloud SSAI API's response type as a `proxy.settings.AD_RESPONSE_TYPES` value."""
    found = _AD_RESPONSES.get(expected.lower())
    if found is None:
        raise ValueError(f"ad response type {expected!r}: expected one of {', '.join(map(repr, _AD_RESPONSES))}")
    return found


@dataclass(frozen=True, slots=True)
class Transform:
    """One Brightcove Live API `ad_configuration_transforms` entry: an XSLT applied when the XPath matches."""

    xpath: str
    xslt: str


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    name: str
    origin: str  # the origin's master playlist URL
    ad_tag: str | None = None  # ad tag URL template (Brightcove Live `ad_configuration_url_format`, …)
    # The slate: an HLS master conditioned like the ads (…m3u8), or a video file (http(s) URL, file:// URL or
    # absolute path) the media pipeline transcodes to the channel's ladder.
    slate: str | None = None
    # The channel file's slate is the operator's (fetched as configured); an account's, from the API, passes the
    # egress policy like an ad server's URL. Never read from the file.
    slate_trusted: bool = True
    content_segment_prefix: str | None = None  # a CDN in front of the origin's segments
    ad_segment_prefix: str | None = None  # a CDN in front of the ad segments
    ad_headers: Mapping[str, str] = field(default_factory=dict)  # `ad_configuration_headers`, templated
    ad_headers_for_impressions: bool = False  # `ad_configuration_headers_for_impressions`
    ad_defaults: Mapping[str, str] = field(default_factory=dict)  # Video Cloud SSAI API `template_url.defaults`
    ad_response: str = "auto"  # `ad_configuration_expected_response_type` / `expected_ad_response`
    ad_transforms: tuple[Transform, ...] = ()
    # Server-side beacons: the proxy fires impressions and quartiles on ad segment requests (Video Cloud SSAI API
    # `disable_server_beacons` turns it off: players report from the tracking API), at most once per
    # (session, ad, event) within the beacon guard TTL, the session's whole life with `extend_beacon_guard_ttl`.
    server_beacons: bool = True
    extend_beacon_guard_ttl: bool = False
    beacon_templates: tuple[tuple[str, str], ...] = ()  # Video Cloud SSAI API (type, URL template): third-party beacons
    # Ad tag variables: Brightcove Live API `application_ad_configuration.description` (the ad configuration's
    # description) and Video Cloud SSAI API `metadata.*` (the channel's metadata, nested objects as dotted paths).
    ad_description: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    # Which stored version this is: a changed channel or ad configuration is a new version, used by
    # sessions created after the change; a session keeps the version it started with.
    version: str = ""
    account_id: str = ""  # the account that owns it in the store (the channel file's: SSAI_BOOTSTRAP_ACCOUNT)

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.version)

    @property
    def content_redirect(self) -> bool:
        """Content segments go through the proxy only when a beacon template needs their requests."""
        kinds = (kind for kind, _ in self.beacon_templates)
        return self.server_beacons and any(kind.startswith(("content_", "segment_")) for kind in kinds)


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    channels: Mapping[str, ChannelConfig] = field(default_factory=dict)
    # Where `channels` were read from (a TOML file of [channels.NAME] tables), if anywhere, as given: relative to the
    # working directory, which `serve --workers` workers share with their parent.
    channels_file: str = ""
    data_dir: Path = Path("data")
    origin_timeout: float = 2.0  # MediaTailor's origin limit: a slower origin gets a 504
    origin_max_bytes: int = 2 * 1024 * 1024  # MediaTailor's origin manifest limit
    ad_timeout: float = 3.0  # per ad server request, MediaTailor's default
    decision_wait: float = 3.0  # how long a break may wait for its decision before slate (capped at TD/2)
    default_break_duration: float = 300.0  # for a break whose marker gives none (MediaTailor's default)
    max_break_duration: float = 600.0  # a break nothing ends is closed after this
    session_idle_targets: int = 10  # a session idle for this many target durations expires (MediaTailor)
    ad_budget: float = 10.0  # a whole decision, wrappers included (MediaTailor's personalisation budget)
    ad_concurrency: int = 256  # requests in flight towards one ad server host
    ad_spread: float = 0.5  # personalised requests of one break start spread over this many seconds
    egress_allow_private: bool = False  # let any fetch (origins, ad servers, …) reach private addresses (10/8, …)
    egress_allow_loopback: bool = False  # … and loopback (the demo's and the tests' servers are on 127.0.0.1)
    transform_workers: int = 1  # processes running ad_configuration_transforms (XSLT)
    transform_timeout: float = 1.0  # one transform's wall-clock limit: its worker is killed, the break skipped
    # The media pipeline: MP4 creatives and slates transcoded to each channel's ladder.
    asset_dir: str = ""  # transcoded renditions; empty: {data_dir}/assets
    # The proxy's own (proxy.playback.urls.ASSETS: settings sit above no tier, so the literal is repeated here and a
    # test keeps the two equal), or a CDN/object storage URL mirroring asset_dir.
    asset_base_url: str = "/v1/ssai/assets"
    asset_max_age_days: float = 30.0  # assets unused this long are removed
    asset_max_gb: float = 20.0  # beyond this the least recently used assets are removed
    transcode_workers: int = 1  # ffmpeg jobs at once; one keeps a core for the hot path on a 2-core machine
    transcode_preset: str = "veryfast"  # x264 preset
    transcode_timeout: float = 600.0  # one job's ffmpeg run
    transcode_retry_after: float = 300.0  # a failed creative is not tried again sooner
    transcode_nice: int = 10  # ffmpeg's CPU priority below the proxy's
    ffmpeg: str = ""  # a system ffmpeg; empty: the binary shipped by imageio-ffmpeg
    creative_max_mb: float = 500.0  # a MediaFile larger than this is refused
    creative_download_timeout: float = 120.0
    # The control plane: SQLite in the data directory, or a postgresql:// URL.
    database_url: str = ""
    # Beacons: a bounded queue and workers; each call times out after 3 s and network errors and
    # 5xx answers are tried again `beacon_retries` times with backoff.
    beacon_guard_ttl: float = 60.0  # an event of one ad of one session fires at most once within this
    beacon_retries: int = 2
    beacon_queue: int = 10_000
    beacon_workers: int = 8
    session_events: int = 100  # beacons a session's event log keeps for its player (oldest dropped, counted)
    # Session state: in this process's memory (empty, the embedded default), or in Redis (redis://host:port/db) so
    # that every process sharing it serves every session; keys start with the prefix (clusters may share a Redis).
    redis_url: str = ""
    redis_prefix: str = "ssai"
    # SIGTERM: the server stops accepting, finishes its requests within this many seconds, then sends the beacons
    # it has queued within as many more (with Redis, those it could not send stay journaled for another process).
    drain_seconds: float = 10.0
    # What a process serves (proxy.web.app.ROLE_ROUTES): "edge" the players' routes (sessions, playlists, segments,
    # tracking, clicks, assets), "control" the control APIs (and the slate jobs they start), "all" both.
    role: str = "all"
    workers: int = 1  # processes sharing the port (`serve --workers`); more than one needs redis_url
    config_refresh: float = 2.0  # seconds between looks at the store: a change reaches every process within it
    bootstrap_account: str = "default"  # the account that owns the channel file's channels in the store
    # CORS (Fetch standard): origins whose pages may call the player routes ("*": any; empty: no CORS headers at all),
    # and those that may call the control API (none by default: keys and tokens stay with servers).
    cors_origins: str = "*"
    control_cors_origins: str = ""
    # /metrics names every account's channels: the operator's (proxy/web/metrics.py). Behind this bearer token,
    # on a listener of its own (host:port), or open to anyone (the demo); with none of them, refused (403).
    metrics_token: str = ""
    metrics_listen: str = ""
    metrics_open: bool = False
    log_level: str = "info"
    log_format: str = "text"  # or "json": one JSON object per line (time, level, logger, message, and the fields)

    def __post_init__(self) -> None:
        # Paths are made absolute once, here: a relative one would mean something else to code that runs after a
        # chdir, and file URLs (RFC 8089 §2) exist for absolute paths only.
        object.__setattr__(self, "data_dir", Path(self.data_dir).absolute())
        if self.asset_dir:
            object.__setattr__(self, "asset_dir", str(Path(self.asset_dir).absolute()))

        if self.role not in ROLES:
            raise ConfigError(f"SSAI_ROLE has value {self.role!r}: expected one of {', '.join(ROLES)}")
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(
                f"SSAI_LOG_FORMAT has value {self.log_format!r}: expected one of {', '.join(LOG_FORMATS)}"
            )
        if self.workers < 1:
            raise ConfigError(f"SSAI_WORKERS has value {self.workers!r}: expected 1 or more processes")
        if self.workers > 1 and not self.redis_url:
            raise ConfigError(
                f"{self.workers} workers need SSAI_REDIS_URL: each process would hold its own sessions, and a player "
                "whose request reaches another would get 404; expected a redis:// URL or one worker"
            )

        if self.workers > 1 and self.metrics_listen:
            raise ConfigError(
                f"SSAI_METRICS_LISTEN ({self.metrics_listen!r}) with {self.workers} workers: every worker would bind "
                "it; expected SSAI_METRICS_TOKEN on the shared port instead"
            )

    def with_channels(self, channels: Mapping[str, ChannelConfig]) -> Settings:
        return replace(self, channels=dict(channels))

    @property
    def assets_path(self) -> Path:
        return Path(self.asset_dir) if self.asset_dir else self.data_dir / "assets"


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
    file = settings.channels_file
    return settings.with_channels(load_channels(Path(file))) if file else settings


def origins_of(key: str, value: str) -> tuple[str, ...]:
    """A comma-separated origin list as browsers serialise an Origin (RFC 6454 §6.1: lower case, no default port)."""
    items = tuple(item.strip() for item in value.split(",") if item.strip())
    if items == ("*",):
        return items
    return tuple(_origin(key, value, item) for item in items)


def _origin(key: str, value: str, item: str) -> str:
    if item == "*":
        raise ConfigError(f"{key} has value {value!r}: * allows every origin, it cannot be listed with others")
    try:
        parts = urlsplit(item.lower())
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.username is not None:
        raise ConfigError(f"{key} has value {value!r}: {item!r} is not an origin (expected * or scheme://host[:port])")
    if parts.path or parts.query or parts.fragment or parts.netloc.endswith(":"):
        raise ConfigError(f"{key} has value {value!r}: {item!r} is not an origin: scheme://host[:port] only")
    host = parts.netloc.rsplit(":", 1)[0] if port is not None else parts.netloc
    shown_port = "" if port in (None, {"http": 80, "https": 443}[parts.scheme]) else f":{port}"
    return f"{parts.scheme}://{host}{shown_port}"


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
    known = set(ChannelConfig.__dataclass_fields__) - {"name", "version", "slate_trusted", "account_id"}
    unknown = sorted(set(raw) - known)
    if unknown:
        key = unknown[0]
        raise ConfigError(f"channels.{name}.{key} = {raw[key]!r}: unknown key, expected one of {sorted(known)}")
    if "origin" not in raw:
        raise ConfigError(f"channels.{name}.origin is missing: expected the origin master playlist URL")
    values = {key: _channel_value(name, key, value) for key, value in raw.items()}
    return ChannelConfig(name=name, **values)


def _strings(name: str, key: str, value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(f"channels.{name}.{key} = {value!r}: expected a table of strings")
    return dict(value)


def _transforms(name: str, value: Any) -> tuple[Transform, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"channels.{name}.ad_transforms = {value!r}: expected a list of {{xpath, xslt}} tables")
    found = []
    for index, item in enumerate(value):
        if not isinstance(item, Mapping) or not isinstance(item.get("xslt"), str):
            raise ConfigError(f"channels.{name}.ad_transforms[{index}] = {item!r}: expected {{xpath, xslt}} strings")
        found.append(Transform(str(item.get("xpath", "/")), item["xslt"]))
    return tuple(found)


def _beacon_templates(name: str, value: Any) -> tuple[tuple[str, str], ...]:
    found = []
    for index, item in enumerate(value if isinstance(value, list) else [None]):
        if (
            not isinstance(item, Mapping)
            or not isinstance(item.get("type"), str)
            or not isinstance(item.get("template"), str)
        ):
            raise ConfigError(f"channels.{name}.beacon_templates[{index}] = {item!r}: expected {{type, template}}")
        found.append((item["type"], item["template"]))
    return tuple(found)


def flat_metadata(value: Any, path: str = "metadata") -> dict[str, str]:
    """A channel's metadata as `metadata.*` names it: strings, nested objects flattened to dotted paths
    ({"custom_fields": {"genre": "x"}} → {"custom_fields.genre": "x"}); raises ValueError naming the path."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{path} = {value!r}: expected an object of strings (or nested objects)")
    flat: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, str):
            flat[key] = item
        elif isinstance(item, Mapping):
            flat.update({f"{key}.{inner}": text for inner, text in flat_metadata(item, f"{path}.{key}").items()})
        else:
            raise ValueError(f"{path}.{key} = {item!r}: expected a string or an object")
    return flat


def _channel_value(name: str, key: str, value: Any) -> Any:
    if key in ("ad_headers", "ad_defaults"):
        return _strings(name, key, value)
    if key == "metadata":
        try:
            return flat_metadata(value, f"channels.{name}.metadata")
        except ValueError as error:
            raise ConfigError(str(error)) from None
    if key == "ad_description":
        if not isinstance(value, str):
            raise ConfigError(f"channels.{name}.ad_description = {value!r}: expected a string")
        return value
    if key == "ad_transforms":
        return _transforms(name, value)
    if key == "beacon_templates":
        return _beacon_templates(name, value)
    if key in ("ad_headers_for_impressions", "server_beacons", "extend_beacon_guard_ttl"):
        if not isinstance(value, bool):
            raise ConfigError(f"channels.{name}.{key} = {value!r}: expected true or false")
        return value
    if key == "ad_response":
        if value not in AD_RESPONSE_TYPES:
            raise ConfigError(f"channels.{name}.{key} = {value!r}: expected one of {list(AD_RESPONSE_TYPES)}")
        return value
    if key == "slate" and isinstance(value, str) and value.startswith(("/", "file:///")):
        if value.lower().endswith((".m3u8", ".m3u")):  # players fetch an HLS slate themselves: it needs a URL
            raise ConfigError(f"channels.{name}.slate has value {value!r}: an HLS slate must be an http(s) URL")
        return value  # a video file to transcode: only the operator's channel file can name a local one
    # An empty optional URL means "none"; the origin is always checked (an empty one is an error, not None).
    return _url(name, key, value) if value or key == "origin" else None


def load_channels(path: Path) -> dict[str, ChannelConfig]:
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"channel file {str(path)!r}: {error}") from None
    channels = document.get("channels", {})
    if not isinstance(channels, dict):
        raise ConfigError(f"channel file {str(path)!r}: expected a [channels.NAME] table per channel")
    return {name: channel_from_dict(name, raw) for name, raw in channels.items()}


def to_env(settings: Settings) -> dict[str, str]:
    """The command line's share of `settings` as the environment `from_env` reads: what a `serve --workers` worker,
    started afresh, needs to build the same settings (the rest is in the environment already)."""
    env = {
        "SSAI_HOST": settings.host,
        "SSAI_PORT": str(settings.port),
        "SSAI_DATA_DIR": str(settings.data_dir),
        "SSAI_ROLE": settings.role,
        "SSAI_WORKERS": str(settings.workers),
        "SSAI_LOG_FORMAT": settings.log_format,
    }
    if settings.workers > 1:  # prometheus_client's multiprocess mode: /metrics sums the workers (proxy.web.telemetry)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir(settings))
    return env | ({"SSAI_CHANNELS_FILE": str(settings.channels_file)} if settings.channels_file else {})


def metrics_dir(settings: Settings) -> Path:
    """Where `serve --workers` workers keep their Prometheus values (emptied at each start: counts start at 0)."""
    return settings.data_dir / "prometheus"


def from_process_env() -> Settings:
    """The settings of this process's environment (a worker's: see `to_env`)."""
    return from_env(os.environ)


class JsonLines(logging.Formatter):
    """A record as one JSON line: time (UTC, ISO 8601), level, logger, message, and the record's `fields` (an avail's:
    proxy.playback.avail_log), for log pipelines that index fields rather than parse text."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def configure_logging(level: str, *, verbose: bool = False, log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonLines() if log_format == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logging.basicConfig(level=level.upper(), handlers=[handler])
    # Alembic reports every migration step at INFO, on every start: quiet unless asked for.
    logging.getLogger("alembic").setLevel(logging.INFO if verbose else logging.WARNING)
