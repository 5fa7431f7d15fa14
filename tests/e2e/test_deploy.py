"""deploy/: the compose file and nginx configuration an operator starts a cluster with. Each ssai-proxy service's
command is one our CLI takes and its environment settings we accept, with the role its name says; the edges and the
control process keep data folders of their own and share the asset folder; nginx sends exactly the control routes to
the control process and the rest to both edges, and real nginx accepts the file (`nginx -t`). `docker compose config`
checks the compose file where Docker Compose is installed (skipped with a message elsewhere)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxy.cli import parser
from proxy.settings import from_env
from proxy.web.app import CONTROL_ROUTES, PLAYBACK_ROUTES
from proxy.web.openapi import served

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROXIES = {"control": "control", "edge1": "edge", "edge2": "edge"}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_services_run_the_roles_their_names_say(tmp_path: Path) -> None:
    services = compose()["services"]
    assert set(services) == {"redis", "postgres", "nginx", *PROXIES}
    for name, role in PROXIES.items():
        service = services[name]
        args = parser().parse_args(service["command"][1:])
        assert service["command"][0] == "ssai-proxy" and (args.command, args.role) == ("serve", role)
        environment = {key: str(value) for key, value in service["environment"].items()}
        settings = from_env(environment | {"SSAI_DATA_DIR": str(tmp_path)})
        assert settings.redis_url.startswith("redis://redis:") and "@postgres:" in settings.database_url
        assert settings.asset_dir == "/assets" and "assets:/assets" in service["volumes"]
    data = [next(v for v in services[name]["volumes"] if v.endswith(":/data")) for name in PROXIES]
    assert len(set(data)) == len(PROXIES), f"a data folder is held by one process: {data}"


def _locations(conf: str) -> dict[str, str]:
    """Each location's prefix and its upstream (or the status it returns)."""
    found = re.findall(r"location (\S+) \{ (?:proxy_pass http://(\w+)|return (\d+));", conf)
    return {prefix: upstream or status for prefix, upstream, status in found}


def test_nginx_sends_the_control_routes_to_control_and_the_rest_to_the_edges() -> None:
    conf = (DEPLOY / "nginx.conf").read_text()
    upstream = re.search(r"upstream edges \{(.*?)\}", conf, re.S)
    assert upstream is not None
    assert re.findall(r"server (\w+):8080", upstream[1]) == ["edge1", "edge2"]
    locations = _locations(conf)
    to_control = [prefix for prefix, target in locations.items() if target == "control"]
    assert locations["/"] == "edges"
    for method, path in served(CONTROL_ROUTES):
        assert any(path.startswith(prefix) for prefix in to_control), (method, path)
    for method, path in served(PLAYBACK_ROUTES):
        assert not any(path.startswith(prefix) for prefix in to_control), (method, path)


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx): this test checks deploy/nginx.conf with it")
    conf = re.sub(r"\b(edge1|edge2|control):8080", "127.0.0.1:8080", (DEPLOY / "nginx.conf").read_text())
    (tmp_path / "nginx.conf").write_text(conf.replace("listen 80;", "listen 127.0.0.1:1;"))
    globals_ = f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;"
    checked = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", globals_],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr


def _compose_command() -> list[str] | None:
    """`docker compose` (the plugin) or `docker-compose` (the standalone program), whichever is installed."""
    docker = shutil.which("docker")
    if docker is not None and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone is not None else None


def test_docker_compose_accepts_the_file() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("Docker Compose is not installed: `docker compose config` checks deploy/compose.yaml where it is")
    checked = subprocess.run(
        [*command, "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"], capture_output=True, text=True, timeout=120
    )
    assert checked.returncode == 0, checked.stderr
