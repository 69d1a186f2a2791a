"""Reconciliation rules, pure (DESIGN §8): settlement lines and our expected facts in, findings out.

- lines.py: what the classifier knows of one settlement line (any provider), and its identity;
- findings.py: the classes of findings and their states;
- expected.py: our side (orders, payouts, what earlier runs settled or await), replayed elsewhere;
- classifier.py: the streaming classifier, one line at a time; timing.py: what did not arrive;
- memory.py: the settled lines of a chunk, packed for the run's events (and the ledger);
- resolutions.py: what resolving an exception posts.

No I/O and no clock: the caller passes `as_of`.
"""
