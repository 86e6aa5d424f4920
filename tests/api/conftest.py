"""API clients of each role, brands Alpha and Beta with orders of each, and a caller that
sends the token as an integration would."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.test import Client

from api.services.clients import api_client_create
from orders.states import HUMAN_ROLES, Role
from tests.factories import BrandFactory, ShopFactory


@dataclass
class Caller:
    """Django's test client with a bearer token: .get("/api/v1/orders", limit=5)."""

    token: str
    client: Client

    def _headers(self) -> dict:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str, **params):
        return self.client.get(path, params, **self._headers())

    def post(self, path: str, body: dict | None = None):
        return self.client.post(path, json.dumps(body or {}), content_type="application/json", **self._headers())


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # The embedded mode counts in the cache: one test's calls must not count in the next.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def brands(db):
    alpha = BrandFactory(code="alpha", name="Alpha")
    beta = BrandFactory(code="beta", name="Beta")
    return {
        "alpha": ShopFactory(brand=alpha, external_shop_id="alpha.myshopify.com"),
        "beta": ShopFactory(brand=beta, external_shop_id="beta.myshopify.com"),
    }


@pytest.fixture
def make_caller(users):
    def make(role: str = Role.OPERATIONS, *, brands=(), name: str | None = None, rate_limit: int = 600):
        client, token = api_client_create(
            name=name or f"{role} integration",
            role=role,
            brands=list(brands),
            rate_limit_per_minute=rate_limit,
            actor=users["tech1"],
        )
        caller = Caller(token=token, client=Client())
        caller.api_client = client  # type: ignore[attr-defined]
        return caller

    return make


@pytest.fixture
def callers(make_caller, brands):
    """One client per role; the customer-service one works brand Alpha."""
    return {
        role.value: make_caller(role.value, brands=[brands["alpha"].brand] if role == Role.CUSTOMER_SERVICE else [])
        for role in HUMAN_ROLES
    }
