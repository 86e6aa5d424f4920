import pytest


@pytest.mark.django_db
def test_make_order_reaches_every_state(make_order):
    from orders.states import State

    for state in State:
        order = make_order(state)
        assert order.state == state
