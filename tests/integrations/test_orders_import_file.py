"""The import service (integrations/services/imports.py) without the command: all rows or
none, refusals as OrdersImportRefused with every row's problem, re-importing changes nothing."""

from __future__ import annotations

import pytest

from integrations.services.imports import OrdersImportRefused, orders_import_check, orders_import_file
from orders.models import Order

pytestmark = pytest.mark.django_db

CSV = "external_id,amount,paid\nS-1,10.00,yes\nS-2,20.00,no\n"


def _file(tmp_path, text=CSV):
    path = tmp_path / "orders.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_is_imported_once(tmp_path):
    path = _file(tmp_path)
    result = orders_import_file(path=path, channel="manual")
    assert (result.created, result.updated, result.unchanged) == (2, 0, 0)
    assert dict(Order.objects.values_list("external_id", "state")) == {"S-1": "paid", "S-2": "submitted"}
    again = orders_import_file(path=path, channel="manual")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


def test_the_check_says_what_the_import_would_do_and_writes_nothing(tmp_path, make_order):
    make_order("submitted", channel="manual", external_id="S-1")
    check = orders_import_check(path=_file(tmp_path), channel="manual")
    assert (check.new, check.updates, check.unchanged) == (1, [["pay"]], 0)
    assert not Order.objects.filter(external_id="S-2").exists()


def test_a_bad_row_refuses_the_whole_file(tmp_path):
    with pytest.raises(OrdersImportRefused) as refused:
        orders_import_file(path=_file(tmp_path, CSV + "S-3,lots,no\n"), channel="manual")
    assert [e.row for e in refused.value.errors] == [4]
    assert "Nothing was imported" in refused.value.message
    assert not Order.objects.exists()


def test_an_unknown_shop_is_refused_before_the_file_is_read(tmp_path):
    with pytest.raises(OrdersImportRefused, match="there is no shop 'nope'"):
        orders_import_check(path=tmp_path / "missing.csv", channel=None, shop_code="nope")
