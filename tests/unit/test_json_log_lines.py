"""Log lines: one JSON object each, their time in UTC to the millisecond, extras as keys."""

from __future__ import annotations

import ast
import json
import logging

from payments.runtime.logs import JsonLinesFormatter, configure_logging


def _record(created: float, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "payments.test", logging.INFO, __file__, 1, "hello %s", ("you",), None
    )
    record.created, record.msecs = created, (created - int(created)) * 1000
    record.__dict__.update(extra)
    return record


def test_each_line_has_its_own_second_and_millisecond_even_when_the_second_changes() -> None:
    formatter = JsonLinesFormatter()
    times = [1_796_000_000.125, 1_796_000_000.75, 1_796_000_001.5, 1_796_000_000.25]
    lines = [json.loads(formatter.format(_record(t, order_id="po_1"))) for t in times]
    assert [line["ts"] for line in lines] == [
        "2026-11-30T00:53:20.125Z",
        "2026-11-30T00:53:20.750Z",
        "2026-11-30T00:53:21.500Z",
        "2026-11-30T00:53:20.250Z",
    ]
    assert lines[0] == {
        "ts": "2026-11-30T00:53:20.125Z",
        "level": "info",
        "logger": "payments.test",
        "msg": "hello you",
        "order_id": "po_1",
    }


def test_records_skip_the_caller_thread_and_process_lookups_the_lines_never_show() -> None:
    configure_logging("INFO")
    record = logging.getLogger("payments.test").makeRecord(
        "payments.test", logging.INFO, "(unknown file)", 0, "m", (), None
    )
    assert (record.thread, record.threadName, record.process, record.processName) == (
        None,
        None,
        None,
        None,
    )


def test_no_log_call_gives_an_extra_that_a_log_record_already_has() -> None:
    """`extra={"created": ...}` raises KeyError in logging.makeRecord, but only when the
    level lets the line through: the nightly payout run failed so at INFO (a dict spread
    into `extra` hid the key), while the tests' quieter loggers let it pass. Every `extra`
    is a literal dict whose keys are none of a LogRecord's own."""
    from tests.unit.test_architecture import ALLOWED, ROOT

    record = logging.LogRecord("n", logging.INFO, "p", 1, "m", None, None)
    reserved = set(record.__dict__) | {"message", "asctime"}
    offenders = []
    for folder in ALLOWED:
        for path in (ROOT / folder).rglob("*.py"):
            calls = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)]
            for call in calls:
                extras = [k.value for k in call.keywords if k.arg == "extra"]
                for extra in (e for e in extras if isinstance(e, ast.Dict)):
                    for key in extra.keys:
                        name = key.value if isinstance(key, ast.Constant) else "**spread"
                        if name in reserved or name == "**spread":
                            offenders.append(f"{path.relative_to(ROOT)}:{call.lineno} {name}")
    assert offenders == []
