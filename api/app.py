"""The Litestar application: routes, problem+json errors, OpenAPI, health, metrics, logs."""

from __future__ import annotations

import platform
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from litestar import Litestar, MediaType, Response, Router, get
from litestar.di import NamedDependency, Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, License, SecurityScheme
from litestar.plugins.prometheus import PrometheusController
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from payments import __version__
from payments.api.auth import (
    BEARER_SCHEME,
    PUBLIC,
    ApiKeyAuthentication,
    RateLimits,
    access,
    caller_of,
    check_declared,
)
from payments.api.console import TEMPLATES, console_router
from payments.api.edge import PaymentsRequest, allow_header_middleware, control_character_middleware
from payments.api.idempotency import once_of
from payments.api.logs import request_logging_middleware
from payments.api.openapi import finish_document
from payments.api.problems import EXCEPTION_HANDLERS, problem, problem_response, problem_specs
from payments.api.reads import freshness_of
from payments.api.request_metrics import request_metrics_middleware
from payments.api.routes.actions import AuditActionsController
from payments.api.routes.audit import AuditController, OrderHistoryController
from payments.api.routes.dead_letters import DeadLettersController
from payments.api.routes.disputes import DisputesController
from payments.api.routes.events import EventsController
from payments.api.routes.keys import KeysController, state_seller_key_rule
from payments.api.routes.ledger import LedgerController
from payments.api.routes.payments import EXAMPLES, PaymentsController
from payments.api.routes.payouts import PayoutsController
from payments.api.routes.privacy import PrivacyController
from payments.api.routes.reconciliations import ReconciliationsController
from payments.api.routes.refunds import RefundsController
from payments.api.routes.risk import RiskController
from payments.api.routes.scheduler import SchedulerController
from payments.api.routes.sellers import SellersController
from payments.api.routes.wallets import WalletsController
from payments.api.routes.webhook_deliveries import WebhookDeliveriesController
from payments.api.routes.webhook_endpoints import WebhookEndpointsController
from payments.api.routes.webhooks import WebhooksController
from payments.api.schemas import HealthResponse
from payments.api.security_headers import security_headers_middleware
from payments.domain.api_key import Role
from payments.projections.catalog import projection_states
from payments.projections.dispute_metrics import DisputeMetrics
from payments.projections.followers.risk_feed import RiskFeed
from payments.projections.metrics import ProjectionMetrics, exposed_registry
from payments.projections.risk_metrics import RiskMetrics
from payments.projections.seller_metrics import SellerMetrics
from payments.projections.views.disputes import DisputesView
from payments.projections.views.sellers import SellersView
from payments.projections.webhook_metrics import WebhookMetrics
from payments.psp.reconcile.balance import BalanceChecks
from payments.psp.reconcile.metrics import ReconciliationMetrics
from payments.runtime.database import ping
from payments.runtime.scheduling import scheduler_metrics
from payments.runtime.services import Services


@get(
    "/health",
    operation_id="getHealth",
    summary="Liveness, database check, and the mode this deployment runs in",
    sync_to_thread=True,
    tags=["operations"],
    responses=problem_specs(503, authenticated=False),
    **PUBLIC,
)
def health(services: NamedDependency[Services]) -> Response[HealthResponse] | Response[bytes]:
    try:
        ping(services.pool)
    except Exception:
        down = problem(503, "unavailable", "Database unavailable", "The database did not answer.")
        return problem_response(down)
    return Response(
        HealthResponse(status="ok", database="ok", mode=services.settings.mode),
        media_type=MediaType.JSON,
    )


def _schema_not_found_as_problem(response: Response[object]) -> Response[object]:
    """Litestar answers unknown /schema/... paths with an HTML page: a problem, like all 404s."""
    if response.status_code != 404:
        return response
    detail = "No such document: see /schema/openapi.json (or /schema for the docs)."
    return problem_response(problem(404, "not-found", "Not found", detail))  # type: ignore[return-value]


class BuildInfo(Collector):
    """`payments_build_info`, always 1: which version runs, on which Python, in which mode."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def collect(self) -> Iterator[Metric]:
        labels = ["version", "python", "mode"]
        family = GaugeMetricFamily("payments_build_info", "The version running.", labels=labels)
        family.add_metric([__version__, platform.python_version(), self.mode], 1)
        yield family


def metrics_controller(public: bool, derived: Sequence[Collector]) -> type[PrometheusController]:
    """/metrics: for operators' keys, or open when PAYMENTS_METRICS_PUBLIC says so; with the
    process's own metrics, the app's `derived` from the database at each scrape."""
    declared = PUBLIC if public else access(Role.OPERATOR, Role.FINANCE)

    class MetricsController(PrometheusController):
        path = "/metrics"
        include_in_schema = False
        middleware = declared.get("middleware")
        opt = declared["opt"]

        @get()
        async def get(self) -> Response[bytes]:
            # Litestar's own handler, but with every API process's metrics (ADR 0020).
            latest = generate_latest(exposed_registry(derived))
            return Response(latest, status_code=200, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return MetricsController


def create_app(services: Services, *, tls: bool = False) -> Litestar:
    """The app; `tls`: served over HTTPS by us (the console's cookies are then Secure, as
    they are in production mode or behind a TLS-terminating proxy)."""
    settings = services.settings
    derived_metrics = (
        BuildInfo(settings.mode),
        ProjectionMetrics(lambda: projection_states(services.application, services.pool)),
        ReconciliationMetrics(
            lambda: services.reconciler.days_behind(datetime.now(UTC).date()),
            lambda: BalanceChecks(services.pool).latest_differences(),
        ),
        RiskMetrics(lambda: RiskFeed(services.pool, services.application).decisions()),
        SellerMetrics(lambda: SellersView(services.pool).counts()),
        DisputeMetrics(lambda: DisputesView(services.pool).awaiting_evidence()),
        scheduler_metrics(services),
        WebhookMetrics(lambda: services.webhooks.deliveries.backlog()),
    )
    schema_access = PUBLIC if settings.schema_public else access(*Role)
    limits = RateLimits(
        settings.rate_limit_per_key, settings.rate_limit_failed_auth, settings.api_processes
    )
    # The console (/console) signs in with a session cookie of its own instead of a bearer key.
    authentication = DefineMiddleware(
        ApiKeyAuthentication, keys=services.key_ring, limits=limits, exclude=["^/console"]
    )
    secure_cookies = tls or settings.mode == "production" or settings.trust_proxy
    app = Litestar(
        route_handlers=[
            PaymentsController,
            RiskController,
            DisputesController,
            PayoutsController,
            SellersController,
            RefundsController,
            OrderHistoryController,
            AuditController,
            WebhooksController,
            WebhookEndpointsController,
            WebhookDeliveriesController,
            EventsController,
            DeadLettersController,
            SchedulerController,
            ReconciliationsController,
            LedgerController,
            WalletsController,
            PrivacyController,
            KeysController,
            AuditActionsController,
            health,
            metrics_controller(settings.metrics_public, derived_metrics),
            console_router(services, limits, secure=secure_cookies),
        ],
        template_config=TEMPLATES,
        dependencies={
            "services": Provide(lambda: services, use_cache=True, sync_to_thread=False),
            "caller": Provide(caller_of, sync_to_thread=False),
            "once": Provide(once_of, sync_to_thread=False),
            "fresh": Provide(freshness_of, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[
            request_logging_middleware,
            security_headers_middleware,
            request_metrics_middleware,
            control_character_middleware,
            allow_header_middleware,
            authentication,
        ],
        request_class=PaymentsRequest,
        openapi_config=OpenAPIConfig(
            title="payments",
            version=__version__,
            license=License(name="Apache-2.0", identifier="Apache-2.0"),
            description="Event-sourced payments: checkouts, orders, ledger, wallets.",
            path="/schema",
            components=Components(
                security_schemes={
                    BEARER_SCHEME: SecurityScheme(
                        type="http",
                        scheme="bearer",
                        bearer_format="pk_test_<id>_<secret> (pk_live_ in production)",
                        description="An API key from `payments keys create` (docs/security.md)",
                    )
                }
            ),
            openapi_router=Router(
                "/schema",
                route_handlers=[],
                include_in_schema=False,
                after_request=_schema_not_found_as_problem,
                middleware=schema_access.get("middleware"),
                opt=schema_access["opt"],
            ),
        ),
        logging_config=None,
    )
    check_declared(h for r in app.routes for h in getattr(r, "route_handlers", ()) if not _auto(h))
    rules = {"CreateKeyRequest": state_seller_key_rule}
    finish_document(app, services.settings.currency, EXAMPLES, rules)
    return app


def _auto(handler: object) -> bool:
    """Litestar's own OPTIONS handlers: no key needed (CORS preflights), nothing to declare."""
    return getattr(handler, "handler_name", "") == "options_handler"
