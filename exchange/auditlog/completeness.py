"""A holder's check that their 用证记录 is all of it, up to a checkpoint.

What the wallet's ``logcompleteness.js`` does in the browser, in Python (for
tests and for anyone checking an answer of ``/api/v1/holders/me/use-records``
by hand). It reads the answer only, and trusts nothing but the log's
verifier key:

1. the checkpoint's signature, and its ``certhub-subject-map`` line;
2. the map proof for the holder's tag: ``count`` entries, the newest at
   ``last_index`` (or none at all);
3. every checkpointed record: its leaf hash is that of the record shown,
   it names the holder, and its inclusion proof leads to the root; every
   embargoed one: its inclusion proof;
4. the indices are distinct, there are exactly ``count`` of them and the
   largest is ``last_index``. A record left out, for whatever reason, fails
   here.

What it cannot check alone: that the tag is the holder's (it is an HMAC
under the log's key) and that the map holds every subject's true count —
the database verifier (``exchange.auditlog.dbcheck``) recomputes the map
from the entries and compares it with the checkpoint.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from exchange.auditlog.subjects import SubjectHeadValue, parse_extension
from signing.canonical import canonical_json
from signing.errors import InvalidInput
from signing.transparency import Checkpoint, NoteVerifier, leaf_hash, verify_inclusion
from signing.transparency.errors import VerificationError
from signing.transparency.sortedmap import MapLookupProof, verify_lookup


class IncompleteList(Exception):
    """The answer does not prove the list complete; the message says why."""


@dataclass(frozen=True)
class CompleteList:
    size: int  # the checkpoint's tree size: complete up to here
    shown: int  # checkpointed records shown
    embargoed: int  # checkpointed records withheld until their embargo ends


def verify_subject_records(answer: dict, *, subject_code: str, verifiers: Sequence[NoteVerifier]) -> CompleteList:
    """Raise IncompleteList unless ``answer`` proves it lists every
    checkpointed use naming ``subject_code``; what it proved."""
    try:
        return _verify(answer, subject_code=subject_code, verifiers=verifiers)
    except (VerificationError, InvalidInput, KeyError, TypeError, ValueError, binascii.Error) as error:
        raise IncompleteList(f"the answer does not verify: {error}") from None


def _verify(answer: dict, *, subject_code: str, verifiers: Sequence[NoteVerifier]) -> CompleteList:
    if answer.get("truncated"):
        raise IncompleteList("more records than one answer holds: the list is not shown whole")
    checkpoint = Checkpoint.from_note(answer["checkpoint"].encode("utf-8"), verifiers=verifiers)
    if answer["size"] != checkpoint.size:
        raise IncompleteList("the answer's size is not the checkpoint's")
    committed = parse_extension(checkpoint.extensions)
    if committed is None or answer.get("subject_map") is None:
        raise IncompleteList("the checkpoint commits to no per-subject map")
    leaves, map_root = committed
    proof = MapLookupProof.from_json(answer["subject_map"])
    value = verify_lookup(proof=proof, key=proof.key, size=leaves, root=map_root)
    head = None if value is None else SubjectHeadValue.decode(value)

    indices: list[int] = []
    for item in answer["records"]:
        if item["proof"] is None:
            if item["index"] is not None and item["index"] < checkpoint.size:
                raise IncompleteList(f"record {item['index']} is checkpointed but comes without a proof")
            continue  # not checkpointed yet: not counted
        leaf = leaf_hash(canonical_json(item["record"]))
        if base64.b64encode(leaf).decode("ascii") != item["leaf_hash"]:
            raise IncompleteList(f"record {item['index']} is not the logged leaf")
        if item["record"].get("subject") != subject_code:
            raise IncompleteList(f"record {item['index']} names another subject")
        _included(leaf, item, checkpoint)
        indices.append(item["index"])
    for item in answer["embargoed"]:
        _included(base64.b64decode(item["leaf_hash"], validate=True), item, checkpoint)
        indices.append(item["index"])

    if len(set(indices)) != len(indices):
        raise IncompleteList("an index is listed twice")
    expected = 0 if head is None else head.count
    if len(indices) != expected:
        raise IncompleteList(f"the map counts {expected} uses up to size {checkpoint.size}; "
                             f"the answer proves {len(indices)}")
    if head is not None and max(indices) != head.last_index:
        raise IncompleteList(f"the newest use is at index {head.last_index}, not among those listed")
    return CompleteList(size=checkpoint.size, shown=len(indices) - len(answer["embargoed"]),
                        embargoed=len(answer["embargoed"]))


def _included(leaf: bytes, item: dict, checkpoint: Checkpoint) -> None:
    verify_inclusion(leaf=leaf, index=item["index"], size=checkpoint.size,
                     proof=[base64.b64decode(node, validate=True) for node in item["proof"]],
                     root=checkpoint.root_hash)
