"""Dead-letter queue for operators: list parked orders, payouts and refunds, send them back
to the executor."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from payments.api.auth import access
from payments.api.parameters import PaymentOrderIdPath, PayoutIdPath, RefundIdPath
from payments.api.problems import problem_specs
from payments.domain.api_key import Role
from payments.projections.followers.execution_queue import PAYOUT, REFUND
from payments.runtime.keys import Caller
from payments.runtime.services import Services


class DeadLetterView(msgspec.Struct, frozen=True):
    payment_order_id: str
    attempts: int
    last_error: str
    dead_lettered_at: datetime


class DeadLetterList(msgspec.Struct, frozen=True):
    dead_letters: list[DeadLetterView]


class PayoutDeadLetterView(msgspec.Struct, frozen=True):
    payout_id: str
    attempts: int
    last_error: str
    dead_lettered_at: datetime


class PayoutDeadLetterList(msgspec.Struct, frozen=True):
    dead_letters: list[PayoutDeadLetterView]


class RefundDeadLetterView(msgspec.Struct, frozen=True):
    refund_id: str
    attempts: int
    last_error: str
    dead_lettered_at: datetime


class RefundDeadLetterList(msgspec.Struct, frozen=True):
    dead_letters: list[RefundDeadLetterView]


class ReplayResult(msgspec.Struct, frozen=True):
    replayed: list[str]
    position: int | None


class ReplayRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Annotated[
        str, msgspec.Meta(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]+$")
    ] = "replayed by operator"


def list_dead_letters(services: Services) -> list[DeadLetterView]:
    return [
        DeadLetterView(d.reference, d.attempts, d.last_error, d.dead_lettered_at)
        for d in services.queue.dead_letters()
    ]


def list_payout_dead_letters(services: Services) -> list[PayoutDeadLetterView]:
    return [
        PayoutDeadLetterView(d.reference, d.attempts, d.last_error, d.dead_lettered_at)
        for d in services.queue.dead_letters(PAYOUT)
    ]


def list_refund_dead_letters(services: Services) -> list[RefundDeadLetterView]:
    return [
        RefundDeadLetterView(d.reference, d.attempts, d.last_error, d.dead_lettered_at)
        for d in services.queue.dead_letters(REFUND)
    ]


def replay_refunds(
    services: Services, refund_ids: list[str], reason: str, actor: str
) -> ReplayResult:
    position = None
    for refund_id in refund_ids:
        position = services.refunds.replay_dead_letter(refund_id, reason, actor) or position
    return ReplayResult(replayed=refund_ids, position=position)


def replay_payouts(
    services: Services, payout_ids: list[str], reason: str, actor: str
) -> ReplayResult:
    position = None
    for payout_id in payout_ids:
        position = services.payouts.replay_dead_letter(payout_id, reason, actor) or position
    return ReplayResult(replayed=payout_ids, position=position)


def replay(
    services: Services, payment_order_ids: list[str], reason: str, actor: str
) -> ReplayResult:
    position = None
    for order_id in payment_order_ids:
        position = services.orders.replay_dead_letter(order_id, reason, actor) or position
    return ReplayResult(replayed=payment_order_ids, position=position)


class DeadLettersController(Controller):
    path = "/dead-letters"
    tags = ["operations"]

    @get(
        "/",
        operation_id="listDeadLetters",
        summary="Orders parked after their last retry",
        sync_to_thread=True,
        responses=problem_specs(),
        **access(Role.OPERATOR),
    )
    def list(self, services: NamedDependency[Services]) -> DeadLetterList:
        return DeadLetterList(dead_letters=list_dead_letters(services))

    @post(
        "/{payment_order_id:str}/replay",
        operation_id="replayDeadLetter",
        summary="Send one dead-lettered order back to the executor",
        description="Optional body {reason}. 409 when the order is not dead-lettered.",
        status_code=202,
        sync_to_thread=True,
        responses=problem_specs(404, 409, 413, 422),
        **access(Role.OPERATOR),
    )
    def replay_one(
        self,
        payment_order_id: PaymentOrderIdPath,
        services: NamedDependency[Services],
        caller: NamedDependency[Caller],
        data: JSONBody[ReplayRequest | None] = None,
    ) -> ReplayResult:
        reason = data.reason if data else ReplayRequest().reason
        return replay(services, [payment_order_id], reason, caller.key_id)

    @post(
        "/replay-all",
        operation_id="replayAllDeadLetters",
        summary="Send every dead-lettered order back to the executor",
        status_code=202,
        sync_to_thread=True,
        responses=problem_specs(409),
        **access(Role.OPERATOR),
    )
    def replay_all(
        self, services: NamedDependency[Services], caller: NamedDependency[Caller]
    ) -> ReplayResult:
        ids = [d.payment_order_id for d in list_dead_letters(services)]
        return replay(services, ids, "replayed by operator (all)", caller.key_id)

    @get(
        "/payouts",
        operation_id="listPayoutDeadLetters",
        summary="Payouts parked after their last retry",
        sync_to_thread=True,
        responses=problem_specs(),
        **access(Role.OPERATOR),
    )
    def list_payouts(self, services: NamedDependency[Services]) -> PayoutDeadLetterList:
        return PayoutDeadLetterList(dead_letters=list_payout_dead_letters(services))

    @post(
        "/payouts/{payout_id:str}/replay",
        operation_id="replayPayoutDeadLetter",
        summary="Send one dead-lettered payout back to the executor",
        description="Optional body {reason}. 409 when the payout is not dead-lettered.",
        status_code=202,
        sync_to_thread=True,
        responses=problem_specs(404, 409, 413, 422),
        **access(Role.OPERATOR),
    )
    def replay_payout(
        self,
        payout_id: PayoutIdPath,
        services: NamedDependency[Services],
        caller: NamedDependency[Caller],
        data: JSONBody[ReplayRequest | None] = None,
    ) -> ReplayResult:
        reason = data.reason if data else ReplayRequest().reason
        return replay_payouts(services, [payout_id], reason, caller.key_id)

    @get(
        "/refunds",
        operation_id="listRefundDeadLetters",
        summary="Refunds parked after their last retry",
        description="Their amount stays reserved on the order until a replay settles them.",
        sync_to_thread=True,
        responses=problem_specs(),
        **access(Role.OPERATOR),
    )
    def list_refunds(self, services: NamedDependency[Services]) -> RefundDeadLetterList:
        return RefundDeadLetterList(dead_letters=list_refund_dead_letters(services))

    @post(
        "/refunds/{refund_id:str}/replay",
        operation_id="replayRefundDeadLetter",
        summary="Send one dead-lettered refund back to the executor",
        description="Optional body {reason}. 409 when the refund is not dead-lettered.",
        status_code=202,
        sync_to_thread=True,
        responses=problem_specs(404, 409, 413, 422),
        **access(Role.OPERATOR),
    )
    def replay_refund(
        self,
        refund_id: RefundIdPath,
        services: NamedDependency[Services],
        caller: NamedDependency[Caller],
        data: JSONBody[ReplayRequest | None] = None,
    ) -> ReplayResult:
        reason = data.reason if data else ReplayRequest().reason
        return replay_refunds(services, [refund_id], reason, caller.key_id)
