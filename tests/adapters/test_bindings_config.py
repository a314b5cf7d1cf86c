"""The bindings file: loaded from YAML, refused when unsafe."""

from __future__ import annotations

import pytest

from adapters.errors import AdapterConfigError, UnknownBinding
from adapters.sources import BindingRegistry
from tests.factories.adapters import FUZHOU

YAML = f"""
version: 1
data_bureau: null
http:
  - name: samr_enterprise
    url: https://samr.example.invalid/api/enterprises/{{subject}}
    auth: {{header: Authorization, scheme: Bearer, env: SAMR_API_TOKEN}}
    fields: {{name: /data/entName, status: data.regStatus}}
sql:
  - name: household
    url_env: POLICE_DB_URL
    query: "SELECT xm, csrq FROM household WHERE id_number = :subject"
    fields: {{name: xm, born: csrq}}
return_targets:
  - name: fuzhou_files
    department: {FUZHOU}
    kind: jsonl
    directory: /var/lib/certhub/return/fuzhou
"""


def _sql(**overrides):
    binding = {"name": "household", "url": "sqlite:///x.db", "query": "SELECT xm FROM t WHERE id = :subject",
               "fields": {"name": "xm"}}
    binding.update(overrides)
    return {"sql": [binding]}


def test_yaml_file_loads(tmp_path):
    path = tmp_path / "bindings.yaml"
    path.write_text(YAML, encoding="utf-8")
    registry = BindingRegistry.from_yaml(path, environ={})
    try:
        assert registry.source(kind="http", name="samr_enterprise").kind == "http"
        assert registry.source(kind="sql", name="household").kind == "sql"
        assert registry.target("fuzhou_files").department == FUZHOU
        with pytest.raises(UnknownBinding):
            registry.source(kind="http", name="household")
        with pytest.raises(UnknownBinding):
            registry.source(kind="registry", name="anything")
    finally:
        registry.close()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"query": "SELECT xm FROM t WHERE id = '350102199001011234'"}, ":subject"),
        ({"query": "SELECT xm FROM t WHERE id = :subject AND kind = :kind"}, "no other"),
        ({"query": "SELECT xm FROM t WHERE id = :subject; DROP TABLE t"}, "single statement"),
        ({"query": "DELETE FROM t WHERE id = :subject"}, "SELECT"),
        ({"url": "postgresql://police:hunter2@db.example/police"}, "password"),
        ({"url": None}, "exactly one"),
        ({"url_env": "lower_case"}, "url_env"),
        ({"query": None, "fields": {}}, "query, a dataset"),
        ({"dataset": {"table": "people", "region_column": "region", "columns": ["id"]}}, "updated_at_column or key_column"),
        ({"dataset": {"table": "people; drop", "region_column": "region", "columns": ["id"], "key_column": "id"}}, "table"),
    ],
)
def test_unsafe_sql_bindings_are_refused(overrides, message):
    with pytest.raises(AdapterConfigError, match=message):
        BindingRegistry.from_mapping(_sql(**overrides), environ={})


@pytest.mark.parametrize(
    ("binding", "message"),
    [
        ({"name": "a", "url": "https://x.invalid/q", "fields": {"name": "n"}}, "subject"),
        ({"name": "a", "url": "ftp://x.invalid/{subject}", "fields": {"name": "n"}}, "http"),
        ({"name": "a", "url": "https://x.invalid/{subject}", "fields": {"name": "n"}, "auth": {"env": "X", "token": "t"}}, "token"),
        ({"name": "a b", "url": "https://x.invalid/{subject}", "fields": {"name": "n"}}, "name"),
        ({"name": "a", "url": "https://x.invalid/{subject}", "fields": {"name": "n"}, "max_response_bytes": 10**9}, "max_response_bytes"),
    ],
)
def test_bad_http_bindings_are_refused(binding, message):
    with pytest.raises(AdapterConfigError, match=message):
        BindingRegistry.from_mapping({"http": [binding]}, environ={})


def test_names_must_be_unique_and_targets_owned_by_a_valid_department():
    binding = {"name": "a", "url": "https://x.invalid/{subject}", "fields": {"name": "n"}}
    with pytest.raises(AdapterConfigError, match="repeat"):
        BindingRegistry.from_mapping({"http": [binding, binding]}, environ={})
    target = {"name": "t", "department": "NOT-A-USCC", "kind": "csv", "directory": "/tmp/x"}
    with pytest.raises(AdapterConfigError, match="department"):
        BindingRegistry.from_mapping({"return_targets": [target]}, environ={})


def test_the_database_url_variable_must_be_set_when_used():
    registry = BindingRegistry.from_mapping(_sql(url=None, url_env="POLICE_DB_URL"), environ={})
    with pytest.raises(AdapterConfigError, match="POLICE_DB_URL"):
        registry.sql_source("household").engine()
    registry.close()
