"""The OpenAPI document tells the truth (certhub.openapi, docs/http.md):
it is valid OpenAPI, documents every status and body the server really
answers (a sample recorded from other test modules' API calls), and a client
generated from it (openapi-python-client) works against a served certhub,
data-item models included."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from identity import clients
from identity.scopes import KNOWN_SCOPES
from tests.api_samples import SAMPLES_VARIABLE
from tests.environment import REPO_ROOT
from tests.factories.catalog import CITY_SAMR, ENTERPRISE_DATA
from tests.web.live import ServerThread

# Modules whose API calls make the sample of real answers: the catalog's
# reads and refusals, a holder's sign-in and wallet, licences' life cycle,
# agreements, subscriptions. Run on SQLite in a pytest of their own.
SAMPLED_MODULES = (
    "tests/catalog/test_api.py",
    "tests/identity/test_holders.py",
    "tests/registry/test_licences_api.py",
    "tests/exchange/test_agreements.py",
    "tests/exchange/test_subscriptions_api.py",
)
ERROR_STATUSES = {"400", "401", "403", "404", "409", "413", "422", "429", "503"}


@pytest.fixture(scope="module")
def document(tmp_path_factory):
    from certhub.app import create_app
    from tests.factories.settings import app_settings

    return create_app(app_settings(tmp_path_factory.mktemp("openapi"))).openapi()


def _operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def _validator(document, schema) -> Draft202012Validator:
    # "#/components/..." references resolve against the document's components.
    return Draft202012Validator({**schema, "components": document["components"]})


@pytest.mark.slow  # the validator takes some 15 s over the whole document
def test_the_document_is_valid_openapi_with_unique_ids_and_titles(document):
    validate(document)  # openapi-spec-validator: OpenAPI 3.1 and its JSON Schema dialect
    ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(ids) == len(set(ids))
    titles = [schema.get("title", name) for name, schema in document["components"]["schemas"].items()]
    assert len(titles) == len(set(titles)), sorted(t for t in titles if titles.count(t) > 1)
    # FastAPI's validation error body, which certhub never sends, is gone.
    assert "HTTPValidationError" not in json.dumps(document)


def test_every_refusal_is_documented_with_the_one_error_body(document):
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        errors = {status for status in responses if status[0] in "45"}
        if path.startswith("/api/") and path != "/api/v1/oauth/token":
            assert "503" in errors, (path, method)
        for status in errors:
            response = responses[status]
            if "$ref" in response:  # one of the shared error answers
                response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
            schema = response["content"]["application/json"]["schema"]
            oauth_error = operation["operationId"] == "issue_token" and status in {"400", "401"}  # RFC 6749 §5.2
            expected = "TokenError" if oauth_error else "Error"
            assert schema == {"$ref": f"#/components/schemas/{expected}"}, (path, method, status)
            assert "`error` is one of:" in response["description"]
        if operation.get("requestBody"):
            # The token endpoint's fields are checked by the route: 400 invalid_request, never 422.
            assert ({"413"} if operation["operationId"] == "issue_token" else {"413", "422"}) <= errors, (path, method)
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "message"]
    invalid = document["paths"]["/api/v1/exchange/query"]["post"]["responses"]["422"]
    assert invalid == {"$ref": "#/components/responses/InvalidRequest"}
    assert "invalid_request" in document["components"]["responses"]["InvalidRequest"]["description"]


def test_department_operations_name_their_oauth2_scopes(document):
    scheme = document["components"]["securitySchemes"]["OAuth2"]
    flow = scheme["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/api/v1/oauth/token" and flow["scopes"].keys() == KNOWN_SCOPES.keys()
    assert "HTTPBearer" not in document["components"]["securitySchemes"]
    scopes = {(path, method): requirement["OAuth2"] for path, method, operation in _operations(document)
              for requirement in operation.get("security", []) if "OAuth2" in requirement}
    assert scopes[("/api/v1/exchange/query", "post")] == ["exchange:query"]
    assert scopes[("/api/v1/presentations/redeem", "post")] == ["presentation:redeem"]
    assert scopes[("/api/v1/licences", "post")] == ["licence:issue"]
    for (path, method), needed in scopes.items():
        assert set(needed) <= KNOWN_SCOPES.keys()
        responses = document["paths"][path][method]["responses"]
        assert {"401", "403"} <= responses.keys(), (path, method)
    token = document["paths"]["/api/v1/oauth/token"]["post"]
    assert token["security"] == [{"HTTPBasic": []}, {}]


def test_every_request_body_has_an_example_its_schema_accepts(document):
    for path, method, operation in _operations(document):
        body = operation.get("requestBody")
        if body is None:
            continue
        for media_type, content in body["content"].items():
            if media_type == "image/png":
                continue  # a picture's bytes: no example to write
            assert "example" in content, (path, method, media_type)
            errors = list(_validator(document, content["schema"]).iter_errors(content["example"]))
            assert errors == [], (path, method, errors[0].message if errors else None)


def _recorded_answers(tmp_path: Path) -> list[dict]:
    """Run the sampled modules with the recorder on (tests/api_samples.py)."""
    sink = tmp_path / "answers.jsonl"
    env = {k: v for k, v in os.environ.items()
           if k not in {"CERTHUB_TEST_DATABASE_URL", "CERTHUB_TEST_REDIS_URL"}}  # SQLite: one run each
    env[SAMPLES_VARIABLE] = str(sink)
    env["PYTHONPATH"] = str(REPO_ROOT)
    run = subprocess.run([sys.executable, "-m", "pytest", *SAMPLED_MODULES, "-q", "-x", "-p", "no:cacheprovider", "-n", "0"],
                         cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:]
    return [json.loads(line) for line in sink.read_text(encoding="utf-8").splitlines()]


def _operation_for(document, method: str, path: str):
    """The documented operation a concrete path matched: literal segments
    before parameters, as the router matches them."""
    candidates = []
    for template, item in document["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in item:
            candidates.append((template.count("{"), template))
    if not candidates:
        return None, None
    template = min(candidates)[1]
    return template, document["paths"][template][method.lower()]


@pytest.mark.slow
def test_the_servers_real_answers_are_documented(document, tmp_path):
    answers = _recorded_answers(tmp_path)
    checked, statuses, problems = 0, set(), []
    for answer in answers:
        template, operation = _operation_for(document, answer["method"], answer["path"])
        if operation is None:
            continue  # a web page or an asset: not part of the API document
        status = str(answer["status"])
        documented = operation["responses"].get(status)
        if documented is not None and "$ref" in documented:
            documented = document["components"]["responses"][documented["$ref"].rsplit("/", 1)[1]]
        if documented is None:
            problems.append((operation["operationId"], status, answer["body"]))
            continue
        content = documented.get("content", {}).get("application/json")
        if content is not None and answer["body"] is not None:
            errors = list(_validator(document, content["schema"]).iter_errors(answer["body"]))
            if errors:
                problems.append((operation["operationId"], status, errors[0].message))
        checked += 1
        statuses.add(status)
    assert problems == []
    # A real sample: many answers, refusals of several kinds among them.
    assert checked > 200 and len(statuses & ERROR_STATUSES) >= 5, (checked, statuses)


# -- a client generated from the document -------------------------------------

GENERATOR = os.environ.get("CERTHUB_OPENAPI_PYTHON_CLIENT") or shutil.which("openapi-python-client")


@pytest.fixture
def served(app, db_session, loaded):
    server = ServerThread(app)
    port = server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def loaded(db_session):
    from catalog.service import document as catalog_document
    from tests.factories.catalog import catalog_mapping

    catalog_document.load(session=db_session, document=catalog_document.parse_mapping(catalog_mapping()))
    db_session.commit()


@pytest.mark.slow
# openapi-python-client pins httpx and typer below the versions certhub runs on,
# so .ci/run installs it as a tool in a virtualenv of its own; the client it
# generates runs on certhub's httpx.
@pytest.mark.skipif(GENERATOR is None, reason="openapi-python-client is not installed (.ci/run installs it)")
def test_a_generated_client_calls_three_endpoints_with_typed_models(app, served, db_session, tmp_path):
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(app.openapi()), encoding="utf-8")
    package = tmp_path / "certhub_client"
    # Its post-hooks (ruff, which finishes the generated code) from its own environment first.
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(GENERATOR).parent), os.environ.get("PATH", "")])}
    run = subprocess.run([GENERATOR, "generate", "--path", str(spec), "--output-path", str(package), "--meta", "none"],
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    # Nothing dropped: the generator warns about every schema or response it cannot use.
    assert "Unable to parse" not in run.stdout and "will be omitted" not in run.stdout, run.stdout
    sys.path.insert(0, str(tmp_path))
    try:
        generated = importlib.import_module("certhub_client")
        models = importlib.import_module("certhub_client.models")

        def endpoint(name: str):
            return importlib.import_module(f"certhub_client.api.{name}")

        public = generated.Client(base_url=served)
        # 1. The data items, as models (the generator used to drop them).
        items = endpoint("catalog.list_data_items").sync(client=public)
        assert items and all(isinstance(item, models.DataItemInRead) for item in items)
        item = endpoint("catalog.get_data_item").sync(code=ENTERPRISE_DATA, client=public)
        assert isinstance(item, models.DataItemInRead) and item.code == ENTERPRISE_DATA
        assert all(isinstance(f, models.DataFieldRead) for f in item.fields)
        # 2. A token, and 3. an authenticated call with it.
        new = clients.create(session=db_session, department_code=CITY_SAMR, name="generated",
                             scopes=["exchange:query"])
        db_session.commit()
        token = endpoint("auth.issue_token").sync_detailed(
            client=public, body=models.BodyIssueToken(grant_type="client_credentials", client_id=new.client_id,
                                                      client_secret=new.client_secret))
        assert token.status_code == 200
        bearer = generated.AuthenticatedClient(base_url=served, token=json.loads(token.content)["access_token"])
        assert endpoint("exchange_subscriptions.list_subscriptions").sync(client=bearer) == []
        # A refusal comes back as the documented Error model.
        refused = endpoint("exchange_subscriptions.list_subscriptions").sync(client=public)
        assert isinstance(refused, models.Error) and refused.error == "unauthenticated"
        for used in (public, bearer):
            used.get_httpx_client().close()
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n == "certhub_client" or n.startswith("certhub_client.")]:
            del sys.modules[name]
