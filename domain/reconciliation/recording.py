"""How a classified file becomes a ReconciliationRun's events, a save at a time.

A million-line file books a million lines: tens of MiB of events. One save that large once
hung in the event store's pipelined insert (ADR 0010; the recorder no longer pipelines, see
projections/event_store.PaymentsRecorder) and would still hold them all in memory and in one
transaction, so the run is recorded in slices of about SAVE_BUDGET bytes: first what names the run
(Created, FileRead, the matched counts), then the booked lines chunk by chunk, then the
findings, then Completed. A run that lacks Completed was interrupted: classifying the same
file again against the same history (`through_position`, `as_of`, the same rules) gives the
same result, and `fill` adds only what the run does not hold yet.
"""

from __future__ import annotations

from collections.abc import Iterator

from payments.domain.reconciliation.findings import Finding
from payments.domain.reconciliation.outcome import Classification, Rules
from payments.domain.reconciliation_run import ReconciliationRun

SAVE_BUDGET = 1 << 20  # bytes of packed bookings or findings per save
FINDINGS_PER_EVENT = 1_000


def start_run(
    classification: Classification,
    *,
    file_sha: str,
    file_format: str,
    rules: Rules,
    ignored_columns: list[str],
) -> ReconciliationRun:
    """The run's first slice: what names it, how the file was read, the matched counts."""
    run = ReconciliationRun(
        file_sha256=file_sha,
        file_format=file_format,
        currency=rules.currency,
        period_start=classification.period_start,
        period_end=classification.period_end,
        as_of=rules.as_of,
        window_days=rules.window_days,
        through_position=classification.through_position,
    )
    run.note_file(ignored_columns, rules.tolerance_minor)
    for chunk in classification.chunks:
        if chunk.matched:
            run.record_chunk(
                chunk.index, chunk.first_line, chunk.last_line, chunk.matched,
                chunk.gross_minor, chunk.net_minor,
            )  # fmt: skip
    return run


def fill(run: ReconciliationRun, classification: Classification) -> Iterator[None]:
    """Add to `run` what it does not hold yet, yielding whenever about SAVE_BUDGET bytes are
    pending (the caller saves then); Completed is added last, after the final yield."""
    pending = 0
    recorded = {settled.chunk for settled in run.settled}
    for chunk in classification.chunks:
        chunk.close()
        if chunk.index in recorded or not (chunk.packed or chunk.already_reconciled):
            continue
        run.record_settled(chunk.index, chunk.packed, chunk.already_reconciled)
        pending += len(chunk.packed)
        if pending >= SAVE_BUDGET:
            yield
            pending = 0
    group: list[Finding] = []
    size = 0
    for finding in classification.findings:
        if finding.finding_id in run.findings:
            continue
        group.append(finding)
        size += len(finding.raw or "") + len(finding.detail) + 400
        if len(group) == FINDINGS_PER_EVENT or size >= SAVE_BUDGET:
            run.record_findings(group)
            pending += size
            group, size = [], 0
            if pending >= SAVE_BUDGET:
                yield
                pending = 0
    if group:
        run.record_findings(group)
    if pending or group:
        yield
    batches = [
        {
            "batch_number": key,
            "lines": batch.lines,
            "net_minor": batch.net_minor,
            "payout_minor": batch.payout_minor,
        }
        for key, batch in sorted(classification.batches.items())
    ]
    run.complete(classification.lines, batches)


def whole_run(run: ReconciliationRun, classification: Classification) -> ReconciliationRun:
    """The whole run of one classified file from its first slice (start_run), not saved (a
    dry run shows it and drops it)."""
    for _ in fill(run, classification):
        pass
    return run
