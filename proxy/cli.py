"""`ssai-proxy serve`, `ssai-proxy demo`, and the credential commands (`account`, `key`, `client` create)."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

import uvicorn
from starlette.applications import Starlette

from proxy.control.datadir import hold_data_dir
from proxy.errors import NotFound, ProxyError
from proxy.settings import ROLES, Settings, configure_logging, from_env, metrics_dir, to_env


def _serve(settings: Settings) -> None:
    from proxy.web.app import create_app

    with hold_data_dir(settings.data_dir):  # the parent holds it for its workers
        if settings.workers == 1:
            _run(create_app(settings), settings)
        else:
            # uvicorn starts each worker afresh: it imports the app factory by name and reads the settings from
            # the environment, so what the command line set is put there first.
            shutil.rmtree(metrics_dir(settings), ignore_errors=True)  # an earlier run's counts
            metrics_dir(settings).mkdir(parents=True)
            os.environ.update(to_env(settings))
            _run("proxy.web.app:app_from_env", settings, factory=True, workers=settings.workers)


def _run(app: Starlette | str, settings: Settings, **workers: Any) -> None:
    uvicorn.run(
        app,
        **workers,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        loop="auto",
        http="auto",
        access_log=False,
        # Players poll every target duration (often 6–10 s); uvicorn's 5 s default would close their
        # keep-alive connections between polls and make every request a reconnect.
        timeout_keep_alive=30,
        timeout_graceful_shutdown=math.ceil(settings.drain_seconds),  # SIGTERM: requests in progress finish in it
    )


def _demo(settings: Settings, args: argparse.Namespace) -> None:
    from proxy.demo.app import DemoOptions, create_demo_app, self_host
    from proxy.demo.media import prepare_media

    options = DemoOptions(
        settings.port, settings.host, args.target_duration, args.ad_interval, args.ad_duration, args.marker
    )
    with hold_data_dir(settings.data_dir):
        print(f"preparing demo media in {settings.data_dir} (ffmpeg, first run only) ...", flush=True)
        media = prepare_media(settings.data_dir, options.target_duration)
        base = f"http://{self_host(settings.host)}:{settings.port}"
        print(f"player page:      {base}/demo/player/", flush=True)
        print(f"session endpoint: POST {base}/v1/ssai/session/demo/main.m3u8", flush=True)
        print(f"origin:           {base}/demo/origin/master.m3u8", flush=True)
        _run(create_demo_app(settings, media, options), settings)


async def _credentials(settings: Settings, args: argparse.Namespace) -> str:
    """`account create`, `key create`, `client create`: what they make, printed once (secrets are not kept)."""
    from proxy.control import accounts
    from proxy.control.db import Database
    from proxy.web import schemas

    db = Database.from_settings(settings.database_url, settings.data_dir)
    try:
        await db.migrate()
        if args.command == "account":
            account_id = schemas.account_id(args.id) if args.id is not None else None
            return f"account_id: {await accounts.create_account(db, args.name, account_id)}"
        if not await accounts.account_exists(db, args.account):
            raise NotFound(f"account {args.account!r} does not exist: make it with `ssai-proxy account create`")
        if args.command == "key":
            return f"X-API-KEY: {await accounts.create_api_key(db, args.account)}\n(shown once: it is stored hashed)"
        client_id, secret = await accounts.create_client(db, args.account, tuple(args.operations))
        return f"client_id: {client_id}\nclient_secret: {secret}\n(the secret is shown once: it is stored hashed)"
    finally:
        await db.close()


def _credential_commands(commands: Any) -> list[argparse.ArgumentParser]:
    account = commands.add_parser("account", help="create an account").add_subparsers(dest="action", required=True)
    make_account = account.add_parser("create", help="create an account; prints its id")
    make_account.add_argument("name")
    make_account.add_argument("--id", help="the account id (default: a random one)")
    key = commands.add_parser("key", help="API keys (X-API-KEY)").add_subparsers(dest="action", required=True)
    make_key = key.add_parser("create", help="create an API key for ACCOUNT; prints it once")
    make_key.add_argument("account")
    client = commands.add_parser("client", help="OAuth clients").add_subparsers(dest="action", required=True)
    make_client = client.add_parser("create", help="create an OAuth client for ACCOUNT; prints it once")
    make_client.add_argument("account")
    make_client.add_argument(
        "--operations", nargs="+", default=["video-cloud/video/all"], help="video-cloud/video/read or /all"
    )
    return [make_account, make_key, make_client]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, not argparse's usage block: the mistake, quoted, and where to look."""
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _bounded(kind: type[int] | type[float], low: float, high: float, what: str) -> Any:
    def check(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r}: expected {what}")
        return value

    return check


def _server_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    port = _bounded(int, 1, 65535, "a TCP port, 1 to 65535")
    command.add_argument("--port", type=port, help="port to listen on (default 8080)")


def _demo_options(demo: argparse.ArgumentParser) -> None:
    from proxy.demo.origin import MARKER_DIALECTS

    seconds = _bounded(float, 0.001, 86400, "a number of seconds above 0, at most 86400")
    segment = _bounded(int, 1, 30, "a whole number of seconds, 1 to 30")
    demo.add_argument("--target-duration", type=segment, default=6, help="segment length in seconds (default 6)")
    demo.add_argument("--ad-interval", type=seconds, default=60.0, help="seconds between ad breaks (default 60)")
    demo.add_argument("--ad-duration", type=seconds, default=30.0, help="seconds of each ad break (default 30)")
    dialects = ", ".join(MARKER_DIALECTS)
    demo.add_argument(
        "--marker", default="cue-out", choices=MARKER_DIALECTS, metavar="DIALECT", help=f"one of {dialects}"
    )


def _version() -> str:
    try:
        return metadata.version("ssai-proxy")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def parser() -> argparse.ArgumentParser:
    root: argparse.ArgumentParser = _Parser(
        prog="ssai-proxy", description="Server-side ad insertion proxy for live HLS"
    )
    root.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = root.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the proxy (channels from the control API and/or a TOML file)")
    demo = commands.add_parser("demo", help="run a self-contained demo: origin, ad server, player and proxy")
    for command in (serve, demo):
        _server_options(command)
    credentials = _credential_commands(commands)
    for command in (root, serve, demo, *credentials):
        # SUPPRESS: a subcommand's default would overwrite the `-v` given before it.
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log more")
    for command in (serve, demo, *credentials):
        command.add_argument("--data-dir", type=Path, help="where media and state are kept (default ./data)")
    serve.add_argument("--channels", type=Path, help="TOML file of [channels.NAME] tables (SSAI_CHANNELS_FILE)")
    serve.add_argument("--role", choices=ROLES, help="edge (players), control (the APIs) or all (default; SSAI_ROLE)")
    workers = _bounded(int, 1, 64, "a number of processes, 1 to 64")
    serve.add_argument("--workers", type=workers, help="processes sharing the port (default 1; SSAI_WORKERS)")
    _demo_options(demo)
    return root


def _settings(args: argparse.Namespace) -> Settings:
    environ = dict(os.environ)
    if getattr(args, "channels", None):
        environ["SSAI_CHANNELS_FILE"] = str(args.channels)
    names = ("host", "port", "data_dir", "role", "workers")
    overrides: dict[str, Any] = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    return replace(from_env(environ), **overrides)


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        settings = _settings(args)
        configure_logging(settings.log_level, verbose=getattr(args, "verbose", False), log_format=settings.log_format)
        if args.command in ("account", "key", "client"):
            print(asyncio.run(_credentials(settings, args)))
        elif args.command == "serve":
            _serve(settings)
        else:
            _demo(settings, args)
    except ProxyError as error:  # every mistake a user can make is one of these, its message says what and why
        print(f"ssai-proxy: {error.message}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
