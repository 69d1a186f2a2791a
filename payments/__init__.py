"""payments: an event-sourced payment system (one import package; ADR 0008).

The code lives in the top-level folders of the repository (domain/, projections/, psp/,
scheduler/, api/, runtime/, cli/, bench/); this package links them in as its subpackages, so
an installed copy adds exactly one top-level name, `payments`, to site-packages.
"""

# The one place the version is written: pyproject.toml reads it, and so do `payments
# --version` and the OpenAPI document. CHANGELOG.md says what each version brought.
__version__ = "0.12.1"
