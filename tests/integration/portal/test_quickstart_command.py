"""The quickstart command the portal shows parses as the script expects, whatever the key's
id: a generated key's kid is a thumbprint, and one in 64 begins with "-", which argparse
reads as an option after a space (`--kid -abc` failed with "expected one argument")."""
from __future__ import annotations

import shlex
import types

import pytest

from developer_portal.quickstart import command_line, ib_quickstart


@pytest.mark.parametrize("kid", ["-starts-with-a-dash", "plain_kid", "_under"])
def test_the_shown_command_parses_whatever_the_kid(kid, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)           # no key file here: the script stops after parsing
    app = types.SimpleNamespace(
        client_id="client-1", jwks={"keys": [{"kid": kid}]}, app_id="app-1",
        redirect_uris=["https://tpp.example/callback"],
        organisation=types.SimpleNamespace(org_id="org-1"))
    argv = shlex.split(command_line(app, "http://127.0.0.1:9").replace("\\\n", " "))[2:]
    assert ib_quickstart.main(argv) == 1              # argparse's own failure exits with 2
    assert "No such file or directory" in capsys.readouterr().err
