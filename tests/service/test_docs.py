"""The API's documentation offline (issue 21 item 10): /docs loads Swagger UI from the
package, not a CDN, and the OpenAPI document types the national endpoint's `input` per
transaction. SQLite store."""

import ast
import re
from pathlib import Path

import httpx
import pytest

from gongji.ledger import store
from gongji.service import national, national_schema

from .conftest import start

SERVICE = Path(national.__file__).parent


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    db = store.connect(f"sqlite:///{tmp_path_factory.mktemp('docs') / 's.db'}")
    store.upgrade(db)
    svc, server, thread = start(db)
    yield svc
    server.should_exit = True
    thread.join(timeout=10)
    db.dispose()


def test_docs_reference_no_other_site_and_their_assets_are_served(api):
    page = httpx.get(f"{api.url}/docs")  # no credential: the docs are public
    assert page.status_code == 200
    assert re.findall(r"https?://", page.text) == []  # no CDN, no validator, no icon online
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sorted(assets) == ["/docs/favicon.png", "/docs/swagger-ui-bundle.js",
                              "/docs/swagger-ui.css"]  # fmt: skip
    assert '"validatorUrl": null' in page.text
    for path in assets:
        got = httpx.get(f"{api.url}{path}")
        assert got.status_code == 200 and len(got.content) > 500, path
    script = httpx.get(f"{api.url}/docs/swagger-ui-bundle.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert b"SwaggerUIBundle" in script.content
    css = httpx.get(f"{api.url}/docs/swagger-ui.css")
    assert css.headers["content-type"].startswith("text/css")


def test_no_documentation_page_needs_the_internet(api):
    """ReDoc loads its script from a CDN, blank on a closed network: not served (Swagger UI
    at /docs is the one documentation page)."""
    assert httpx.get(f"{api.url}/redoc").status_code in (401, 404)


def test_the_national_route_names_every_transaction_it_takes(api):
    document = httpx.get(f"{api.url}/openapi.json").json()
    summary = document["paths"][national.PATHS[0]]["post"]["summary"]
    assert re.findall(r"\d{4}", summary) == sorted(national.HANDLERS)


def test_the_national_input_is_typed_per_transaction(api):
    document = httpx.get(f"{api.url}/openapi.json").json()
    schemas = document["components"]["schemas"]
    for path in national.PATHS:
        body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        one_of = body["schema"]["oneOf"]
        assert len(one_of) == len(national.HANDLERS)
        mapping = body["schema"]["discriminator"]["mapping"]
        assert set(mapping) == set(national.HANDLERS) | set(national.ALIASES)
    assert mapping["2207A"] == mapping["2207"] == "#/components/schemas/National2207"
    assert schemas["National2207"]["title"] == "2207 门诊结算 settlement"
    assert schemas["National2207"]["required"] == ["infno", "msgid", "fixmedins_code"]
    settle = schemas["National2207"]["properties"]
    assert settle["infno"]["enum"] == ["2207", "2207A"]
    data = settle["input"]["properties"]["data"]
    assert data["required"] == ["psn_no", "mdtrt_id"]
    assert {"fulamt_ownpay_amt", "inscp_scp_amt", "acct_used_flag"} <= set(data["properties"])
    fees = schemas["National2204"]["properties"]["input"]["properties"]
    line = fees["feedetail"]["anyOf"][0]["items"]
    assert "det_item_fee_sumamt" in line["required"]


def _read_keys(module: Path) -> set[str]:
    """The keys a handler module reads with fields.text/amount/count/day/moment."""
    keys = set()
    for call in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id == "fields"
            and call.func.attr in ("text", "amount", "count", "day", "moment")
            and len(call.args) > 1
            and isinstance(call.args[1], ast.Constant)
        ):
            keys.add(call.args[1].value)
    return keys


def _documented(schema: object) -> set[str]:
    if isinstance(schema, dict):
        found = set(schema.get("properties", {}))
        return found.union(*(_documented(v) for v in schema.values()))
    if isinstance(schema, list):
        return set().union(*(_documented(v) for v in schema))
    return set()


def test_every_field_a_handler_reads_by_name_is_documented():
    """Read from the handlers' source: a field read and not described fails here."""
    read = set().union(
        *(_read_keys(SERVICE / f"{name}.py")
          for name in ("national", "registered", "member_info", "signin", "files"))
    )  # fmt: skip
    documented = _documented(national_schema.INPUTS)
    assert "det_item_fee_sumamt" in read and "stmt_begndate" in read  # the reading works
    assert read - documented == set()
