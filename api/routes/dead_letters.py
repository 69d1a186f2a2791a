"""Dead-letter queue for operators: list parked orders, payouts and refunds, send them back
to the executor."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

import msgspec
from litestar import Controller, get, post
from litestar.params import JSONBody

from payments.api.auth import access
from payments.api.openapi import spec
from payments.api.parameters import (
    CallerDep,
    PaymentOrderIdPath,
    PayoutIdPath,
    RefundIdPath,
    ServicesDep,
)
from payments.api.schemas import Reason
from payments.domain.api_key import Role
from payments.projections.followers.execution_queue import CHARGE, PAYOUT, REFUND, DeadLetter
from payments.runtime.services import Services

V = TypeVar("V", bound="Parked")


class Parked(msgspec.Struct, frozen=True, kw_only=True):
    """What every parked order, payout or refund shows besides its id."""

    attempts: int
    last_error: str
    dead_lettered_at: datetime


class DeadLetterView(Parked, frozen=True, kw_only=True):
    payment_order_id: str


class PayoutDeadLetterView(Parked, frozen=True, kw_only=True):
    payout_id: str


class RefundDeadLetterView(Parked, frozen=True, kw_only=True):
    refund_id: str


class DeadLetterList(msgspec.Struct, frozen=True):
    dead_letters: list[DeadLetterView]


class PayoutDeadLetterList(msgspec.Struct, frozen=True):
    dead_letters: list[PayoutDeadLetterView]


class RefundDeadLetterList(msgspec.Struct, frozen=True):
    dead_letters: list[RefundDeadLetterView]


class ReplayResult(msgspec.Struct, frozen=True):
    replayed: list[str]
    position: int | None


class ReplayRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Reason = "replayed by operator"


class ReplaysDeadLetters(Protocol):
    def replay_dead_letter(self, reference: str, reason: str, actor: str) -> int | None: ...


def parked(services: Services, target: str = CHARGE) -> list[DeadLetter]:
    """The dead letters of one target (CHARGE: orders, PAYOUT, REFUND), oldest first."""
    return services.queue.dead_letters(target)


def views(services: Services, target: str, view: Callable[..., V], id_field: str) -> list[V]:
    """The dead letters of one target as the API shows them, the id under `id_field`."""
    return [
        view(
            attempts=d.attempts,
            last_error=d.last_error,
            dead_lettered_at=d.dead_lettered_at,
            **{id_field: d.reference},
        )
        for d in parked(services, target)
    ]


def replay(
    services: Services, target: str, references: list[str], reason: str, actor: str
) -> ReplayResult:
    """Send dead letters of one target back to the executor; the last position written."""
    commands: dict[str, ReplaysDeadLetters] = {
        CHARGE: services.orders,
        PAYOUT: services.payouts,
        REFUND: services.refunds,
    }
    position = None
    for reference in references:
        position = commands[target].replay_dead_letter(reference, reason, actor) or position
    return ReplayResult(replayed=references, position=position)


def _reason(data: ReplayRequest | None) -> str:
    return data.reason if data else ReplayRequest().reason


def list_spec(operation_id: str, parked: str) -> dict[str, Any]:
    """The decorator of a route that lists the dead letters of one kind (`parked`: "Orders")."""
    return {
        **spec(operation_id, f"{parked} parked after their last retry"),
        **access(Role.OPERATOR),
    }


def replay_one_spec(operation_id: str, noun: str) -> dict[str, Any]:
    """The decorator of a route that sends one dead-lettered order, payout or refund back."""
    return {
        **spec(
            operation_id,
            f"Send one dead-lettered {noun} back to the executor",
            problems=(404, 409, 413, 422),
        ),
        "description": f"Optional body {{reason}}. 409 when the {noun} is not dead-lettered.",
        "status_code": 202,
        **access(Role.OPERATOR),
    }


class DeadLettersController(Controller):
    path = "/dead-letters"
    tags = ["operations"]

    @get("/", **list_spec("listDeadLetters", "Orders"))
    def list(self, services: ServicesDep) -> DeadLetterList:
        return DeadLetterList(views(services, CHARGE, DeadLetterView, "payment_order_id"))

    @post("/{payment_order_id:str}/replay", **replay_one_spec("replayDeadLetter", "order"))
    def replay_one(
        self,
        payment_order_id: PaymentOrderIdPath,
        services: ServicesDep,
        caller: CallerDep,
        data: JSONBody[ReplayRequest | None] = None,
    ) -> ReplayResult:
        return replay(services, CHARGE, [payment_order_id], _reason(data), caller.key_id)

    @post(
        "/replay-all",
        **spec(
            "replayAllDeadLetters",
            "Send every dead-lettered order back to the executor",
            problems=(409,),
        ),
        status_code=202,
        **access(Role.OPERATOR),
    )
    def replay_all(self, services: ServicesDep, caller: CallerDep) -> ReplayResult:
        ids = [d.reference for d in parked(services)]
        return replay(services, CHARGE, ids, "replayed by operator (all)", caller.key_id)

    @get("/payouts", **list_spec("listPayoutDeadLetters", "Payouts"))
    def list_payouts(self, services: ServicesDep) -> PayoutDeadLetterList:
        return PayoutDeadLetterList(views(services, PAYOUT, PayoutDeadLetterView, "payout_id"))

    @post("/payouts/{payout_id:str}/replay", **replay_one_spec("replayPayoutDeadLetter", "payout"))
    def replay_payout(
        self,
        payout_id: PayoutIdPath,
        services: ServicesDep,
        caller: CallerDep,
        data: JSONBody[ReplayRequest | None] = None,
    ) -> ReplayResult:
        return replay(services, PAYOUT, [payout_id], _reason(data), caller.key_id)

    @get(
        "/refunds",
        **list_spec("listRefundDeadLetters", "Refunds"),
        description="Their amount stays reserved on the order until a replay settles them.",
    )
    def list_refunds(self, services: ServicesDep) -> RefundDeadLetterList:
        return RefundDeadLetterList(views(services, REFUND, RefundDeadLetterView, "refund_id"))

    @post("/refunds/{refund_id:str}/replay", **replay_one_spec("replayRefundDeadLetter", "refund"))
    def replay_refund(
        self,
        refund_id: RefundIdPath,
        services: ServicesDep,
        caller: CallerDep,
        data: JSONBody[ReplayRequest | None] = None,
    ) -> ReplayResult:
        return replay(services, REFUND, [refund_id], _reason(data), caller.key_id)
