"""A run's summary and full report (CSV, JSON), built from its events only.

Deterministic: the same run gives byte-identical files (sorted rows, sorted keys, fixed
amount formatting, no generation timestamp).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from payments.domain import money
from payments.domain.money import CURRENCY_EXPONENTS
from payments.domain.reconciliation_run import (
    AUTO_FIX,
    AUTO_FIXED,
    KINDS,
    OPEN,
    RESOLVED,
    Finding,
    ReconciliationRun,
)

MATCHED = "matched"
FEES = "fees_booked"
SUMMARY_CLASSES = (MATCHED, *KINDS, FEES)


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


def summary(run: ReconciliationRun) -> dict[str, Any]:
    """Counts and amounts per class, with how many exceptions are still open."""
    rows: dict[str, dict[str, int]] = {
        name: {"count": 0, "amount_minor": 0, "open": 0, "auto_fixed": 0, "resolved": 0}
        for name in SUMMARY_CLASSES
    }
    for chunk in run.chunks:
        rows[MATCHED]["count"] += chunk.matched
        rows[MATCHED]["amount_minor"] += chunk.gross_minor
    for finding in run.findings.values():
        row = rows[finding.kind]
        row["count"] += 1
        row["amount_minor"] += finding_amount(finding)
        state = run.state_of(finding.finding_id)
        if state in (OPEN, AUTO_FIX):
            row["open"] += 1
        elif state == AUTO_FIXED:
            row["auto_fixed"] += 1
        elif state == RESOLVED:
            row["resolved"] += 1
    for fees in run.fees:
        rows[FEES]["count"] += 1
        rows[FEES]["amount_minor"] += fees.total_minor
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
        "currency": run.currency,
        "period_start": run.period_start,
        "period_end": run.period_end,
        "as_of": run.as_of.isoformat(),
        "window_days": run.window_days,
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


def finding_view(run: ReconciliationRun, finding: Finding) -> dict[str, Any]:
    """A finding as reports and the API show it: amounts as strings, current state."""
    resolution = run.resolutions.get(finding.finding_id)
    fix = run.auto_fixes.get(finding.finding_id)
    return {
        "finding_id": finding.finding_id,
        "kind": finding.kind,
        "state": run.state_of(finding.finding_id),
        "line": finding.line,
        "payment_order_id": finding.payment_order_id,
        "payout_id": finding.payout_id,
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
        "resolution": (
            {"action": resolution.action, "reason": resolution.reason} if resolution else None
        ),
        "auto_fix": fix.outcome if fix else None,
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
)


def report_csv(run: ReconciliationRun) -> bytes:
    """One row per matched chunk (counts) and one per finding, in line order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for chunk in sorted(run.chunks, key=lambda chunk: chunk.chunk):
        writer.writerow(
            [
                f"chunk-{chunk.chunk}",
                MATCHED,
                "",
                f"{chunk.first_line}-{chunk.last_line}",
                *([""] * 6),
                "",
                format_minor(chunk.gross_minor, run.currency),
                "",
                run.currency,
                f"{chunk.matched} lines matched",
                *([""] * 4),
            ]
        )
    for finding in sorted_findings(run):
        view = finding_view(run, finding)
        resolution = view["resolution"] or {}
        writer.writerow(
            [
                view["finding_id"],
                view["kind"],
                view["state"],
                "" if finding.line is None else finding.line,
                view["payment_order_id"] or "",
                view["payout_id"] or "",
                view["psp_reference"] or "",
                "" if finding.batch_number is None else finding.batch_number,
                view["psp_type"] or "",
                view["our_status"] or "",
                view["expected_amount"],
                view["psp_amount"],
                view["expected_currency"] or "",
                view["psp_currency"] or "",
                view["detail"],
                view["supersedes"] or "",
                resolution.get("action", ""),
                resolution.get("reason", ""),
                view["auto_fix"] or "",
            ]
        )
    return out.getvalue().encode()
