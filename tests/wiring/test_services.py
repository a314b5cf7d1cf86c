from typing import Annotated

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from wiring import MissingService, Services, service


class Clock:
    def __init__(self, now: str) -> None:
        self.now = now


class Unused:
    pass


def test_a_service_is_found_by_its_type_and_only_one_per_type():
    services = Services()
    clock = Clock("noon")
    services.register(Clock, clock)
    assert services.find(Clock) is clock
    with pytest.raises(ValueError, match="registered already"):
        services.register(Clock, Clock("midnight"))
    with pytest.raises(TypeError):
        services.register(Clock, "not a clock")  # type: ignore[arg-type]


def test_a_missing_service_fails_loudly_unless_it_is_optional():
    services = Services()
    with pytest.raises(MissingService, match="Unused"):
        services.find(Unused)
    assert services.find_optional(Unused) is None


def test_a_route_receives_the_service_of_the_app_serving_it():
    app = FastAPI()
    app.state.services = Services()
    app.state.services.register(Clock, Clock("noon"))

    @app.get("/now")
    async def now(clock: Annotated[Clock, service(Clock)]) -> dict:
        return {"now": clock.now}

    with TestClient(app) as client:
        assert client.get("/now").json() == {"now": "noon"}
