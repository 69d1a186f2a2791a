"""The long-lived objects one API process shares: settings, event store, pool, stores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

from psycopg_pool import ConnectionPool

from payments.domain.api_key import Role
from payments.domain.api_key_commands import ApiKeyCommands
from payments.domain.application import PaymentsApplication
from payments.domain.dispute_commands import DisputeCommands
from payments.domain.erasure_commands import ErasureCommands
from payments.domain.ids import payment_order_uuid
from payments.domain.order_commands import OrderCommands
from payments.domain.payout_commands import PayoutCommands
from payments.domain.reconciliation_commands import ReconciliationCommands
from payments.domain.refund_commands import RefundCommands
from payments.domain.risk_commands import RiskCommands
from payments.domain.seller_commands import SellerCommands
from payments.projections import catalog as projections_catalog
from payments.projections.audit import seal, seal_checks, verifications
from payments.projections.event_store import PaymentsRecorder, load_aggregates
from payments.projections.followers import execution_queue
from payments.projections.followers.execution_feed import ExecutionFeed
from payments.projections.followers.follower import Follower
from payments.projections.followers.release_feed import ReleaseFeed
from payments.projections.followers.risk_feed import RiskFeed
from payments.projections.followers.wallet_feed import WalletFeed
from payments.projections.source import ApplicationEventSource
from payments.projections.views.access import ApiKeysView, KeyRow
from payments.projections.views.wallets_pg import PostgresWallets
from payments.psp.client import HttpPspClient
from payments.psp.reconcile import balance as balance_checks
from payments.psp.reconcile import days as reconciliation_days
from payments.psp.reconcile.runs import Reconciler
from payments.runtime import idempotency, personal_data
from payments.runtime.config import Settings
from payments.runtime.database import apply_schema, eventsourcing_env, open_pool, sessions_in_utc
from payments.runtime.keys import KeyRing, NewKey, new_key
from payments.runtime.seller_cache import SellerCache
from payments.runtime.webhooks import Webhooks
from payments.scheduler import runner as scheduler_jobs

RELEASE_PAGE = 1000  # orders released together by the funds-release job
AFTER_DAYS = "after_days"

# Every table of ours; each statement is idempotent. Later components append theirs.
SCHEMA: list[str] = [
    *idempotency.SCHEMA,
    *personal_data.SCHEMA,
    *projections_catalog.SCHEMA,
    *seal.SCHEMA,
    *seal_checks.SCHEMA,
    *scheduler_jobs.SCHEMA,
    *verifications.SCHEMA,
    *reconciliation_days.SCHEMA,
    *balance_checks.SCHEMA,
]


@dataclass
class Services:
    settings: Settings
    database_url: str
    application: PaymentsApplication
    pool: ConnectionPool
    idempotency: idempotency.IdempotencyStore
    orders: OrderCommands
    queue: execution_queue.ExecutionQueue
    personal_data: personal_data.PersonalDataKeys
    psp_url: str | None = None

    @cached_property
    def payouts(self) -> PayoutCommands:
        return PayoutCommands(self.application, self.sellers)

    @cached_property
    def sellers(self) -> SellerCommands:
        commands = SellerCommands(self.application, self.settings.sellers)
        commands.charge_reads = SellerCache(commands.find, self.settings.seller_cache_s)
        return commands

    @cached_property
    def disputes(self) -> DisputeCommands:
        return DisputeCommands(self.application, self.application.policy.refund_commission)

    @cached_property
    def refunds(self) -> RefundCommands:
        return RefundCommands(self.application)

    @cached_property
    def key_commands(self) -> ApiKeyCommands:
        return ApiKeyCommands(self.application)

    @cached_property
    def key_ring(self) -> KeyRing:
        return KeyRing(self.key_commands, live=self.settings.mode == "production")

    def issue_key(
        self, role: Role, seller_account: str | None, name: str, by: str
    ) -> tuple[NewKey, int | None]:
        """A new key of this deployment's mode (pk_live_ in production, else pk_test_)."""
        key = new_key(live=self.settings.mode == "production")
        position = self.key_commands.issue(
            key.key_id, key.secret_hash, role, seller_account, name, by
        )
        return key, position

    def rotate_key(self, key_id: str, grace: timedelta, by: str) -> tuple[NewKey, Role]:
        key = new_key(live=self.settings.mode == "production")
        issued, _ = self.key_commands.rotate(
            key_id, key.key_id, key.secret_hash, grace, datetime.now(UTC), by
        )
        self.key_ring.forget(key_id)
        return key, issued.role

    def key_list(self) -> list[KeyRow]:
        """Every key, from the api_keys view caught up with the log first."""
        view = ApiKeysView(self.pool)
        Follower(view, ApplicationEventSource(self.application)).run_until_idle()
        return view.keys()

    @cached_property
    def wallet_feed(self) -> Follower:
        """Credits SellerWallets from the log; run it to catch up before paying out."""
        return Follower(
            WalletFeed(self.pool, self.application), ApplicationEventSource(self.application)
        )

    @cached_property
    def release_feed(self) -> Follower:
        """Releases the pending funds of captures the PSP settled (ADR 0014); idle when the
        deployment releases by age (PAYMENTS_AVAILABLE_AFTER_DAYS) instead."""
        view = ReleaseFeed(
            self.pool,
            self.application,
            enabled=self.settings.available_after_days is None,
        )
        return Follower(view, ApplicationEventSource(self.application))

    def money_followers(self) -> list[Follower]:
        """What keeps money payable in step with the log, in the order to run them: funds
        released first, then the wallets that pay out of them."""
        return [self.release_feed, self.wallet_feed]

    def release_due_funds(self, now: datetime) -> int:
        """With PAYMENTS_AVAILABLE_AFTER_DAYS, release every capture at least that old
        (ADR 0014); how many orders were released. Nothing to do in settlement mode."""
        days = self.settings.available_after_days
        if days is None:
            return 0
        view = PostgresWallets(self.pool)
        Follower(view, ApplicationEventSource(self.application)).run_until_idle()
        released, after = 0, ""
        while due := view.unreleased_before(now - timedelta(days=days), RELEASE_PAGE, after):
            loaded = load_aggregates(
                self.application, self.pool, [payment_order_uuid(i) for i in due]
            )
            held = {o.payment_order_id: o for o in loaded.values() if o.awaits_release}
            released += len(self.orders.release_funds(held, AFTER_DAYS))
            after = due[-1]
        return released

    def catch_up_wallets(self, now: datetime | None = None) -> None:
        """Before paying out: release what is due, then credit what the log says."""
        self.release_due_funds(now or datetime.now(UTC))
        for follower in self.money_followers():
            follower.run_until_idle()

    @cached_property
    def risk(self) -> RiskCommands:
        """Checkouts placed through the risk rules, reviews (issue #17); a buyer's counter is
        named by a keyed hash of the buyer id, never the id itself."""
        keys = self.personal_data
        return RiskCommands(
            self.application,
            lambda buyer_id: keys.keyed_hash(b"risk-buyer\x00" + buyer_id.encode()),
        )

    @cached_property
    def risk_feed(self) -> Follower:
        """The review queue and the decision counts (the executor's loop runs it too)."""
        view = RiskFeed(self.pool, self.application)
        return Follower(view, ApplicationEventSource(self.application))

    def execution_feed(self, first_requery_delay: timedelta) -> Follower:
        """Keeps the execution queue in step with the log (the executor's loop runs it)."""
        view = ExecutionFeed(self.pool, self.application, first_requery_delay=first_requery_delay)
        return Follower(view, ApplicationEventSource(self.application))

    @cached_property
    def webhooks(self) -> Webhooks:
        """Webhook endpoints of merchants, their deliveries and sender (ADR 0027)."""
        return Webhooks(self.settings, self.application, self.pool)

    @cached_property
    def erasures(self) -> ErasureCommands:
        return ErasureCommands(self.application)

    @cached_property
    def verifications(self) -> verifications.VerificationRunner:
        """The runner of verifications requested over HTTP and in the console."""
        return verifications.VerificationRunner(
            self.database_url,
            verifications.VerificationStore(self.pool),
            lambda: ApplicationEventSource(self.application),
        )

    @cached_property
    def reconciliations(self) -> ReconciliationCommands:
        return ReconciliationCommands(self.application)

    @cached_property
    def psp_client(self) -> HttpPspClient | None:
        """A client for the PSP's files and look-ups (the executor keeps a pool of its own)."""
        if not self.psp_url:
            return None
        return HttpPspClient(
            self.psp_url,
            timeout_s=self.settings.executor.psp_timeout_s,
            max_connections=32,  # opened as needed: the API's threads confirm webhooks with it
            api_key=self.settings.psp_api_key,
        )

    @cached_property
    def reconciler(self) -> Reconciler:
        settings = self.settings
        return Reconciler(
            self.reconciliations,
            currency=settings.currency,
            window_days=settings.reconciliation_window_days,
            client=self.psp_client,
            tolerance_minor=settings.reconciliation_tolerance_minor,
            days=reconciliation_days.DayBook(self.pool),
            backfill_days=settings.reconciliation_backfill_days,
        )

    def check_psp_balance(self) -> balance_checks.BalanceCheck:
        """The PSP's balance against our ledger, caught up with the log first (a live check:
        nothing recorded; the psp-balance-check job records its own)."""
        from payments.projections.views.ledger_pg import PostgresLedger

        if self.psp_client is None:
            raise balance_checks.NoPspConfigured("no PSP configured: set PAYMENTS_PSP_URL")
        ledger = PostgresLedger(self.pool)
        Follower(ledger, ApplicationEventSource(self.application)).run_until_idle()

        def balance_minor(account: str) -> int:
            found = ledger.balance(account)
            return 0 if found is None else found.balance_minor

        return balance_checks.check_balance(self.psp_client, balance_minor, self.reconciler)

    def close(self) -> None:
        if "verifications" in self.__dict__:
            self.verifications.stop(timeout=10)  # a run under way may end its view
        if "psp_client" in self.__dict__ and self.psp_client is not None:
            self.psp_client.close()
        self.pool.close()
        self.application.close()


def build_services(settings: Settings, database_url: str) -> Services:
    """Connect to the database, create our tables if needed, open the event store."""
    sessions_in_utc()
    pool = open_pool(database_url, size=settings.db_pool_size)
    apply_schema(pool, SCHEMA)
    keys = personal_data.PersonalDataKeys(pool, settings.privacy_key_cache_s)
    application = PaymentsApplication(
        settings.checkout_policy,
        env=eventsourcing_env(database_url, pool_size=settings.db_pool_size),
        sealer=keys,
        group_commit=settings.group_commit_max,
    )
    if not isinstance(application.recorder, PaymentsRecorder):
        # Only ours writes a checkout's new key with its events (ADR 0012); another would
        # store checkouts sealed under keys that never exist.
        application.close()
        pool.close()
        raise RuntimeError(f"the event store's recorder is {type(application.recorder)!r}")
    store = idempotency.IdempotencyStore(pool, timedelta(hours=settings.idempotency_ttl_hours))
    return Services(
        settings=settings,
        database_url=database_url,
        application=application,
        pool=pool,
        idempotency=store,
        orders=OrderCommands(application),
        queue=execution_queue.ExecutionQueue(pool),
        personal_data=keys,
        psp_url=settings.psp_url,
    )
