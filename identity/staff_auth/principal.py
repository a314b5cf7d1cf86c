"""The signed-in staff member (a counter clerk, a department officer, an
auditor) and the scopes their roles give.

Roles come from the province's identity provider; certhub maps them to the
scopes department clients hold (identity.scopes), so a staff session passes
the same scope checks as a department system and no route needs to know
which of the two called it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from identity.codes import validate_uscc
from identity.errors import InvalidCode
from identity.operators import validate_operator_id
from identity.tokens import Principal

# Each role's scopes: what that person's work at the department needs, no
# more. Platform-wide powers (catalog:admin) and the operator's monitoring
# (metrics:read) are never given to a staff session.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    # 综窗人员: redeems holders' 亮证 codes and queries the hub for a matter.
    "clerk": frozenset({"presentation:redeem", "exchange:query"}),
    # A department officer: manages the department's licences, seals and
    # sharing agreements (as provider and as consumer), reports wrong fields.
    "officer": frozenset({
        "licence:issue", "licence:manage", "licence:dispute", "seal:admin", "exchange:provide", "exchange:query",
        # The department's own use statistics on the console (not the whole log: that is audit:read).
        "usage:read",
        # The department's own API clients (rotate a leaked secret, disable a retired system); never another's.
        "clients:manage",
    }),
    # Reviews the authorized-use log.
    "auditor": frozenset({"audit:read"}),
}
STAFF_ROLES = tuple(ROLE_SCOPES)
AUTH_METHODS = ("oidc", "dev")
MAX_NAME_LENGTH = 200
# The use log and the department client tables tell a person's session from
# a department system by this prefix on the client id.
STAFF_CLIENT_PREFIX = "staff:"

def staff_roles(values: Iterable[object]) -> frozenset[str]:
    """The certhub roles among the provider's: others (roles for other
    applications at the same provider) are left aside."""
    return frozenset(value for value in values if isinstance(value, str) and value in ROLE_SCOPES)


def scopes_for(roles: Iterable[str]) -> frozenset[str]:
    return frozenset().union(*(ROLE_SCOPES[role] for role in roles))


@dataclass(frozen=True)
class StaffPrincipal:
    """A person working for a department, signed in for one shift.

    `staff_id` is the department's own staff identifier (the operator on use
    records: identity.operators' alphabet), `shift_started_at` the Unix time
    of sign-in: refreshed sessions keep it, so no refresh outlives a shift.
    """

    staff_id: str
    department_code: str
    roles: frozenset[str]
    name: str
    auth_method: str
    session_id: str
    shift_started_at: int

    @property
    def scopes(self) -> frozenset[str]:
        return scopes_for(self.roles)

    def as_caller(self) -> Principal:
        """The person as a department API caller: the department's scopes for
        these roles, and the operator fixed to this person (a differing
        X-Operator-Id is refused: identity.client_assertions.operator_of)."""
        return Principal(client_id=STAFF_CLIENT_PREFIX + self.staff_id, department_code=self.department_code,
                         scopes=self.scopes, operator=self.staff_id)


def validate_staff(*, staff_id: object, department_code: object, roles: object, name: object) -> tuple[
        str, str, frozenset[str], str]:
    """Check a staff identity's parts; messages never echo the values."""
    if not isinstance(staff_id, str):
        raise InvalidCode("the staff id must be a string")
    try:
        validate_operator_id(staff_id)
    except InvalidCode:
        # It becomes the operator of every use record: the operator id's alphabet and length.
        raise InvalidCode("the staff id must be 1-64 letters, digits, '.', '_', ':' or '-'") from None
    if not isinstance(department_code, str):
        raise InvalidCode("the department code must be a string")
    try:
        validate_uscc(department_code, what="department code")
    except InvalidCode:
        raise InvalidCode("the department code is not a valid unified social credit code (GB 32100)") from None
    if not isinstance(roles, (list, tuple, frozenset, set)):
        raise InvalidCode("roles must be a list")
    known = staff_roles(roles)
    if not known:
        raise InvalidCode(f"no certhub role among the staff member's roles (one of {', '.join(STAFF_ROLES)})")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME_LENGTH:
        raise InvalidCode(f"the staff member's name is required (at most {MAX_NAME_LENGTH} characters)")
    return staff_id, department_code, known, name.strip()
