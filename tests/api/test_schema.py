"""Schemathesis against the API's own OpenAPI document: generated requests to every operation
(valid and not), as an operations client on a hub with orders in it. No answer may be a 500,
and every answer must be one the document declares, in the shape it declares. Then the real
answers of each operation on real data (an order's detail, an action taken, a page of each
list) are checked against the document the same way."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.services.clients import api_client_create
from orders.states import Role

pytestmark = pytest.mark.django_db

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


def _not_a_server_error(response) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"


CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Schemathesis calls the WSGI application itself, whose end of request closes a database
    connection that is inside a transaction: the test's own, on PostgreSQL. Django's test
    client unhooks that for its requests; so do we, for these."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(users, make_order):
    make_order("paid")
    make_order("shipped")
    _client, token = api_client_create(
        name="schemathesis", role=Role.OPERATIONS, rate_limit_per_minute=100_000, actor=users["tech1"]
    )
    return token


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_answers_as_documented(case, token):
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    _not_a_server_error(response)
    case.validate_response(response, checks=CHECKS)


def test_real_answers_match_the_document(token, make_order):
    order = make_order("paid")
    auth = {"Authorization": f"Bearer {token}"}
    calls = [
        (schema["/api/v1/me"]["GET"].Case(), 200),
        (schema["/api/v1/orders"]["GET"].Case(query={"limit": 2}), 200),
        (schema["/api/v1/orders/{number}"]["GET"].Case(path_parameters={"number": order.number}), 200),
        (
            schema["/api/v1/orders/{number}/actions/{action}"]["POST"].Case(
                path_parameters={"number": order.number, "action": "approve"},
                body={"expected_version": order.version},
            ),
            200,
        ),
        (
            schema["/api/v1/orders/{number}/actions/{action}"]["POST"].Case(
                path_parameters={"number": order.number, "action": "approve"},
                body={"expected_version": order.version},
            ),
            409,
        ),
        (schema["/api/v1/exceptions"]["GET"].Case(), 200),
        (schema["/api/v1/alerts"]["GET"].Case(), 200),
        (schema["/api/v1/returns"]["GET"].Case(), 200),
        (schema["/api/v1/orders"]["GET"].Case(query={"cursor": "x"}), 422),
        (schema["/api/v1/me"]["GET"].Case(), 401),
    ]
    for index, (case, status) in enumerate(calls):
        headers = auth if index < len(calls) - 1 else {"Authorization": "Bearer ohk_wrong_token"}
        response = case.call(headers=headers)
        assert response.status_code == status, (case.path, response.text[:300])
        case.validate_response(response, checks=CHECKS)
