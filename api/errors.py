"""Every refusal of the API as `{"error": {"code", "message", …}}` with its HTTP status. The
order services' refusals (orders/exceptions.py) map to statuses here, in one place:

    401 unauthorized        no token, an unknown one, or a revoked one
    403 forbidden           the client's role may not read this, or not take this action
    404 not_found           no such order (or one of a brand the client does not see)
    409 stale_version       the order changed since the version you sent: who, when, versions
    409 illegal_transition  the action is not possible from the order's state
    409 conflict            another conflict (a tracking number already recorded, …)
    422 invalid_request     a parameter or body field is malformed (details: which)
    422 invalid_action_data the action's data is missing or not acceptable
    429 rate_limited        over the client's requests per minute; Retry-After says when
    503 database_unavailable  nothing was saved (or, with maybe_saved, reload to check)
"""

from __future__ import annotations

from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from orders.exceptions import (
    ActionNotPermitted,
    ConflictError,
    DatabaseUnavailable,
    IllegalTransition,
    InvalidActionData,
    OrderError,
    OrderNotFound,
    StaleOrderError,
    UnknownAction,
)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message, *, headers: dict | None = None, **extra):
        super().__init__(str(message))
        self.status = status
        self.code = code
        self.message = str(message)
        self.headers = headers or {}
        self.extra = extra


class BadRequest(ApiError):
    def __init__(self, code: str, message):
        super().__init__(422, code, message)


class NotFound(ApiError):
    def __init__(self, message):
        super().__init__(404, "not_found", message)


class Forbidden(ApiError):
    def __init__(self, what):
        super().__init__(403, "forbidden", _("This client's role may not read %(what)s.") % {"what": what})


class RateLimited(ApiError):
    def __init__(self, *, retry_after: int, limit: int):
        super().__init__(
            429,
            "rate_limited",
            _("Over this client's limit of %(limit)d requests a minute: try again in %(seconds)d s.")
            % {"limit": limit, "seconds": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


def from_order_error(exc: OrderError) -> ApiError:
    """The API's answer to a refusal of the order services."""
    if isinstance(exc, StaleOrderError):
        return ApiError(
            409,
            "stale_version",
            exc.message,
            changed_by=exc.changed_by,
            changed_at=exc.changed_at,
            expected_version=exc.expected_version,
            current_version=exc.actual_version,
        )
    if isinstance(exc, IllegalTransition):
        return ApiError(409, "illegal_transition", exc.message)
    if isinstance(exc, ConflictError):
        return ApiError(409, "conflict", exc.message)
    if isinstance(exc, ActionNotPermitted):
        return ApiError(403, "forbidden", exc.message)
    if isinstance(exc, OrderNotFound):
        return ApiError(404, "not_found", exc.message)
    if isinstance(exc, UnknownAction | InvalidActionData):
        return ApiError(422, "invalid_action_data", exc.message)
    if isinstance(exc, DatabaseUnavailable):
        return ApiError(503, "database_unavailable", exc.message, headers={"Retry-After": "5"})
    if type(exc).__name__.endswith("NotFound"):
        return ApiError(404, "not_found", exc.message)
    # Any other refusal of a service (an exception cleared already, …): the request was
    # understood but cannot be done in the order's present state.
    return ApiError(409, "conflict", exc.message)


def _answer(api: NinjaAPI, request: HttpRequest, status: int, error: dict, headers: dict | None = None):
    response = api.create_response(request, {"error": error}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def install(api: NinjaAPI) -> None:
    @api.exception_handler(ApiError)
    def api_error(request, exc: ApiError):
        body = {"code": exc.code, "message": exc.message, **exc.extra}
        return _answer(api, request, exc.status, body, exc.headers)

    @api.exception_handler(AuthenticationError)
    def unauthorized(request, exc):
        body = {
            "code": "unauthorized",
            "message": _("Send a valid API token: “Authorization: Bearer ohk_…”. It may have been revoked."),
        }
        return _answer(api, request, 401, body, {"WWW-Authenticate": 'Bearer realm="orderhub"'})

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        # ninja's own refusals: a body that is not JSON (400) is an invalid request like any other.
        status = 422 if exc.status_code == 400 else exc.status_code
        code = "invalid_request" if status == 422 else "error"
        body = {"code": code, "message": _("The request is not valid: %(what)s.") % {"what": exc.message}}
        return _answer(api, request, status, body)

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return _answer(api, request, 404, {"code": "not_found", "message": _("There is no such resource.")})

    @api.exception_handler(NinjaValidationError)
    def invalid(request, exc: NinjaValidationError):
        details = [
            {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", ""))}
            for error in exc.errors
        ]
        where = ", ".join(".".join(d["loc"]) for d in details) or "request"
        body = {
            "code": "invalid_request",
            "message": _("The request is not valid: %(where)s.") % {"where": where},
            "details": details,
        }
        return _answer(api, request, 422, body)
