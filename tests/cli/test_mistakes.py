"""Every user mistake on the command line: one line on stderr quoting the value and what was expected, exit 2,
no traceback; and nothing else on stderr when the command succeeds (migrations are silent without -v)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.process import run


def refused(folder: Path, *argv: str, **env: str) -> str:
    result = run(folder, *argv, **env)
    assert result.returncode == 2, result
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr


def test_an_account_made_twice_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    made = run(tmp_path, "account", "create", "Acme", "--id", "acme", "--data-dir", "data")
    assert (made.returncode, made.stdout, made.stderr) == (0, "account_id: acme\n", ""), made
    again = refused(tmp_path, "account", "create", "Other", "--id", "acme", "--data-dir", "data")
    assert "'acme' exists already" in again and "expected a new id" in again


def test_migrations_are_logged_only_when_asked_for(tmp_path: Path) -> None:
    verbose = run(tmp_path, "account", "create", "Acme", "-v", "--data-dir", "data")
    assert verbose.returncode == 0 and "alembic.runtime.migration" in verbose.stderr, verbose
    quiet = run(tmp_path, "key", "create", verbose.stdout.split(": ")[1].strip(), "--data-dir", "data")
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout.startswith("X-API-KEY: sk_"), quiet


@pytest.mark.parametrize(
    ("argv", "quoted", "expected"),
    [
        (["account", "create", "A", "--id", "a b/c"], "'a b/c'", "expected text matching"),
        (["account", "create", "A", "--id", "é"], "'é'", "expected text matching"),
        (["account", "create", "A", "--id", "x" * 65], "'xxxx", "at most 64 characters"),
        (["account", "create", "A", "--id", ""], "''", "at least 1 character"),
        (["key", "create", "nobody"], "'nobody'", "does not exist"),
        (["client", "create", "nobody"], "'nobody'", "does not exist"),
        (["demo", "--marker", "bogus"], "'bogus'", "choose from 'cue-out'"),
        (["demo", "--port", "99999"], "'99999'", "expected a TCP port"),
        (["serve", "--port", "http"], "'http'", "expected a TCP port"),
        (["demo", "--target-duration", "0"], "'0'", "1 to 30"),
        (["demo", "--ad-interval", "-5"], "'-5'", "above 0"),
        (["demo", "--ad-duration", "nan"], "'nan'", "above 0"),
        (["serve", "--channels", "missing.toml"], "'missing.toml'", "No such file"),
        (["serve", "--role", "proxy"], "'proxy'", "choose from 'all', 'edge', 'control'"),
        (["serve", "--workers", "0"], "'0'", "1 to 64"),
        (["serve", "--workers", "2"], "2 workers need SSAI_REDIS_URL", "expected a redis:// URL or one worker"),
        (["bogus"], "'bogus'", "choose from"),
    ],
)
def test_a_mistake_is_one_line_quoting_the_value(tmp_path: Path, argv: list[str], quoted: str, expected: str) -> None:
    message = refused(tmp_path, *argv, *(["--data-dir", "data"] if argv[0] != "bogus" else []))
    assert quoted in message and expected in message, message


def test_a_data_dir_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    message = refused(tmp_path, "account", "create", "A", "--data-dir", "file/data")
    assert "'" + str(tmp_path / "file" / "data") + "'" in message and "expected a folder" in message


def test_a_bad_environment_setting_is_one_line(tmp_path: Path) -> None:
    message = refused(tmp_path, "serve", "--data-dir", "data", SSAI_ORIGIN_TIMEOUT="soon")
    assert "SSAI_ORIGIN_TIMEOUT" in message and "'soon'" in message


def test_version_comes_from_the_package_metadata(tmp_path: Path) -> None:
    from importlib import metadata

    result = run(tmp_path, "--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"ssai-proxy {metadata.version('ssai-proxy')}")
