"""The Litestar application: routes, problem+json errors, OpenAPI, health, metrics, logs."""

from __future__ import annotations

from litestar import Litestar, MediaType, Response, get
from litestar.di import NamedDependency, Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from payments.api.logs import request_logging_middleware
from payments.api.problems import EXCEPTION_HANDLERS, Problem, problem_response
from payments.api.routes.audit import AuditController, OrderHistoryController
from payments.api.routes.dead_letters import DeadLettersController
from payments.api.routes.ledger import LedgerController
from payments.api.routes.payments import PaymentsController
from payments.api.routes.payouts import PayoutsController
from payments.api.routes.privacy import PrivacyController
from payments.api.routes.reconciliations import ReconciliationsController
from payments.api.routes.wallets import WalletsController
from payments.api.routes.webhooks import WebhooksController
from payments.api.schemas import HealthResponse
from payments.projections.catalog import projection_states
from payments.projections.metrics import expose_projection_metrics
from payments.runtime.database import ping
from payments.runtime.services import Services

VERSION = "0.1.0"


@get("/health", summary="Liveness and database check", sync_to_thread=True, tags=["operations"])
def health(services: NamedDependency[Services]) -> Response[HealthResponse] | Response[bytes]:
    try:
        ping(services.pool)
    except Exception:
        return problem_response(
            Problem(
                type="https://payments.dev/problems/unavailable",
                title="Database unavailable",
                status=503,
                detail="The database did not answer.",
            )
        )
    return Response(HealthResponse(status="ok", database="ok"), media_type=MediaType.JSON)


class MetricsController(PrometheusController):
    path = "/metrics"
    include_in_schema = False


def create_app(services: Services) -> Litestar:
    prometheus = PrometheusConfig(app_name="payments", prefix="payments", group_path=True)
    expose_projection_metrics(lambda: projection_states(services.application, services.pool))
    return Litestar(
        route_handlers=[
            PaymentsController,
            PayoutsController,
            OrderHistoryController,
            AuditController,
            WebhooksController,
            DeadLettersController,
            ReconciliationsController,
            LedgerController,
            WalletsController,
            PrivacyController,
            health,
            MetricsController,
        ],
        dependencies={"services": Provide(lambda: services, use_cache=True, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[request_logging_middleware, prometheus.middleware],
        openapi_config=OpenAPIConfig(
            title="payments",
            version=VERSION,
            description="Event-sourced payments: checkouts, orders, ledger, wallets.",
            path="/schema",
            components=Components(),
        ),
        logging_config=None,
    )
