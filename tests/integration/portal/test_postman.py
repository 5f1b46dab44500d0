"""The docs page and the Postman collection generated from the platform's own OpenAPI
document (developer_portal/docs.py, postman.py)."""
from __future__ import annotations

import json
import re

from tests.portal_factories import make_app, make_developer, make_organisation, sign_in

POSTMAN = "/developers/docs/postman.json"
SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
METHODS = ("get", "post", "put", "patch", "delete")


def collection(client) -> dict:
    response = client.get(POSTMAN)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    return json.loads(response.data)


def requests_of(body: dict) -> list[dict]:
    return [item for folder in body["item"] for item in folder["item"]]


def operations(spec: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in spec["paths"].items()
            for method in METHODS if method in item}


def test_the_collection_is_v2_1_with_a_folder_per_api_and_a_request_per_operation(client):
    body = collection(client)
    spec = client.get("/open-banking/openapi.json").get_json()
    assert body["info"]["schema"] == SCHEMA and body["info"]["name"]
    assert {f["name"] for f in body["item"]} == {t["name"] for t in spec["tags"]}
    for folder in body["item"]:
        assert folder["item"] and all("request" in i and i["name"] for i in folder["item"])
    for item in requests_of(body):
        request = item["request"]
        assert request["method"] in {"GET", "POST", "PUT", "PATCH", "DELETE"}
        assert isinstance(request["header"], list)
        assert all(set(h) >= {"key", "value"} for h in request["header"])
        url = request["url"]
        assert url["host"] == ["{{baseUrl}}"] and url["raw"].startswith("{{baseUrl}}/")
        assert url["raw"] == "{{baseUrl}}/" + "/".join(url["path"])
    # Every path of the served document, every method (78 operations on 73 paths today).
    covered = {(i["request"]["method"], "/" + "/".join(
        re.sub(r"^:(.+)$", r"{\1}", s) for s in i["request"]["url"]["path"]))
        for i in requests_of(body)}
    assert covered == operations(spec)
    assert len(requests_of(body)) == len(operations(spec)) >= 70
    assert {p for _, p in covered} == set(spec["paths"])


def test_no_host_is_written_in_only_variables(client, app):
    body = collection(client)
    text = json.dumps(body["item"])
    assert "http://" not in text and "https://localhost" not in text and "localhost" not in text
    variables = {v["key"]: v["value"] for v in body["variable"]}
    assert variables["baseUrl"] == app.config["ISSUER"].rstrip("/")
    for item in requests_of(body):
        for value in re.findall(r"\{\{([^}]+)\}\}", json.dumps(item["request"])):
            assert value in variables or value.startswith("$"), value


def test_requests_carry_the_headers_the_bank_needs_and_example_bodies(client):
    spec = client.get("/open-banking/openapi.json").get_json()
    by_name = {(i["request"]["method"], i["request"]["url"]["raw"]): i["request"]
               for i in requests_of(collection(client))}
    consent = by_name[("POST", "{{baseUrl}}/open-banking/v3.1/pisp/domestic-payment-consents")]
    headers = {h["key"]: h for h in consent["header"]}
    assert headers["Authorization"]["value"] == "{{token_type}} {{access_token}}"
    assert headers["x-fapi-interaction-id"]["value"] == "{{$guid}}"
    assert headers["x-idempotency-key"]["value"] == "{{$guid}}"
    assert headers["x-jws-signature"]["value"] == "{{jws_signature}}"
    assert headers["Content-Type"]["value"] == "application/json"
    example = json.loads(consent["body"]["raw"])
    initiation = example["Data"]["Initiation"]
    assert initiation["InstructedAmount"] == {"Amount": "10.00", "Currency": "GBP"}
    assert initiation["CreditorAccount"]["SchemeName"] == "UK.OBIE.SortCodeAccountNumber"
    assert "Risk" in example

    accounts = by_name[("GET", "{{baseUrl}}/open-banking/v3.1/aisp/accounts/:AccountId")]
    names = {h["key"] for h in accounts["header"]}
    assert "x-idempotency-key" not in names and "x-jws-signature" not in names
    assert "body" not in accounts
    assert accounts["url"]["variable"][0]["key"] == "AccountId"
    transactions = by_name[("GET", "{{baseUrl}}/open-banking/v3.1/aisp/transactions")]
    assert {"fromBookingDateTime", "toBookingDateTime"} <= {
        q["key"] for q in transactions["url"]["query"]}
    # x-jws-signature exactly where the document declares it.
    declared = {(m.upper(), p) for p, item in spec["paths"].items() for m in METHODS
                if m in item and any(prm.get("name") == "x-jws-signature"
                                     for prm in item[m].get("parameters", []))}
    signed = {(r["method"], r["url"]["raw"]) for r in by_name.values()
              if any(h["key"] == "x-jws-signature" for h in r["header"])}
    assert declared and len(signed) == len(declared)
    for item in by_name.values():
        if item["method"] == "POST":
            assert any(h["key"] == "x-idempotency-key" for h in item["header"])


def test_the_docs_page_links_the_api_docs_the_collection_and_the_demo_customers(client):
    page = client.get("/developers/docs/")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'href="/open-banking/docs"' in text and 'href="/open-banking/openapi.json"' in text
    assert f'href="{POSTMAN}"' in text
    assert "alice" in text and "ALICESANDBOXTOTPSECRETKEY2345AAA" in text
    assert "99999999" in text and "/sandbox/control/authorizations/approve" in text
    assert client.get("/open-banking/docs").status_code == 200


def test_the_docs_page_lists_the_quickstart_of_the_developers_own_apps_only(app, database,
                                                                            clock):
    now = clock.now()
    with database.uow() as uow:
        dana = make_developer(uow, now)
        own = make_app(uow, now, make_organisation(uow, now, dana), name="Acme <b>Money</b>")
        eve = make_developer(uow, now)
        other = make_app(uow, now, make_organisation(uow, now, eve, name="Other"),
                         name="Secret App")
        uow.commit()
    browser = app.test_client()
    sign_in(browser, dana, now)
    text = browser.get("/developers/docs/").get_data(as_text=True)
    assert f"/developers/apps/{own.app_id}/quickstart" in text
    assert "Quickstart for Acme &lt;b&gt;Money&lt;/b&gt;" in text
    assert other.app_id not in text and "Secret App" not in text
    assert browser.get(f"/developers/apps/{other.app_id}/quickstart").status_code == 404
    assert browser.get(
        f"/developers/apps/{other.app_id}/quickstart/ib_quickstart.py").status_code == 404
