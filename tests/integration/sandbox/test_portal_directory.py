"""The sandbox directory mirrors the developer portal: organisations, apps and their keys."""
from __future__ import annotations

import base64
import json
from types import SimpleNamespace

import pytest
from jwcrypto import jwk
from sqlalchemy import select

from developer_portal.models import PortalApp
from sandbox import directory
from sandbox.portal_directory import PortalDirectory
from tests.integration.portal.org_app_helpers import post, signed_in
from tests.portal_factories import make_app, make_developer, make_organisation

ORG = {"name": "Moneywise Ltd", "competent_authority": "GB:FCA", "authorisation_id": "654321",
       "roles": ["AISP", "PISP"]}
APP = {"name": "Moneywise", "logo_uri": "", "redirect_uris": "https://tpp.example/cb",
       "roles": ["AISP"], "token_endpoint_auth_method": "private_key_jwt", "profile": "fapi2"}


def _public(kid: str) -> dict:
    return {**json.loads(jwk.JWK.generate(kty="EC", crv="P-256").export_public()), "kid": kid}


@pytest.fixture
def dana(database, clock):
    with database.uow() as uow:
        developer = make_developer(uow, clock.now(), email="dana@moneywise.example")
        uow.commit()
    return developer


def _created(app, dana, clock) -> SimpleNamespace:
    """Organisation and app made through the portal's pages."""
    client = signed_in(app, dana, clock.now())
    new_org = "/developers/organisations/new"
    org_id = post(client, new_org, new_org, ORG).headers["Location"].rsplit("/", 1)[1]
    new_app = f"/developers/apps/new?org={org_id}"
    app_url = post(client, new_app, "/developers/apps/new",
                   {**APP, "org": org_id}).headers["Location"]
    return SimpleNamespace(client=client, org_id=org_id, app_url=app_url,
                           app_id=app_url.rsplit("/", 1)[1],
                           org_url=f"/developers/organisations/{org_id}")


def test_the_directory_mirrors_an_organisation_and_an_app_made_in_the_portal(app, platform,
                                                                             dana, clock):
    made = _created(app, dana, clock)
    with platform.uow() as uow:
        org = directory.organisation(uow, made.org_id)
        assert (org.name, org.competent_authority, org.authorisation_id, org.roles,
                org.status) == ("Moneywise Ltd", "GB:FCA", "654321", ["AISP", "PISP"],
                                "Active")
        sw = directory.software(uow, made.app_id)
        assert sw.organisation.org_id == made.org_id
        assert (sw.client_name, sw.redirect_uris, sw.roles, sw.jwks) == (
            "Moneywise", ["https://tpp.example/cb"], ["AISP"], {"keys": []})
    # edits follow
    post(made.client, made.org_url, made.org_url, {**ORG, "name": "Moneywise Group Ltd",
                                                   "roles": ["AISP", "PISP", "CBPII"]})
    edit = made.app_url + "/edit"
    post(made.client, edit, edit, {**APP, "name": "Moneywise 2", "roles": ["AISP", "CBPII"],
                                   "redirect_uris": "https://tpp.example/a\nhttps://tpp.example/b"})
    with platform.uow() as uow:
        org = directory.organisation(uow, made.org_id)
        assert org.name == "Moneywise Group Ltd" and org.roles == ["AISP", "PISP", "CBPII"]
        sw = directory.software(uow, made.app_id)
        assert sw.client_name == "Moneywise 2" and sw.roles == ["AISP", "CBPII"]
        assert sw.redirect_uris == ["https://tpp.example/a", "https://tpp.example/b"]


def test_key_changes_reach_the_directory_and_the_ssas_issued_after_them(app, platform, dana,
                                                                         clock):
    made = _created(app, dana, clock)
    keys_url = made.app_url + "/keys"
    post(made.client, made.app_url, keys_url + "/upload",
         {"jwks": json.dumps({"keys": [_public("old")]})})
    post(made.client, made.app_url, keys_url + "/upload", {"jwks": json.dumps(_public("new"))})
    post(made.client, made.app_url, keys_url + "/revoke", {"kid": "old"})
    issuer = app.config["ISSUER"]
    with platform.uow() as uow:
        ssa = directory.issue_ssa(uow, made.app_id, now=clock.now(), issuer=issuer,
                                  keyring=platform.keyring)
        uow.commit()
    payload = ssa.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["software_id"] == made.app_id and claims["org_id"] == made.org_id
    with platform.uow() as uow:
        published = directory.jwks_for_uri(uow, claims["software_jwks_endpoint"],
                                           issuer=issuer, now=clock.now())
    assert [k["kid"] for k in published["keys"]] == ["new"]
    served = app.test_client().get(claims["software_jwks_endpoint"][len(issuer):])
    assert [k["kid"] for k in served.json["keys"]] == ["new"]
    assert all("d" not in k for k in served.json["keys"])


def test_an_update_keeps_the_sandbox_registration_key(app, platform, dana, clock):
    made = _created(app, dana, clock)
    registration = _public(f"sandbox-registration-{made.app_id}")
    with platform.uow() as uow:
        sw = directory.software(uow, made.app_id)
        sw.jwks = {"keys": [*sw.jwks["keys"], registration]}
        uow.commit()
    post(made.client, made.app_url, made.app_url + "/keys/upload",
         {"jwks": json.dumps(_public("mine"))})
    edit = made.app_url + "/edit"
    post(made.client, edit, edit, {**APP, "name": "Renamed"})
    with platform.uow() as uow:
        sw = directory.software(uow, made.app_id)
        assert [k["kid"] for k in sw.jwks["keys"]] == ["mine", registration["kid"]]
        assert sw.client_name == "Renamed"
        row = uow.session.scalars(select(PortalApp).where(
            PortalApp.app_id == made.app_id)).one()
        assert [k["kid"] for k in row.jwks["keys"]] == ["mine"]    # the portal's own: its keys


def test_an_app_saved_before_its_organisation_was_mirrored_brings_it_along(app, platform,
                                                                           dana, clock):
    now = clock.now()
    with platform.uow() as uow:
        org = make_organisation(uow, now, dana, name="Older Ltd", roles=("PISP",))
        older = make_app(uow, now, org, jwks={"keys": [_public("k1")]})
        with app.test_request_context():
            PortalDirectory().app_saved(uow, older)
        assert directory.organisation(uow, org.org_id).name == "Older Ltd"
        assert directory.software(uow, older.app_id).jwks["keys"][0]["kid"] == "k1"


def test_a_revoked_directory_organisation_does_not_break_the_portal(app, platform, dana,
                                                                    clock):
    made = _created(app, dana, clock)
    with platform.uow() as uow:
        directory.organisation(uow, made.org_id).status = directory.REVOKED
        uow.commit()
    edit = made.app_url + "/edit"
    response = post(made.client, edit, edit, {**APP, "name": "Still Saved"})
    assert response.status_code == 303
    with platform.uow() as uow:
        assert directory.software(uow, made.app_id).client_name == "Moneywise"


def test_the_directory_still_refuses_what_it_always_refused(platform, clock):
    with platform.uow() as uow:
        directory.save_organisation(uow, org_id="org1", name="Org One",
                                    competent_authority="GB:FCA", authorisation_id="1",
                                    roles=["AISP"], now=clock.now())
        with pytest.raises(directory.DirectoryError, match="absolute https"):
            directory.save_software(uow, org_id="org1", software_id="sw1", client_name="S",
                                    redirect_uris=["http://tpp.example/cb"], roles=["AISP"],
                                    jwks={"keys": []}, now=clock.now())
        with pytest.raises(directory.DirectoryError, match="not authorised"):
            directory.save_software(uow, org_id="org1", software_id="sw1", client_name="S",
                                    redirect_uris=["https://tpp.example/cb"], roles=["PISP"],
                                    jwks={"keys": []}, now=clock.now())
        with pytest.raises(directory.DirectoryError, match="public keys only"):
            private = jwk.JWK.generate(kty="EC", crv="P-256").export_private(as_dict=True)
            directory.save_software(uow, org_id="org1", software_id="sw1", client_name="S",
                                    redirect_uris=["https://tpp.example/cb"], roles=["AISP"],
                                    jwks={"keys": [{**private, "kid": "p"}]}, now=clock.now())
        with pytest.raises(directory.DirectoryError, match="GB:FCA"):
            directory.save_organisation(uow, org_id="org1", name="Org One",
                                        competent_authority="FCA", authorisation_id="1",
                                        roles=["AISP"], now=clock.now())
