"""Reconcile one settlement file against our replayed history (DESIGN §8, ADR 0010).

Read the file (any known layout, detected from its header), replay our history, classify
every line with the domain's rules, record the run, then confirm its safe fixes at the PSP.
The file is streamed line by line; nothing is written until the whole file has been read and
classified: a file that cannot be read at all raises SettlementFormatError and records
nothing, and a dry run records nothing either. The run and its findings are saved in one
transaction; fixes follow through the normal order commands, each after a look-up at the PSP
(resumed by a re-run of the same file if a crash interrupts them).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from payments.domain.reconciliation.classifier import Classifier
from payments.domain.reconciliation.outcome import Classification, Rules
from payments.domain.reconciliation.recording import start_run, whole_run
from payments.domain.reconciliation_commands import ReconciliationCommands
from payments.domain.reconciliation_run import ReconciliationRun
from payments.projections.reconciliation.history import replay_history
from payments.psp.answers import PspLookup
from payments.psp.reconcile.convert import to_lines
from payments.psp.settlement import ReadOptions, SettlementFormat, read_settlement

log = logging.getLogger("payments.reconcile")


class ChargeLookups(Protocol):
    """What confirming a fix needs of the PSP: the executor's look-up, with amounts."""

    def look_up_charge(self, reference: str) -> PspLookup: ...


@dataclass(frozen=True, slots=True)
class ReconcileOptions:
    currency: str
    window_days: int = 3
    as_of: datetime | None = None  # default: now; decides awaiting vs missing at the PSP
    tolerance_minor: int = 0
    chunk_lines: int = 10_000
    file_format: SettlementFormat | str | None = None  # None: detected from the header
    dry_run: bool = False  # classify and report, record nothing
    through: int | None = None  # dry runs only: our history as it stood at this position
    read_options: ReadOptions = field(default_factory=ReadOptions)


@dataclass(frozen=True, slots=True)
class RunOutcome:
    run: ReconciliationRun
    created: bool
    dry_run: bool = False
    fixes: dict[str, str] = field(default_factory=dict)  # finding id -> what the fix did


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def reconcile_file(
    commands: ReconciliationCommands,
    path: Path,
    options: ReconcileOptions,
    *,
    file_sha: str | None = None,
    client: ChargeLookups | None = None,
) -> RunOutcome:
    """Reconcile the file at `path`; the same file again returns the existing run (and
    finishes fixes a crash left pending). Without a PSP client no fix is ever applied: its
    findings open for a person."""
    if options.through is not None and not options.dry_run:
        raise ValueError("a run against past history (through=...) can only be a dry run")
    file_sha = file_sha or file_sha256(path)
    if not options.dry_run:
        existing = commands.find_run(file_sha)
        if existing is not None:
            if not existing.completed:  # interrupted: finish it as it was begun
                existing = _resume(commands, existing, path, options)
            fixes = apply_auto_fixes(commands, existing, client)
            run = commands.get_run(str(existing.id)) if fixes else existing
            return RunOutcome(run, created=False, fixes=fixes)
    rules = Rules(
        currency=options.currency,
        as_of=options.as_of or datetime.now(UTC),
        window_days=options.window_days,
        tolerance_minor=options.tolerance_minor,
        chunk_lines=options.chunk_lines,
    )
    classification, file_format, ignored = classify_file(commands, path, options, rules)
    first = start_run(
        classification,
        file_sha=file_sha,
        file_format=file_format,
        rules=rules,
        ignored_columns=ignored,
    )
    if options.dry_run:
        return RunOutcome(whole_run(first, classification), created=False, dry_run=True)
    run, created = commands.record_run(first, classification)
    fixes = apply_auto_fixes(commands, run, client)
    if fixes:
        run = commands.get_run(str(run.id))
    return RunOutcome(run, created=created, fixes=fixes)


def classify_file(
    commands: ReconciliationCommands, path: Path, options: ReconcileOptions, rules: Rules
) -> tuple[Classification, str, list[str]]:
    """Replay our history (up to options.through), then stream the file through the rules."""
    classifier = Classifier(replay_history(commands.application, options.through), rules)
    with path.open("rb") as stream:
        reader = read_settlement(stream, options.file_format, options.read_options)
        classifier.feed_all(to_lines(reader))
        return classifier.finish(), reader.format.value, list(reader.ignored_columns)


def _resume(
    commands: ReconciliationCommands,
    run: ReconciliationRun,
    path: Path,
    options: ReconcileOptions,
) -> ReconciliationRun:
    """Classify the file again exactly as the interrupted run did (same history position,
    instant and rules), and record what the run lacks."""
    rules = Rules(
        currency=run.currency,
        as_of=run.as_of,
        window_days=run.window_days,
        tolerance_minor=run.tolerance_minor,
        chunk_lines=options.chunk_lines,
    )
    again = replace(options, through=run.through_position, file_format=run.file_format)
    classification, _, _ = classify_file(commands, path, again, rules)
    log.warning("finishing an interrupted reconciliation run", extra={"run_id": str(run.id)})
    return commands.complete_run(run, classification)


def apply_auto_fixes(
    commands: ReconciliationCommands, run: ReconciliationRun, client: ChargeLookups | None
) -> dict[str, str]:
    """Ask the PSP about each pending fix, then fix it or open it (DESIGN §11)."""
    outcomes: dict[str, str] = {}
    for finding in run.pending_auto_fixes():
        assert finding.payment_order_id is not None
        if client is None:
            outcome = commands.settle_auto_fix(str(run.id), finding.finding_id, None)
        else:
            lookup = client.look_up_charge(finding.payment_order_id)
            amount = lookup.amount_minor if lookup.currency == run.currency else None
            outcome = commands.settle_auto_fix(
                str(run.id), finding.finding_id, lookup.answer, amount
            )
        outcomes[finding.finding_id] = outcome
        log.info(
            "reconciliation fix",
            extra={"run_id": str(run.id), "finding": finding.finding_id, "outcome": outcome},
        )
    return outcomes
