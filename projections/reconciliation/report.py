"""A run's summary and full report (CSV, JSON), built from its events only.

Deterministic: the same run gives byte-identical files (sorted rows, sorted keys, fixed
amount formatting, ages counted at the run's own as_of, no generation timestamp).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payments.domain import money
from payments.domain.money import CURRENCY_EXPONENTS
from payments.domain.reconciliation.findings import ALREADY_RECONCILED, KINDS, OPEN_STATES
from payments.domain.reconciliation.memory import BANK_PAYOUT, FEE, nets_of
from payments.domain.reconciliation.records import (
    BookedFees,
    MatchedChunk,
    Resolution,
    SettledChunk,
)
from payments.domain.reconciliation_run import (
    AUTO_FIXED,
    RESOLVED,
    Finding,
    ReconciliationRun,
)

MATCHED = "matched"
FEES = "fees_booked"  # fee lines booked (and, in runs before v0.3, fees booked per batch)
BANK = "paid_to_bank"  # the PSP paying our settled balance to our bank
SUMMARY_CLASSES = (MATCHED, *KINDS, FEES, BANK)


def format_minor(minor: int | None, currency: str | None) -> str:
    """Minor units as the currency's decimal string ("" when absent; a currency we do not
    know is shown with two decimals, as the file's other amounts are)."""
    if minor is None:
        return ""
    if currency not in CURRENCY_EXPONENTS:
        return money.format_minor(minor, "USD")
    return money.format_minor(minor, currency)


def finding_amount(finding: Finding) -> int:
    """The amount a finding is counted with: the PSP's when it has one, else ours."""
    if finding.psp_minor is not None:
        return finding.psp_minor
    return finding.expected_minor or 0


def age_days(finding: Finding, at: datetime) -> int | None:
    """Whole days since the matter began (None when the finding has no start)."""
    if finding.since is None:
        return None
    return max(0, (at - datetime.fromisoformat(finding.since)).days)


ClassRows = dict[str, dict[str, int]]


def empty_classes() -> ClassRows:
    return {
        name: {"count": 0, "amount_minor": 0, "open": 0, "auto_fixed": 0, "resolved": 0}
        for name in SUMMARY_CLASSES
    }


def add_lines(
    rows: ClassRows,
    chunks: Iterable[MatchedChunk] = (),
    settled: Iterable[SettledChunk] = (),
    fees: Iterable[BookedFees] = (),
) -> ClassRows:
    """Count the lines a run booked into `rows`: matched chunks, settled chunks (fee and bank
    lines, lines an earlier run reconciled) and batches' fees of runs before v0.3."""
    for chunk in chunks:
        rows[MATCHED]["count"] += chunk.matched
        rows[MATCHED]["amount_minor"] += chunk.gross_minor
    for one in settled:
        rows[ALREADY_RECONCILED]["count"] += one.already_reconciled
        for name, booking in ((FEES, FEE), (BANK, BANK_PAYOUT)):
            nets = nets_of(one.bookings, booking)
            rows[name]["count"] += len(nets)
            rows[name]["amount_minor"] -= sum(nets)  # a cost or a payout, as positive
    for booked in fees:
        rows[FEES]["count"] += 1
        rows[FEES]["amount_minor"] += booked.total_minor
    return rows


def add_counted(
    rows: ClassRows, kind: str, count: int, amount_minor: int, states: Iterable[str] = ()
) -> None:
    """Count into one class of `rows`: how many, their amount, and, for findings, how many
    are open, auto-fixed or resolved among `states` (one state per finding)."""
    row = rows[kind]
    row["count"] += count
    row["amount_minor"] += amount_minor
    for state in states:
        if state in OPEN_STATES:
            row["open"] += 1
        elif state == AUTO_FIXED:
            row["auto_fixed"] += 1
        elif state == RESOLVED:
            row["resolved"] += 1


def class_totals(run: ReconciliationRun) -> ClassRows:
    """Per class: count, amount_minor, and how many are open, auto-fixed, resolved."""
    rows = add_lines(empty_classes(), run.chunks, run.settled, run.fees)
    for finding in run.findings.values():
        state = run.state_of(finding.finding_id)
        add_counted(rows, finding.kind, 1, finding_amount(finding), [state])
    return rows


def summary(run: ReconciliationRun) -> dict[str, Any]:
    """Counts and amounts per class, with how many exceptions are still open."""
    rows = class_totals(run)
    classes = [
        {
            "class": name,
            "count": row["count"],
            "amount": format_minor(row["amount_minor"], run.currency),
            "open": row["open"],
            "auto_fixed": row["auto_fixed"],
            "resolved": row["resolved"],
        }
        for name, row in rows.items()
    ]
    return {
        "run_id": str(run.id),
        "file_sha256": run.file_sha256,
        "file_format": run.file_format,
        "ignored_columns": list(run.ignored_columns),
        "currency": run.currency,
        "period_start": run.period_start,
        "period_end": run.period_end,
        "as_of": run.as_of.isoformat(),
        "window_days": run.window_days,
        "tolerance": format_minor(run.tolerance_minor, run.currency),
        "through_position": run.through_position,
        "lines": run.lines,
        "open_exceptions": sum(row["open"] for row in rows.values()),
        "classes": classes,
        "batches": [
            {
                "batch_number": batch["batch_number"],
                "lines": batch["lines"],
                "net": format_minor(batch["net_minor"], run.currency),
                "payout": format_minor(batch["payout_minor"], run.currency),
            }
            for batch in run.batches
        ],
        "fees": [
            {
                "batch_number": fees.batch_number,
                "commission": format_minor(fees.commission_minor, run.currency),
                "markup": format_minor(fees.markup_minor, run.currency),
                "scheme_fees": format_minor(fees.scheme_fees_minor, run.currency),
                "interchange": format_minor(fees.interchange_minor, run.currency),
                "other": format_minor(fees.other_fees_minor, run.currency),
                "total": format_minor(fees.total_minor, run.currency),
            }
            for fees in sorted(run.fees, key=lambda fees: fees.batch_number)
        ],
    }


def _sort_key(finding: Finding) -> tuple[int, int, str]:
    line = finding.line
    return (0 if line is not None else 1, line or 0, finding.finding_id)


def sorted_findings(run: ReconciliationRun) -> list[Finding]:
    return sorted(run.findings.values(), key=_sort_key)


def _amounts(entries: dict[str, int] | None, currency: str) -> dict[str, str] | None:
    if not entries:
        return None
    return {account: format_minor(amount, currency) for account, amount in sorted(entries.items())}


@dataclass(frozen=True, slots=True)
class FindingAt:
    """A finding with what its run knows of it now: read from the run (`of`), or from the
    exceptions' view, which keeps the same parts (projections/views/reconciliation.py)."""

    run_id: str
    run_position: int  # of the run's Created: runs in the order they were recorded
    currency: str
    as_of: datetime  # the run's
    finding: Finding
    state: str
    resolution: Resolution | None
    auto_fix: str | None  # the auto-fix's outcome
    not_confirmed: str | None

    @classmethod
    def of(cls, run: ReconciliationRun, finding: Finding, position: int = 0) -> FindingAt:
        fix = run.auto_fixes.get(finding.finding_id)
        return cls(
            str(run.id), position, run.currency, run.as_of, finding,
            run.state_of(finding.finding_id), run.resolutions.get(finding.finding_id),
            fix.outcome if fix else None, run.not_confirmed.get(finding.finding_id),
        )  # fmt: skip


def finding_view(
    run: ReconciliationRun, finding: Finding, at: datetime | None = None
) -> dict[str, Any]:
    """A finding as reports and the API show it: amounts as strings, current state, its age
    (in whole days at `at`, default the run's as_of, so that reports stay deterministic)."""
    return view_of(FindingAt.of(run, finding), at)


def view_of(found: FindingAt, at: datetime | None = None) -> dict[str, Any]:
    """`finding_view` of a finding and its run's parts."""
    finding, resolution = found.finding, found.resolution
    return {
        "run_id": found.run_id,
        "finding_id": finding.finding_id,
        "kind": finding.kind,
        "state": found.state,
        "line": finding.line,
        "payment_order_id": finding.payment_order_id,
        "payout_id": finding.payout_id,
        "movement": finding.movement,
        "psp_reference": finding.psp_reference,
        "batch_number": finding.batch_number,
        "psp_type": finding.psp_type,
        "our_status": finding.our_status,
        "expected_amount": format_minor(finding.expected_minor, finding.expected_currency),
        "psp_amount": format_minor(finding.psp_minor, finding.psp_currency),
        "expected_currency": finding.expected_currency,
        "psp_currency": finding.psp_currency,
        "detail": finding.detail,
        "supersedes": finding.supersedes,
        "since": finding.since,
        "due": finding.due,
        "age_days": age_days(finding, at or found.as_of),
        "adjustment": _amounts(finding.adjustment, found.currency),
        "raw": finding.raw,
        "column": finding.column,
        "resolution": (
            {"action": resolution.action, "reason": resolution.reason} if resolution else None
        ),
        "resolved_by": resolution.resolved_by or None if resolution else None,
        "posted": _amounts(resolution.entries, found.currency) if resolution else None,
        "auto_fix": found.auto_fix,
        "not_confirmed": found.not_confirmed,
    }


def report_json(run: ReconciliationRun) -> bytes:
    report = summary(run)
    report["matched_chunks"] = [
        {
            "chunk": chunk.chunk,
            "first_line": chunk.first_line,
            "last_line": chunk.last_line,
            "matched": chunk.matched,
            "gross": format_minor(chunk.gross_minor, run.currency),
            "net": format_minor(chunk.net_minor, run.currency),
        }
        for chunk in sorted(run.chunks, key=lambda chunk: chunk.chunk)
    ]
    report["findings"] = [finding_view(run, finding) for finding in sorted_findings(run)]
    text = json.dumps(report, sort_keys=True, indent=2, ensure_ascii=False)
    return (text + "\n").encode()


CSV_COLUMNS = (
    "finding_id",
    "class",
    "state",
    "line",
    "payment_order_id",
    "payout_id",
    "psp_reference",
    "batch_number",
    "psp_type",
    "our_status",
    "expected_amount",
    "psp_amount",
    "expected_currency",
    "psp_currency",
    "detail",
    "supersedes",
    "resolution_action",
    "resolution_reason",
    "auto_fix",
    "since",
    "due",
    "age_days",
    "resolved_by",
    "posted",
    "not_confirmed",
    "raw",
)


def _entries_text(entries: dict[str, str] | None) -> str:
    return " ".join(f"{account}={amount}" for account, amount in (entries or {}).items())


def report_csv(run: ReconciliationRun) -> bytes:
    """One row per matched chunk (counts) and one per finding, in line order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for chunk in sorted(run.chunks, key=lambda chunk: chunk.chunk):
        row = dict.fromkeys(CSV_COLUMNS, "")
        row.update(
            {
                "finding_id": f"chunk-{chunk.chunk}",
                "class": MATCHED,
                "line": f"{chunk.first_line}-{chunk.last_line}",
                "psp_amount": format_minor(chunk.gross_minor, run.currency),
                "psp_currency": run.currency,
                "detail": f"{chunk.matched} lines matched",
            }
        )
        writer.writerow(row.values())
    for finding in sorted_findings(run):
        view = finding_view(run, finding)
        resolution = view["resolution"] or {}
        values = {
            **{name: view.get(name) for name in CSV_COLUMNS},
            "class": view["kind"],
            "resolution_action": resolution.get("action", ""),
            "resolution_reason": resolution.get("reason", ""),
            "posted": _entries_text(view["posted"]),
        }
        writer.writerow("" if value is None else value for value in values.values())
    return out.getvalue().encode()
