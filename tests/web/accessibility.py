"""axe-core in the page under test: the violations of impact moderate or
higher (a helper module of the browser tests).

axe-core is vendored beside this file (tests/web/vendor/axe-core, its version
in VERSION): test tooling, never served by certhub. It is evaluated through
the DevTools protocol, which the pages' Content-Security-Policy does not
govern, so the policy stays as strict as in production."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
REPORTED = ("moderate", "serious", "critical")


@lru_cache(maxsize=1)
def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


def axe_violations(page) -> list[dict]:
    """axe's violations of impact moderate or higher on the page as it is now."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(_axe_source() + "\n;void 0")
    return page.evaluate(
        """async (reported) => {
            const result = await window.axe.run(document, { resultTypes: ["violations"] });
            return result.violations.filter((v) => reported.includes(v.impact)).map((v) => ({
                id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")),
            }));
        }""",
        list(REPORTED),
    )
