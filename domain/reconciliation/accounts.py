"""The ledger accounts reconciliation posts to (DESIGN §6); projections/views/postings.py posts
with the same names (a unit test checks they agree)."""

from __future__ import annotations

PSP_RECEIVABLE = "psp_receivable"  # asset: captured at the PSP, not settled yet
PSP_BALANCE = "psp_balance"  # asset: settled, held at the PSP for us
PAYOUTS_IN_TRANSIT = "payouts_in_transit"
PSP_FEES = "psp_fees"  # expense
WRITE_OFFS = "write_offs"  # expense (a credit balance is a gain)
BANK = "bank"  # asset: our own bank account, where the PSP pays our settled balance


def seller(account: str) -> str:
    """A seller's liability account."""
    return f"seller:{account}"
