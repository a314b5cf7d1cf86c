"""The plan request as a validated document."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from exchange.query.schemas import SubjectIn


class PlanIn(BaseModel):
    """In the body, not the URL: a holder's code in a URL is written to access
    logs, proxies' logs and browser histories before any check can refuse it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    subject: SubjectIn
    purpose: str = Field(min_length=1, max_length=200, description="用证事由")
    case_number: str = Field(min_length=1, max_length=64, description="the department's case (办件) number")
