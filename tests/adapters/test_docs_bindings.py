"""The bindings example in docs/adapters.md, loaded by the real loader and
run against a loopback provider answering the documented shape: an example
that maps nothing would teach every department a binding that answers
nothing."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
import yaml

from adapters.errors import InvalidData
from adapters.sources import BindingRegistry, fetch_records
from tests.environment import REPO_ROOT
from tests.factories.adapters import COMPANY, ENTERPRISE_DATA

DOC = REPO_ROOT / "docs" / "adapters.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)


def _documented_bindings(base_url: str) -> dict:
    (document,) = [yaml.safe_load(block) for block in _blocks("yaml") if block.startswith("version: 1\ndata_bureau:")]
    (samr,) = document["http"]
    # Point the example at the loopback provider, path kept; its certificate
    # files exist only on the example's server.
    samr["url"] = base_url + urlsplit(samr["url"]).path
    del samr["client_cert"], samr["ca_bundle"]
    return document


def _documented_answer() -> bytes:
    (answer,) = _blocks("json")
    return answer.strip().encode()


def _documented_result() -> list[dict]:
    (line,) = re.findall(r"^# -> (\[.*\])$", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return json.loads(line)


def test_the_documented_binding_reads_the_documented_answer(provider, db_session, adapters_catalog):
    provider.routes["/api/enterprises"] = lambda handler: handler.reply(200, _documented_answer())
    registry = BindingRegistry.from_mapping(_documented_bindings(provider.base_url),
                                            environ={"SAMR_API_TOKEN": "token-from-the-environment"})
    try:
        records = fetch_records(session=db_session, registry=registry, data_item_code=ENTERPRISE_DATA,
                                subject=COMPANY)
    finally:
        registry.close()
    assert records == _documented_result()
    assert all(value is not None for value in records[0].values())
    (seen,) = provider.requests_to("/api/enterprises/")
    assert seen.headers["authorization"] == "Bearer token-from-the-environment"


def test_a_binding_whose_paths_miss_the_record_is_refused_not_answered_empty(provider, db_session, adapters_catalog):
    provider.routes["/api/enterprises"] = lambda handler: handler.reply(200, _documented_answer())
    document = _documented_bindings(provider.base_url)
    samr = document["http"][0]
    samr["fields"] = {key: "/data" + (path if path.startswith("/") else "/" + path.replace(".", "/"))
                      for key, path in samr["fields"].items()}  # the record's own path repeated: finds nothing
    registry = BindingRegistry.from_mapping(document, environ={"SAMR_API_TOKEN": "token"})
    try:
        with pytest.raises(InvalidData, match="none of the mapped fields") as refused:
            fetch_records(session=db_session, registry=registry, data_item_code=ENTERPRISE_DATA, subject=COMPANY)
    finally:
        registry.close()
    assert refused.value.code == "invalid_data"
