"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh PAYMENTS_DATA_DIR that the embedded server's user can reach (we run as root)."""
    base = tmp_path_factory.mktemp("e2e")
    for path in [base, *base.parents]:
        if path == Path("/") or os.geteuid() != 0:  # as anyone else, postgres runs as oneself
            break
        os.chmod(path, os.stat(path).st_mode | 0o055)  # the pgserver user must traverse it (root)
    return base / "data"
