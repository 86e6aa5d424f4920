"""What the rule editor in the admin posts: the rule's fields and its inline action rows."""

from __future__ import annotations

from rules.models import Rule

_ACTION_FIELDS = (
    "kind",
    "priority",
    "user",
    "role",
    "notify_cs_owner",
    "warehouse",
    "alert_kind",
    "alert_severity",
    "message",
    "cooling_off_minutes",
    "carrier",
)


def _value(value):
    if value is None:
        return ""
    if hasattr(value, "pk"):
        return value.pk
    if isinstance(value, bool):
        return "on" if value else ""
    return value


def rule_post_data(rule: Rule | None = None, *, actions: list[dict] | None = None, **fields) -> dict:
    """POST data for the add or change form. `actions`: the action rows ({"kind": …, …}); None
    keeps the rule's current rows. `fields` override the rule's fields."""
    data = {
        "name": "",
        "description": "",
        "trigger": "created",
        "position": 100,
        "amount_min": "",
        "amount_max": "",
        "amount_currency": "",
        "previous_delivered_min": "",
        "is_gift": "",
        "priority": "",
        "time_from": "",
        "time_to": "",
        "weight_min_grams": "",
        "weight_max_grams": "",
    }
    lists = {"channels": [], "brands": [], "shops": [], "warehouses": [], "places": []}
    flags = {"enabled": False, "stop_processing": False}
    rows: list[dict] = []
    if rule is not None:
        for name in data:
            data[name] = _value(getattr(rule, name))
        lists["channels"] = list(rule.channels or [])
        lists["places"] = list(rule.places or [])
        for name in ("brands", "shops", "warehouses"):
            lists[name] = [o.pk for o in getattr(rule, name).all()]
        flags = {"enabled": rule.enabled, "stop_processing": rule.stop_processing}
        rows = [{"id": a.pk, **{f: getattr(a, f) for f in _ACTION_FIELDS}} for a in rule.actions.all()]
    initial = len(rows)
    if actions is not None:
        # Replace the rows: delete the old ones, add the new ones.
        rows = [{**row, "DELETE": True} for row in rows] + list(actions)
    for name, value in fields.items():
        if name in lists:
            lists[name] = [_value(v) for v in value]
        elif name in flags:
            flags[name] = value
        else:
            data[name] = _value(value)
    post = {**data}
    for name, values in lists.items():
        post[name] = values
    for name, value in flags.items():
        if value:
            post[name] = "on"
    post.update(
        {
            "actions-TOTAL_FORMS": len(rows),
            "actions-INITIAL_FORMS": initial,
            "actions-MIN_NUM_FORMS": 0,
            "actions-MAX_NUM_FORMS": 1000,
        }
    )
    for index, row in enumerate(rows):
        prefix = f"actions-{index}-"
        if rule is not None:
            post[prefix + "rule"] = rule.pk
        for name, value in row.items():
            value = _value(value)
            if value != "":
                post[prefix + name] = value
    return post
