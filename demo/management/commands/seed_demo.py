"""Demo users for every role and orders in every state, each moved there by the transition
service. Idempotent: users are created once, orders topped up to N."""

import random
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from demo.seed import demo_order_create
from orders.demo import (
    DEFAULT_PASSWORD,
    DEMO_USERS,
    demo_brand_names,
    demo_brands_ensure,
    demo_users_ensure,
    demo_warehouses_ensure,
)
from orders.models import Order
from orders.states import STALE_WATCHED_STATES, Role, State

# Most demo orders sit where the boards have work to show.
STATE_WEIGHTS = {
    State.SUBMITTED: 3,
    State.PAYMENT_FAILED: 1,
    State.PAID: 8,
    State.RISK_HOLD: 2,
    State.REVIEWED: 5,
    State.ALLOCATED: 6,
    State.PACKED: 5,
    State.SHIPPED: 4,
    State.PICKED_UP: 4,
    State.DELIVERED: 4,
    State.INVOICE_REQUESTED: 2,
    State.RETURN_REQUESTED: 2,
    State.RETURN_APPROVED: 1,
    State.REFUNDED: 1,
    State.ARCHIVED: 2,
    State.CANCELLED: 1,
    State.MERGED: 1,
    State.INTERCEPT_REQUESTED: 1,
    State.INTERCEPTED: 1,
    State.INTERCEPT_FAILED: 1,
}


class Command(BaseCommand):
    help = "Create demo users for each role and N orders across all states and channels (never in production)."

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=80, help="top the hub up to this many orders")
        parser.add_argument("--password", default=None, help=f"demo password (default {DEFAULT_PASSWORD})")
        parser.add_argument("--seed", type=int, default=2026, help="random seed, for repeatable data")

    def handle(self, *args, orders, password, seed, **options):
        if not getattr(settings, "ORDERHUB_DEMO_ALLOWED", False):
            raise CommandError("seed_demo refuses to run under production settings.")
        users = demo_users_ensure(password)
        warehouses = demo_warehouses_ensure()
        shops = demo_brands_ensure(users)
        existing = Order.objects.count()
        missing = max(0, orders - existing)
        rng = random.Random(seed + existing)
        states, weights = list(STATE_WEIGHTS), list(STATE_WEIGHTS.values())
        created = []
        for i in range(missing):
            # Every state appears at least once before the weights take over.
            target = states[i] if i < len(states) else rng.choices(states, weights)[0]
            created.append(demo_order_create(target, users=users, warehouses=warehouses, rng=rng, shops=shops))
        self._some_waiting_since_morning(created, rng)
        self.stdout.write(f"\nDemo data ready ({missing} new orders, {existing + missing} in all).")
        self.stdout.write("Log in at http://127.0.0.1:8000/admin/ with:")
        self.stdout.write(f"  {'user':<7} {'password':<16} role")
        for username, family, given, role in DEMO_USERS:
            label = (role or Role.ADMIN).label
            brands = "、".join(demo_brand_names(username))
            works = f" · {brands}" if brands else ""
            self.stdout.write(f"  {username:<7} {password or DEFAULT_PASSWORD:<16} {label} · {family}{given}{works}")
        self.stdout.write("")

    @staticmethod
    def _some_waiting_since_morning(orders, rng) -> None:
        """The seed moves every order in the same second; a real day does not. Make about one
        waiting order in six look as if it had sat there for hours, so the boards show what
        stale looks like. Only the waiting clock moves (the timeline keeps its real times)."""
        now = timezone.now()
        for order in orders:
            if order.state in STALE_WATCHED_STATES and rng.random() < 0.17:
                Order.objects.filter(pk=order.pk).update(
                    state_changed_at=now - timedelta(minutes=rng.randrange(150, 600))
                )
