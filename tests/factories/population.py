"""The provincial population dataset data-return tests slice, in a
department database, with the bindings and targets that reach it."""

from __future__ import annotations

import json
from contextlib import contextmanager

from adapters.sources import BindingRegistry
from tests.adapters.databases import provider_database
from tests.factories.adapters import DATA_BUREAU, FUZHOU, XIAMEN

COLUMNS = ["id", "name", "region_code", "born"]
ROWS = [
    (1, "张三", "350102", "1990-01-01"),  # 福州 鼓楼
    (2, "李四", "350103", "1991-02-02"),  # 福州 台江
    (3, "王五", "350100", "1992-03-03"),  # 福州 (city level)
    (4, "赵六", "350203", "1993-04-04"),  # 厦门 思明
    (5, "钱七", "350000", "1994-05-05"),  # province-level record
    (6, "孙八", "360102", "1995-06-06"),  # 江西 南昌
    (7, "周九", "350121", "1996-07-07"),  # 福州 闽侯
]
FUZHOU_IDS = {1, 2, 3, 7}


def population_registry(db, tmp_path, *, updated_at=True) -> BindingRegistry:
    dataset = {"table": db.table("population"), "region_column": "region_code", "columns": COLUMNS, "key_column": "id"}
    if updated_at:
        dataset["updated_at_column"] = "updated_at"

    def files(name, department, kind):
        return {"name": name, "department": department, "kind": kind, "directory": str(tmp_path / name)}

    return BindingRegistry.from_mapping(
        {
            "data_bureau": DATA_BUREAU,
            "sql": [{"name": "population", "url_env": "POLICE_DB_URL", "dataset": dataset}],
            "return_targets": [
                files("fuzhou_files", FUZHOU, "jsonl"),
                files("fuzhou_csv", FUZHOU, "csv"),
                files("xiamen_files", XIAMEN, "jsonl"),
                {"name": "fuzhou_db", "department": FUZHOU, "kind": "sql", "url_env": "CITY_DB_URL",
                 "table": db.table("city_population")},
            ],
        },
        environ={"POLICE_DB_URL": db.url, "CITY_DB_URL": db.url},
    )


@contextmanager
def population_database(backend, directory):
    with provider_database(backend, directory) as database:
        database.run(
            "CREATE TABLE {schema}.population (id INTEGER PRIMARY KEY, name VARCHAR(50), region_code VARCHAR(6), "
            "born VARCHAR(10), updated_at TIMESTAMP)"
        )
        database.run("CREATE TABLE {schema}.city_population (id INTEGER PRIMARY KEY, name VARCHAR(50), region_code VARCHAR(6), born VARCHAR(10))")
        database.run(
            "INSERT INTO {schema}.population VALUES (:id, :name, :region, :born, TS(:at))",
            [{"id": i, "name": n, "region": r, "born": b, "at": "2026-01-01 08:00:00"} for i, n, r, b in ROWS],
        )
        yield database


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
