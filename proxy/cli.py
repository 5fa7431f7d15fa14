"""`ssai-proxy serve`, `ssai-proxy demo`, and the credential commands (`account`, `key`, `client` create)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette

from proxy.errors import BadRequest, ConfigError
from proxy.settings import Settings, from_env


def _serve(settings: Settings) -> None:
    from proxy.web.app import create_app

    if not settings.channels:
        raise ConfigError("no channels: set SSAI_CHANNELS_FILE or --channels to a TOML file of [channels.NAME] tables")
    _run(create_app(settings), settings)


def _run(app: Starlette, settings: Settings) -> None:
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        loop="auto",
        http="auto",
        access_log=False,
        # Players poll every target duration (often 6–10 s); uvicorn's 5 s default would close their
        # keep-alive connections between polls and make every request a reconnect.
        timeout_keep_alive=30,
    )


def _demo(settings: Settings, args: argparse.Namespace) -> None:
    from proxy.demo.app import DemoOptions, create_demo_app, self_host
    from proxy.demo.media import prepare_media

    options = DemoOptions(
        settings.port, settings.host, args.target_duration, args.ad_interval, args.ad_duration, args.marker
    )
    print(f"preparing demo media in {settings.data_dir} (ffmpeg, first run only) ...", flush=True)
    media = prepare_media(settings.data_dir, options.target_duration)
    base = f"http://{self_host(settings.host)}:{settings.port}"
    print(f"player page:      {base}/demo/player/", flush=True)
    print(f"session endpoint: POST {base}/v1/ssai/session/demo/main.m3u8", flush=True)
    print(f"origin:           {base}/demo/origin/master.m3u8", flush=True)
    _run(create_demo_app(settings, media, options), settings)


async def _credentials(settings: Settings, args: argparse.Namespace) -> str:
    """`account create`, `key create`, `client create`: what they make, printed once (secrets are not kept)."""
    from proxy import accounts
    from proxy.db import Database

    db = Database.from_settings(settings.database_url, settings.data_dir)
    try:
        await db.migrate()
        if args.command == "account":
            return f"account_id: {await accounts.create_account(db, args.name, args.id)}"
        if not await accounts.account_exists(db, args.account):
            raise ConfigError(f"account {args.account!r} does not exist: make it with `ssai-proxy account create`")
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


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="ssai-proxy", description="Server-side ad insertion proxy for live HLS")
    commands = root.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the proxy for the channels of a TOML file")
    demo = commands.add_parser("demo", help="run a self-contained demo: origin, ad server, player and proxy")
    for command in (serve, demo):
        command.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
        command.add_argument("--port", type=int, help="port to listen on (default 8080)")
    for command in (serve, demo, *_credential_commands(commands)):
        command.add_argument("--data-dir", type=Path, help="where media and state are kept (default ./data)")
    serve.add_argument("--channels", type=Path, help="TOML file of [channels.NAME] tables (SSAI_CHANNELS_FILE)")
    demo.add_argument("--target-duration", type=int, default=6, help="segment length in seconds (default 6)")
    demo.add_argument("--ad-interval", type=float, default=60.0, help="seconds between ad breaks (default 60)")
    demo.add_argument("--ad-duration", type=float, default=30.0, help="seconds of each ad break (default 30)")
    demo.add_argument("--marker", default="cue-out", help="the origin's ad-marker dialect (default cue-out)")
    return root


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    environ = dict(os.environ)
    if getattr(args, "channels", None):
        environ["SSAI_CHANNELS_FILE"] = str(args.channels)
    try:
        settings = from_env(environ)
        names = ("host", "port", "data_dir")
        overrides: dict[str, Any] = {
            name: getattr(args, name) for name in names if getattr(args, name, None) is not None
        }
        settings = replace(settings, **overrides)
        logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if args.command in ("account", "key", "client"):
            print(asyncio.run(_credentials(settings, args)))
        elif args.command == "serve":
            _serve(settings)
        else:
            _demo(settings, args)
    except (ConfigError, BadRequest) as error:
        print(f"ssai-proxy: {error.message}", file=sys.stderr)
        raise SystemExit(2) from None
