"""Erasure: the record that a subject's personal-data keys were erased (ADR 0012).

It holds no personal data: the subject only as a digest keyed by a secret of the
installation (so that the log cannot confirm a guess of a buyer id), and the ids of the
keys erased (random, naming nothing). When is the event's timestamp.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event


class Erasure(Aggregate):
    TOPIC = "payments.Erasure"

    class Created(Aggregate.Created):
        TOPIC = "payments.Erasure.Created.v1"
        subject_digest: str
        key_ids: list[str]
        requested_by: str

    @event(Created)
    def __init__(self, subject_digest: str, key_ids: list[str], requested_by: str) -> None:
        self.subject_digest = subject_digest
        self.key_ids = key_ids
        self.requested_by = requested_by

    @classmethod
    def record(
        cls, erasure_id: UUID, subject_digest: str, key_ids: list[UUID], requested_by: str
    ) -> Erasure:
        """The erasure `erasure_id` (chosen when the keys were erased, so a retry names it
        again) of the subject's keys `key_ids`."""
        return cls._create(
            cls.Created,
            id=erasure_id,
            subject_digest=subject_digest,
            key_ids=sorted(key.hex for key in key_ids),
            requested_by=requested_by,
        )
