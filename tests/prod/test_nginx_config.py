"""Debian's nginx accepts the configuration deploy/prod_local.py renders from
deploy/nginx/aspsp.conf (nginx -t), without starting anything."""
from __future__ import annotations

import subprocess

import pytest

from deploy.prod_local import DEV_CERTS, Settings, Topology, nginx_binary
from tests.conftest import service_missing
from tests.prod.conftest import GROUP

pytestmark = pytest.mark.xdist_group(GROUP)


def test_nginx_accepts_the_rendered_configuration(tmp_path):
    binary = nginx_binary()
    if not binary:
        service_missing("nginx", FileNotFoundError("no nginx on PATH or in /usr/sbin"))
    topology = Topology(Settings(run_dir=tmp_path / "run", https_port=0, http_port=0,
                                 health_port=0, web_port=0))
    subprocess.run(["bash", str(DEV_CERTS), str(topology.certs_dir)], check=True,
                   capture_output=True)
    topology.nginx_dir.mkdir(parents=True)
    topology.logs_dir.mkdir(parents=True)
    topology.write_nginx_config()
    topology.client_ca.write_text((topology.certs_dir / "client-ca.pem").read_text())
    topology.check_nginx_config()             # nginx -t; TopologyError with its message if not
