"""A card PSP sandbox: a real HTTP server with tokens, charges, payouts, webhooks and faults.

Start it with `python -m payments.psp.sandbox --port N --db PATH`; build it in-process with
`create_sandbox_app(SandboxConfig(...))`.
"""

from payments.psp.sandbox.app import create_sandbox_app
from payments.psp.sandbox.config import SandboxConfig
from payments.psp.sandbox.server import run_sandbox

__all__ = ["SandboxConfig", "create_sandbox_app", "run_sandbox"]
