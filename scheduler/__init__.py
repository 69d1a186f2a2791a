"""Background jobs (APScheduler 3.x): each idempotent, named, run once per tick across processes."""
