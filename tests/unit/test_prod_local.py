"""deploy/prod_local.py's pure parts: the nginx configuration rendered from docker-compose's
own deploy/nginx/aspsp.conf, and the settings every process of the local topology gets.
(tests/prod/ runs the topology itself, and nginx -t on the rendered configuration.)"""
from __future__ import annotations

from pathlib import Path

import pytest

from deploy.prod_local import (NGINX_SITE, Settings, Topology, TopologyError, nginx_main_config,
                               render_nginx_site)

ROOT = Path(__file__).resolve().parents[2]


def render(source: str | None = None, *, http2_directive: bool = False) -> str:
    return render_nginx_site(
        NGINX_SITE.read_text() if source is None else source, listen_host="127.0.0.1",
        https_port=18443, http_port=18080, health_port=18081, upstream="127.0.0.2:18000",
        proxy_address="127.0.0.3", certs_dir=Path("/run/x/certs"),
        client_ca=Path("/run/x/nginx/client-ca.pem"), http2_directive=http2_directive)


def directives(text: str) -> list[str]:
    return [line.split("#", 1)[0].strip() for line in text.splitlines()
            if line.split("#", 1)[0].strip()]


def test_the_local_site_is_docker_composes_with_addresses_and_paths_replaced():
    source, rendered = NGINX_SITE.read_text(), directives(render())
    assert "server 127.0.0.2:18000;" in rendered
    assert "listen 127.0.0.1:18443 ssl http2;" in rendered       # nginx < 1.25.1
    assert "http2 on;" not in rendered
    assert "listen 127.0.0.1:18080;" in rendered
    assert "return 301 https://$host:18443$request_uri;" in rendered
    assert "listen 127.0.0.1:18081;" in rendered
    assert "proxy_bind 127.0.0.3;" in rendered
    assert "ssl_certificate         /run/x/certs/server.crt;" in rendered
    assert "ssl_client_certificate  /run/x/nginx/client-ca.pem;" in rendered
    assert not any("/etc/nginx" in line for line in rendered)
    # Every TLS, client-certificate and header rule is the repository's, unchanged.
    for line in directives(source):
        if line.startswith(("ssl_protocols", "ssl_ciphers", "ssl_verify_client", "ssl_verify_depth",
                            "proxy_set_header", "add_header", "map ", "SUCCESS", "default")):
            assert line in rendered, line


def test_newer_nginx_keeps_the_http2_directive():
    rendered = directives(render(http2_directive=True))
    assert "listen 127.0.0.1:18443 ssl;" in rendered and "http2 on;" in rendered


def test_a_change_to_aspsp_conf_the_renderer_does_not_know_fails_loudly():
    with pytest.raises(TopologyError, match="server web:8000"):
        render(NGINX_SITE.read_text().replace("server web:8000;", "server app:8000;"))


def test_docker_compose_still_mounts_the_same_file_with_its_upstream():
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "./deploy/nginx/aspsp.conf:/etc/nginx/conf.d/default.conf:ro" in compose
    assert "server web:8000;" in NGINX_SITE.read_text()


def test_the_main_configuration_keeps_nginx_inside_the_run_directory(tmp_path):
    text = nginx_main_config(run_dir=tmp_path, site=tmp_path / "nginx" / "aspsp.conf",
                             run_as="nobody nogroup")
    assert "daemon off;" in text
    assert f"pid {tmp_path}/nginx/nginx.pid;" in text
    assert f"include {tmp_path}/nginx/aspsp.conf;" in text
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        assert f"{kind}_temp_path {tmp_path}/nginx/temp/{kind};" in text
    assert "/var/" not in text and "/etc/" not in text


def test_every_process_gets_production_settings_and_trusts_only_nginx(tmp_path):
    topology = Topology(Settings(run_dir=tmp_path, https_port=18443, http_port=18080,
                                 health_port=18081, web_port=18000,
                                 database_url="postgresql://postgres@127.0.0.1:5432/x",
                                 redis_url="redis://127.0.0.1:6379/3"))
    env = topology.settings_env()
    assert env["ISSUER"] == "https://localhost:18443"
    assert env["TRUSTED_PROXIES"] == "127.0.0.3"
    assert env["CELERY_ALWAYS_EAGER"] == "false"
    assert env["CELERY_BROKER_URL"] == env["REDIS_URL"] == "redis://127.0.0.1:6379/3"
    assert env["KEY_ENCRYPTION_KEY"].startswith("v1:")
    # The secrets are made once and kept (mode 0600): the next start opens the same database.
    kek = tmp_path / "secrets" / "key-encryption-key"
    assert kek.stat().st_mode & 0o777 == 0o600
    again = Topology(Settings(run_dir=tmp_path)).settings_env()
    assert again["KEY_ENCRYPTION_KEY"] == env["KEY_ENCRYPTION_KEY"]
    assert again["SECRET_KEY"] == env["SECRET_KEY"]
    config = topology.app_config()
    assert config["CELERY_ALWAYS_EAGER"] is False and config["SANDBOX_ENABLED"] is True

