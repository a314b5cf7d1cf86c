"""免证办 plans: for a matter and a subject, how each required material is
satisfied — by which licence (valid / suspended / expired / missing), by
which data check, or by a written commitment (告知承诺) or paper — and the
field values a department form can be pre-filled from.

What a plan may reveal is decided by the query policy, not by the plan: a
material's status is looked up only by answering the same query the caller
could send itself (for this matter, under its agreement and the holder's
consent or its mandate), logged the same way. Where the policy refuses,
the material says "undisclosed" with the refusal's reason — never whether
the holder has the licence. Materials held by another kind of holder (the
legal representative's ID card in a company's plan) are not looked up.
"""

from __future__ import annotations

from catalog.service import matters as matters_service
from exchange.agreements import items as catalog_items
from exchange.agreements.models import ItemKind
from exchange.query.service import ItemRequest, QueryContext, Subject, decide, settle

# Best first: the licence a material is satisfied by.
_STATUS_ORDER = ("valid", "suspended", "expired", "revoked", "cancelled")
MAX_PREFILL_RECORDS = 1


def plan(ctx: QueryContext, *, subject: Subject) -> dict:
    matter = matters_service.get_or_raise(session=ctx.session, code=ctx.matter_code)
    items, answers = _answers(ctx, matter.materials, subject)
    materials: list[dict] = []
    prefill: list[dict] = []
    prefilled: set[str] = set()
    for material in matter.materials:
        entry = {"key": material.key, "name": material.name, "required": material.required}
        entry.update(_material(ctx, material, subject, answers))
        materials.append(entry)
        code = entry.get("item")
        if code in answers and code not in prefilled:
            prefilled.add(code)
            _add_prefill(prefill, items[code], answers[code])
    return {
        "matter": {"code": matter.code, "name": matter.name, "department": matter.department_code},
        "materials": materials,
        "situations": [_situation(s, materials) for s in matter.situations],
        "prefill": prefill,
    }


def _answers(ctx: QueryContext, materials, subject: Subject) -> tuple[dict, dict[str, dict]]:
    """The items a material of this subject's kind is satisfied by, and the
    query's answer for each, asked once: decided together, then settled (see
    exchange.query.service), so no provider is called inside a transaction."""
    items: dict[str, catalog_items.SharedItem] = {}
    for material in materials:
        if material.satisfied_kind not in ("licence_type", "data_item") or material.satisfied_code in items:
            continue
        item = catalog_items.find(session=ctx.session, code=material.satisfied_code)
        if item is not None and item.holder_code_type == subject.code_type:
            items[item.code] = item
    decided = [decide(ctx, subject, ItemRequest(code=code)) for code in items]
    return items, dict(zip(items, settle(ctx, decided), strict=True))


def _material(ctx: QueryContext, material, subject: Subject, answers: dict) -> dict:
    kind = material.satisfied_kind
    if kind == "commitment":
        return {"way": "commitment", "status": "commitment_required", "satisfied": False,
                "commitment_template": material.commitment_template}
    if kind == "paper":
        return {"way": "paper", "status": "paper_required", "satisfied": False}
    item = catalog_items.find(session=ctx.session, code=material.satisfied_code)
    way = "licence" if kind == "licence_type" else "data_check"
    if item is None:
        return {"way": way, "item": material.satisfied_code, "status": "undisclosed", "satisfied": False,
                "reason": "item_unknown"}
    if item.holder_code_type != subject.code_type:
        return {"way": way, "item": item.code, "status": "other_subject", "satisfied": False,
                "holder_kind": item.holder_kind}
    answer = answers[item.code]
    if answer["result"] != "granted":
        status = "unavailable" if answer["reason"].startswith("provider_") else "undisclosed"
        return {"way": way, "item": item.code, "status": status, "satisfied": False, "reason": answer["reason"]}
    if item.kind == ItemKind.LICENCE_TYPE:
        return {"way": way, "item": item.code, **_licence_status(answer["licences"])}
    found = bool(answer["records"])
    return {"way": way, "item": item.code, "status": "available" if found else "no_record", "satisfied": found}


def _licence_status(licences: list[dict]) -> dict:
    if not licences:
        return {"status": "missing", "satisfied": False}
    best = min(licences, key=lambda entry: _STATUS_ORDER.index(entry["status"])
               if entry["status"] in _STATUS_ORDER else len(_STATUS_ORDER))
    return {"status": best["status"], "satisfied": best["status"] == "valid", "licence": best["identifier"]}


def _add_prefill(prefill: list, item: catalog_items.SharedItem, answer: dict) -> None:
    if answer["result"] != "granted":
        return
    if item.kind == ItemKind.LICENCE_TYPE:
        valid = [entry for entry in answer["licences"] if entry["status"] == "valid"]
        sources = [({"licence": entry["identifier"]}, entry["fields"], entry["masked_fields"]) for entry in valid[:1]]
    else:
        sources = [({}, record, answer["masked_fields"]) for record in answer["records"][:MAX_PREFILL_RECORDS]]
    for origin, values, masked in sources:
        for key, value in values.items():
            if value is None:
                continue
            prefill.append({"source": item.code, **origin, "field": key, "label": item.field(key)["label"],
                            "value": value, "masked": key in masked})


def _situation(situation, materials: list[dict]) -> dict:
    by_key = {m["key"]: m for m in materials}
    outstanding = [key for key in situation.material_keys
                   if key in by_key and not by_key[key]["satisfied"] and by_key[key]["way"] != "commitment"]
    return {"key": situation.key, "name": situation.name, "materials": list(situation.material_keys),
            "paper_free": not outstanding, "outstanding": outstanding}
