"""A holder reads every use of their own data, each with a proof that it is
in the log the auditors see — and never sees another holder's records."""

import base64

from exchange.auditlog import integrate_pending, publish_checkpoint
from identity.holder_auth import HolderAuthority, HolderPrincipal
from signing.canonical import canonical_json
from signing.transparency import Checkpoint, NoteVerifier, leaf_hash, verify_inclusion
from tests.factories.use_records import ORIGIN, SECRET, use

# Citizen ID numbers with valid GB 11643 check digits: holder sessions are for real codes.
HOLDER = "350102199001011238"
OTHER_HOLDER = "350102198505051239"


def _holder_headers(app, code):
    principal = HolderPrincipal(holder_code=code, holder_code_type="111", name="林某", auth_method="dev",
                                session_id="s-1")
    return {"Authorization": f"Bearer {app.state.services.find(HolderAuthority).issue(principal=principal)}"}


def test_holder_sees_own_records_with_proofs_that_verify(app, client, db_session):
    use(db_session, subject_code=HOLDER)
    use(db_session, subject_code=OTHER_HOLDER, purpose="核验他人")
    use(db_session, subject_code=HOLDER, kind="supervision_access", basis="supervision_mandate",
        purpose="市场监管执法检查")
    integrate_pending(session=db_session, max_batch=100)
    publish_checkpoint(session=db_session, key_secret=SECRET, origin=ORIGIN)
    db_session.commit()

    response = client.get("/api/v1/holders/me/use-records", headers=_holder_headers(app, HOLDER))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["record"]["subject"] for r in body["records"]] == [HOLDER, HOLDER]
    assert {r["record"]["basis"] for r in body["records"]} == {"holder_presentation", "supervision_mandate"}

    # Only signing.transparency from here on, as a holder's own app would:
    # the checkpoint is the one the log publishes to everyone (and auditors verify) ...
    assert body["checkpoint"].encode() == client.get("/log/checkpoint").content
    key = client.get("/log/verifier-key").text.strip()
    checkpoint = Checkpoint.from_note(body["checkpoint"].encode(), verifiers=[NoteVerifier.from_key_string(key)])
    for item in body["records"]:
        assert item["proof"] is not None
        # ... the record shown is the logged leaf (RFC 8785 bytes) ...
        leaf = leaf_hash(canonical_json(item["record"]))
        assert base64.b64encode(leaf).decode() == item["leaf_hash"]
        # ... and that leaf is in the signed tree.
        verify_inclusion(
            leaf=leaf,
            index=item["index"],
            size=checkpoint.size,
            proof=[base64.b64decode(node) for node in item["proof"]],
            root=checkpoint.root_hash,
        )


def test_department_tokens_cannot_read_holder_records(client):
    assert client.get("/api/v1/holders/me/use-records").status_code == 401
