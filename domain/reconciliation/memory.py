"""The lines a run booked, packed into its LinesSettled events, and what each posts.

A run remembers every line it booked (ADR 0010): the next file that carries the same PSP line
books nothing again, and a second settlement of the same capture or payout is a duplicate. A
million lines are a million bookings, so a chunk's bookings travel as one string, one line per
booking, tab-separated: line number, booking, line identity, our reference (payment order or
payout id, "<kind>:<id>" of a refund's or dispute's movement, "" for fee and bank lines), net,
fee, write-off (minor units). Our references are [A-Za-z0-9_-] (checked where they are
created; a PSP's dispute id is checked here), identities hex: no tab or line break inside.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from payments.domain.reconciliation.accounts import (
    BANK,
    PSP_BALANCE,
    PSP_FEES,
    PSP_RECEIVABLE,
    WRITE_OFFS,
)
from payments.domain.reconciliation.expected import MOVEMENT_KINDS

CAPTURE = "capture"  # a capture of ours settled: Dr psp_balance net, Dr psp_fees fee, Cr receivable
FEE = "fee"  # a fee line: Dr psp_fees, Cr psp_balance (a fee given back: the reverse)
BANK_PAYOUT = "bank"  # the PSP paid our balance to our bank: Dr bank, Cr psp_balance
PAYOUT = "payout"  # a payout of ours left the PSP (Payout.Paid posted it): only its fee
PAYOUT_RETURN = "payout_return"  # it came back (Payout.Returned posted it): only its fee
# A refund's or dispute's line (expected.py names them): like a capture, it clears what our own
# event put on psp_receivable (a refund or chargeback credited it, a won dispute debited it):
# Dr psp_balance net (a debit line: a credit), Dr psp_fees fee, Cr psp_receivable the rest.
MOVEMENT_BOOKINGS = frozenset(MOVEMENT_KINDS)
BOOKINGS = frozenset({CAPTURE, FEE, BANK_PAYOUT, PAYOUT, PAYOUT_RETURN, *MOVEMENT_BOOKINGS})


@dataclass(frozen=True, slots=True)
class Booking:
    """One booked line. For a capture (and a refund's or dispute's line), write_off_minor is
    our amount minus the PSP's gross (a difference within the tolerance; signed like the line),
    so the receivable cleared is net + fee + write-off. Reference: our payment order, payout or
    movement ("refund:<id>", "chargeback:<dispute id>", ...)."""

    line: int
    booking: str
    identity: str
    reference: str
    net_minor: int
    fee_minor: int
    write_off_minor: int = 0

    @property
    def gross_minor(self) -> int:
        return self.net_minor + self.fee_minor


def row(
    line: int, booking: str, identity: str, reference: str, net: int, fee: int, write_off: int = 0
) -> str:
    """One booked line, packed (what `Booking` holds, without building one per line)."""
    if "\t" in reference or "\n" in reference:
        raise ValueError(f"reference {reference!r} cannot be packed")
    return f"{line}\t{booking}\t{identity}\t{reference}\t{net}\t{fee}\t{write_off}"


def pack(bookings: Iterable[Booking]) -> str:
    return "\n".join(
        row(b.line, b.booking, b.identity, b.reference, b.net_minor, b.fee_minor, b.write_off_minor)
        for b in bookings
    )


def unpack(text: str) -> Iterator[Booking]:
    if not text:
        return
    for row in text.split("\n"):
        line, booking, identity, reference, net, fee, write_off = row.split("\t")
        if booking not in BOOKINGS:
            raise ValueError(f"unknown booking {booking!r}")
        yield Booking(int(line), booking, identity, reference, int(net), int(fee), int(write_off))


_NET_OF = {
    kind: re.compile(rf"^[0-9]+\t{kind}\t[^\t]*\t[^\t]*\t(-?[0-9]+)\t", re.MULTILINE)
    for kind in (FEE, BANK_PAYOUT)
}


def nets_of(packed: str, booking: str) -> list[int]:
    """The nets of one kind of fee or bank booking in a packed chunk, without unpacking the
    chunk's other (capture) rows: a summary of a million-line run stays cheap."""
    if f"\t{booking}\t" not in packed:
        return []
    return [int(net) for net in _NET_OF[booking].findall(packed)]


def booking_entries(booking: Booking) -> dict[str, int]:
    """What one booked line posts, by account: debit +, credit -; the amounts add up to zero."""
    net, fee = booking.net_minor, booking.fee_minor
    if booking.booking == CAPTURE or booking.booking in MOVEMENT_BOOKINGS:
        write_off = booking.write_off_minor
        return {
            PSP_BALANCE: net,
            PSP_FEES: fee,
            WRITE_OFFS: write_off,
            PSP_RECEIVABLE: -(net + fee + write_off),
        }
    if booking.booking == FEE:
        return {PSP_BALANCE: net, PSP_FEES: -net}
    if booking.booking == BANK_PAYOUT:
        return {PSP_BALANCE: net, BANK: -net}
    return {PSP_BALANCE: -fee, PSP_FEES: fee}  # PAYOUT, PAYOUT_RETURN


def total_entries(bookings: Iterable[Booking]) -> dict[str, int]:
    """The bookings' entries summed by account, zero sums left out."""
    totals: dict[str, int] = {}
    for booking in bookings:
        for account, amount in booking_entries(booking).items():
            totals[account] = totals.get(account, 0) + amount
    return {account: amount for account, amount in totals.items() if amount}
