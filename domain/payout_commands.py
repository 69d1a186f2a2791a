"""Commands on payouts: request (reserve + create in one save), the daily run and who it pays,
PSP outcomes, dead-letter replay. Each decides on fresh state again after a concurrent write."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from payments.domain.application import PaymentsApplication
from payments.domain.errors import FieldError, InvalidCommand, PayoutConflict, SellerNotPayable
from payments.domain.payout import Payout
from payments.domain.seller_commands import SellerCommands
from payments.domain.seller_wallet import SellerWallet

RUN_PREFIX, REQUEST_PREFIX = "payout_run_", "payout_req_"
# Ids of payouts made before the prefixes above (they began like payment orders' "po_"): a
# run looks for them too, so that a day's run repeated across the upgrade pays nobody twice.
LEGACY_RUN_PREFIX = "po_run_"
log = logging.getLogger("payments.payouts")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def payout_id_for_run(run_id: str, seller_account: str) -> str:
    """The payout of a scheduled run for one seller: the same run never pays a seller twice."""
    return RUN_PREFIX + _digest(f"{run_id}\x00{seller_account}")


def payout_id_for_key(idempotency_key: str) -> str:
    """The payout a POST /payouts with this Idempotency-Key creates (a retry finds it)."""
    return REQUEST_PREFIX + _digest(idempotency_key)


@dataclass(frozen=True, slots=True)
class RequestPayout:
    payout_id: str
    seller_account: str
    amount_minor: int | None  # None: everything available
    run_id: str | None = None
    requested_by: str | None = None  # the API key id of a manual payout


@dataclass(frozen=True, slots=True)
class PayoutPlacement:
    payout: Payout
    created: bool
    position: int | None = None


@dataclass
class PayoutRunCounts:
    """What one payout run did, seller by seller."""

    created: int = 0
    existing: int = 0
    below_minimum: int = 0
    refused: int = 0
    not_payable: int = 0  # unknown, not verified by KYC, rejected or suspended: skipped
    refusals: list[tuple[str, str]] = field(default_factory=list)  # (seller, why)

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "existing": self.existing,
            "below_minimum": self.below_minimum,
            "refused": self.refused,
            "not_payable": self.not_payable,
        }


def is_due_for_payout(wallet: SellerWallet | None, minimum_minor: int) -> bool:
    """A scheduled run pays a seller whose available balance reaches the minimum."""
    return wallet is not None and wallet.available_minor >= minimum_minor


class PayoutCommands:
    def __init__(
        self, application: PaymentsApplication, sellers: SellerCommands | None = None
    ) -> None:
        self.application = application
        self.sellers = sellers  # None: no seller rule (pure tests of the money path)

    def _refuse_unpayable(self, seller_account: str) -> None:
        refusal = None if self.sellers is None else self.sellers.payout_refusal(seller_account)
        if refusal is not None:
            raise refusal

    # --- requesting a payout -------------------------------------------------------------

    def request_payout(self, command: RequestPayout) -> PayoutPlacement:
        """Reserve the amount on the seller's wallet and create the Payout in one save.

        A racing request for the same wallet makes one of the saves conflict; the loser
        decides again on the reduced balance. An existing identical payout is returned as is.
        """

        def decide() -> tuple[PayoutPlacement, list[SellerWallet | Payout]]:
            # Wallet first: a payout is saved with its reservation, so a wallet that holds
            # the reservation is always followed by a read that finds the payout.
            wallet = self.application.find_wallet(command.seller_account)
            existing = self.application.find_payout(command.payout_id)
            if existing is not None:
                if not existing.same_content(command.seller_account, command.amount_minor):
                    raise PayoutConflict(command.payout_id)
                return PayoutPlacement(existing, created=False), []
            self._refuse_unpayable(command.seller_account)
            if wallet is None:
                raise InvalidCommand([FieldError("seller_account", "has no balance to pay out")])
            amount = command.amount_minor
            if amount is None:
                amount = wallet.available_minor
            wallet.reserve_payout(command.payout_id, amount)
            payout = Payout(
                payout_id=command.payout_id,
                seller_account=command.seller_account,
                amount_minor=amount,
                currency=wallet.currency,
                destination=command.seller_account,
                run_id=command.run_id,
                requested_by=command.requested_by,
            )
            return PayoutPlacement(payout, created=True), [wallet, payout]

        placement, position = self.application.decide_and_save(decide)
        return replace(placement, position=position)

    def run_payouts(
        self, run_id: str, sellers: Iterable[str], minimum_minor: int
    ) -> PayoutRunCounts:
        """The payout run `run_id` (a day): every seller whose available balance reaches the
        minimum gets one payout of everything available. Its payout ids derive from the run,
        so running it again creates nothing for a seller it already paid."""
        counts = PayoutRunCounts()
        for seller in sellers:
            payout_id = payout_id_for_run(run_id, seller)
            legacy_id = LEGACY_RUN_PREFIX + payout_id.removeprefix(RUN_PREFIX)
            if self.application.find_payout(legacy_id) is not None:
                counts.existing += 1
                continue
            wallet = self.application.find_wallet(seller)
            new = self.application.find_payout(payout_id) is None
            if new and not is_due_for_payout(wallet, minimum_minor):
                counts.below_minimum += 1
                continue
            try:
                if new:
                    self._refuse_unpayable(seller)
            except SellerNotPayable as refused:
                log.warning("payout run skips a seller: %s", refused, extra={"run_id": run_id})
                counts.not_payable += 1
                counts.refusals.append((seller, str(refused)))
                continue
            try:
                placement = self.request_payout(
                    RequestPayout(payout_id, seller, None, run_id=run_id)
                )
            except InvalidCommand as refused:  # a racing payout took the balance meanwhile
                counts.refused += 1
                counts.refusals.append((seller, str(refused)))
                continue
            if placement.created:
                counts.created += 1
            else:
                counts.existing += 1
        return counts

    # --- outcomes (webhooks) and operators -------------------------------------------------

    def record_paid(self, payout_id: str, psp_reference: str, source: str) -> bool:
        return self._apply(payout_id, lambda p: p.record_paid(psp_reference, source))

    def record_failure(
        self, payout_id: str, reason: str, psp_reference: str | None, source: str
    ) -> bool:
        return self._apply(payout_id, lambda p: p.record_failure(reason, psp_reference, source))

    def record_returned(self, payout_id: str, psp_reference: str, source: str) -> bool:
        return self._apply(payout_id, lambda p: p.record_returned(psp_reference, source))

    def replay_dead_letter(self, payout_id: str, reason: str, actor: str) -> int | None:
        payout = self.application.get_payout(payout_id)
        payout.replay_dead_letter(reason, actor)
        return self.application.record(payout)

    def _apply(self, payout_id: str, command: Callable[[Payout], bool]) -> bool:
        return self.application.change(lambda: self.application.get_payout(payout_id), command)
