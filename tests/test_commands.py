from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from orders.roles import role_matrix_markdown, role_permissions
from orders.states import HUMAN_ROLES


@pytest.mark.django_db
def test_setup_roles_is_idempotent_and_matches_the_matrix():
    # The test database has the groups already (tests/conftest.py): start from none.
    Group.objects.all().delete()
    out = io.StringIO()
    call_command("setup_roles", stdout=out)
    assert out.getvalue().count("created group") == len(HUMAN_ROLES)
    group = Group.objects.get(name="warehouse")
    group.permissions.clear()
    call_command("setup_roles", stdout=io.StringIO())
    assert Group.objects.filter(name__in=[r.value for r in HUMAN_ROLES]).count() == len(HUMAN_ROLES)
    for role in HUMAN_ROLES:
        perms = Group.objects.get(name=role.value).permissions.select_related("content_type")
        assert sorted(f"{p.content_type.app_label}.{p.codename}" for p in perms) == role_permissions(role)


def test_roles_page_shows_the_generated_role_matrix():
    from django.utils import translation

    # The matrix lives in docs/roles.md (the README links it); tests/test_docs.py holds the whole page to its generator.
    roles_page = (Path(__file__).resolve().parent.parent / "docs" / "roles.md").read_text(encoding="utf-8")
    with translation.override("en"):
        assert role_matrix_markdown() in roles_page, (
            "docs/roles.md is stale: run `python manage.py docs_roles --write docs/roles.md`"
        )


@pytest.mark.django_db
def test_seed_demo_creates_every_state_and_is_idempotent(roles):
    from orders.models import Order
    from orders.states import State

    out = io.StringIO()
    call_command("seed_demo", "--orders", "20", stdout=out)
    assert "cs1" in out.getvalue() and "orderhub-demo" in out.getvalue()
    assert set(Order.objects.values_list("state", flat=True)) == set(State.values)
    call_command("seed_demo", "--orders", "20", stdout=io.StringIO())
    assert Order.objects.count() == 20
    assert all(order.events.exists() for order in Order.objects.all())


@pytest.mark.django_db
def test_seed_demo_refuses_production(roles, settings):
    settings.ORDERHUB_DEMO_ALLOWED = False
    with pytest.raises(CommandError, match="production"):
        call_command("seed_demo", stdout=io.StringIO())


def test_production_settings_need_a_secret_key(monkeypatch):
    import importlib

    import environ

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("ALLOWED_HOSTS", "orderhub.example.com")
    with pytest.raises(environ.ImproperlyConfigured):
        importlib.reload(importlib.import_module("config.settings.prod"))
