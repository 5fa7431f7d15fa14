"""Settings from SSAI_* variables and the channel TOML file: casts, and errors naming the key and the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.errors import ConfigError
from proxy.settings import ChannelConfig, Settings, channel_from_dict, from_env, load_channels

ROOT = Path(__file__).parents[1]
ORIGIN = "https://origin.example.com/live/master.m3u8"


def test_defaults_without_any_variable() -> None:
    assert from_env({}) == Settings()
    assert from_env({"HOME": "/root", "SSAI_UNKNOWN": "x"}) == Settings()  # only known SSAI_* names are read


def test_casts() -> None:
    settings = from_env(
        {
            "SSAI_HOST": "0.0.0.0",
            "SSAI_PORT": "9000",
            "SSAI_DATA_DIR": "/var/lib/ssai",
            "SSAI_ORIGIN_TIMEOUT": "1.5",
            "SSAI_ORIGIN_MAX_BYTES": "1048576",
            "SSAI_SESSION_IDLE_TARGETS": "4",
            "SSAI_EGRESS_ALLOW_PRIVATE": "yes",
            "SSAI_LOG_LEVEL": "debug",
        }
    )
    assert (settings.host, settings.port, settings.data_dir) == ("0.0.0.0", 9000, Path("/var/lib/ssai"))
    assert (settings.origin_timeout, settings.origin_max_bytes, settings.session_idle_targets) == (1.5, 1048576, 4)
    assert settings.egress_allow_private is True and settings.log_level == "debug"
    assert (type(settings.origin_timeout), type(settings.port), type(settings.data_dir)) == (float, int, type(Path()))


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("true", True), ("TRUE", True), ("Yes", True), ("0", False), ("no", False)]
)
def test_booleans(raw: str, expected: bool) -> None:
    assert from_env({"SSAI_EGRESS_ALLOW_PRIVATE": raw}).egress_allow_private is expected


@pytest.mark.parametrize(
    ("key", "raw", "kind"),
    [
        ("SSAI_PORT", "eighty", "int"),
        ("SSAI_PORT", "8080.0", "int"),
        ("SSAI_ORIGIN_TIMEOUT", "2s", "float"),
        ("SSAI_ORIGIN_MAX_BYTES", "", "int"),
        ("SSAI_EGRESS_ALLOW_PRIVATE", "maybe", "bool"),
        ("SSAI_EGRESS_ALLOW_PRIVATE", "", "bool"),
    ],
)
def test_bad_values_name_the_key_and_the_value(key: str, raw: str, kind: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_env({key: raw})
    assert caught.value.message == f"{key} has value {raw!r}: not a valid {kind}"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "channels.toml"
    path.write_text(text)
    return path


def test_channel_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
[channels.news]
origin = "{ORIGIN}"
ad_tag = "https://ads.example.com/vast?dur=[session.avail_duration_secs]&sid={{{{session.session_id}}}}"
slate = ""

[channels.sport]
origin = "http://127.0.0.1:8000/sport/master.m3u8"
content_segment_prefix = "https://cdn.example.com"
""",
    )
    channels = load_channels(path)
    assert channels == {
        "news": ChannelConfig(
            "news",
            ORIGIN,
            ad_tag="https://ads.example.com/vast?dur=[session.avail_duration_secs]&sid={{session.session_id}}",
        ),
        "sport": ChannelConfig(
            "sport", "http://127.0.0.1:8000/sport/master.m3u8", content_segment_prefix="https://cdn.example.com"
        ),
    }
    assert channels["news"].slate is None  # an empty optional URL means none
    settings = from_env({"SSAI_CHANNELS_FILE": str(path), "SSAI_PORT": "81"})
    assert settings.channels == channels and settings.port == 81


@pytest.mark.parametrize("slate", ["/srv/slates/brb.mp4", "file:///srv/slates/brb.mov", "https://cdn.test/brb.mp4"])
def test_a_slate_may_be_a_video_file_to_transcode(tmp_path: Path, slate: str) -> None:
    path = tmp_path / "channels.toml"
    path.write_text(f'[channels.news]\norigin = "{ORIGIN}"\nslate = "{slate}"\n')
    assert load_channels(path)["news"].slate == slate


def test_media_pipeline_settings_from_the_environment(tmp_path: Path) -> None:
    settings = from_env({"SSAI_DATA_DIR": str(tmp_path), "SSAI_TRANSCODE_WORKERS": "2", "SSAI_ASSET_MAX_GB": "1.5"})
    assert settings.assets_path == tmp_path / "assets"
    assert (settings.transcode_workers, settings.asset_max_gb) == (2, 1.5)
    assert from_env({"SSAI_ASSET_DIR": "/srv/assets"}).assets_path == Path("/srv/assets")
    with pytest.raises(ConfigError, match="SSAI_TRANSCODE_WORKERS has value 'two'"):
        from_env({"SSAI_TRANSCODE_WORKERS": "two"})


def test_no_channels_table_means_no_channels(tmp_path: Path) -> None:
    assert load_channels(write(tmp_path, "# nothing yet\n")) == {}


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            f'[channels.news]\norigin = "{ORIGIN}"\norign = "x"\n',
            "channels.news.orign = 'x': unknown key, expected one of ['ad_defaults', 'ad_description', 'ad_headers', ",
        ),
        ('[channels.news]\nad_tag = "https://ads.example.com/v"\n', "channels.news.origin is missing"),
        ('[channels.news]\norigin = "ftp://origin.example.com/m.m3u8"\n', "channels.news.origin has value 'ftp://"),
        ('[channels.news]\norigin = "origin.example.com/m.m3u8"\n', "channels.news.origin has value 'origin.exam"),
        ('[channels.news]\norigin = "https:///m.m3u8"\n', "channels.news.origin has value 'https:///m.m3u8'"),
        ('[channels.news]\norigin = ""\n', "channels.news.origin has value '': expected an http(s) URL"),
        ('[channels.news]\norigin = "http://[::1/m.m3u8"\n', "channels.news.origin has value 'http://[::1/m.m3u8'"),
        ("[channels.news]\norigin = 8080\n", "channels.news.origin has value 8080: expected an http(s) URL"),
        (
            f'[channels.news]\norigin = "{ORIGIN}"\nslate = "/slates/news.m3u8"\n',
            "channels.news.slate has value '/slates/news.m3u8': an HLS slate must be an http(s) URL",
        ),
        (
            f'[channels.news]\norigin = "{ORIGIN}"\nad_tag = ["https://a.example/v"]\n',
            "channels.news.ad_tag has value ['https://a.example/v']",
        ),
        ('[channels]\nnews = "https://origin.example.com/m.m3u8"\n', "channels.news has value 'https://origin"),
        ('channels = "news"\n', "expected a [channels.NAME] table per channel"),
        ("[channels.news\norigin = 1\n", "channel file"),
        (
            f'[channels.news]\norigin = "{ORIGIN}"\nad_response = "json"\n',
            "channels.news.ad_response = 'json': expected",
        ),
        (f'[channels.news]\norigin = "{ORIGIN}"\nad_headers = {{ X = 1 }}\n', "channels.news.ad_headers = {'X': 1}"),
        (f'[channels.news]\norigin = "{ORIGIN}"\nad_transforms = [{{ xpath = "/" }}]\n', "ad_transforms[0]"),
        (f'[channels.news]\norigin = "{ORIGIN}"\nmetadata = {{ a = {{ b = 1 }} }}\n', "channels.news.metadata.a.b = 1"),
        (f'[channels.news]\norigin = "{ORIGIN}"\nad_description = 2\n', "channels.news.ad_description = 2"),
        (f'[channels.news]\norigin = "{ORIGIN}"\nad_headers_for_impressions = "yes"\n', "expected true or false"),
    ],
)
def test_channel_file_errors_name_the_field_and_the_value(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_channels(write(tmp_path, toml))
    assert message in caught.value.message


def test_missing_channel_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="nope.toml"):
        from_env({"SSAI_CHANNELS_FILE": str(missing)})


def test_channel_from_dict_keeps_the_name() -> None:
    assert channel_from_dict("a-b", {"origin": ORIGIN}) == ChannelConfig("a-b", ORIGIN)


def test_example_configuration_loads_and_documents_every_setting() -> None:
    lines = (ROOT / "config" / "proxy.env.example").read_text().splitlines()
    environ = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    documented = {key.removeprefix("SSAI_").lower() for key in environ}
    assert documented == set(Settings.__dataclass_fields__) - {"channels"} | {"channels_file"}
    environ["SSAI_CHANNELS_FILE"] = str(ROOT / environ["SSAI_CHANNELS_FILE"])
    settings = from_env(environ)
    assert settings.port == 8080 and list(settings.channels) == ["news"]
    assert settings.channels["news"].origin.startswith("https://")
