"""One rule engine: every reaction rule (alerts.ReactionRule, the outbox's old subscription table)
becomes an operations rule with no condition and one action, so operations edit one kind of
rule in one place. Nothing is lost:

- a "notify" reaction rule → a rule with a "notify" action naming the same people (the CS
  owner, the role, the named users), chat robots and email choice;
- any other reaction → a rule with a "reaction" action of that kind and its parameters;
- the glue rows of kind "rules_run" (one per trigger an operations rule listened to) go: the
  engine asks for that reaction itself now;
- outbox messages keep pointing at their rule: their rule id is rewritten to the new rule's,
  and a notify message still waiting for delivery gets its recipients in its parameters (the
  notify reaction reads them there now).

Names stay as they were; one that an operations rule already has gets the old row's id added.
The rules keep their enabled flag and their trigger (the reaction rule's event type).
"""

from django.db import migrations
from django.db.models import Case, IntegerField, Value, When

BUILTIN_POSITION = 5
RULES_RUN = "rules_run"


def carry_over(apps, schema_editor):
    ReactionRule = apps.get_model("alerts", "ReactionRule")
    Rule = apps.get_model("rules", "Rule")
    RuleAction = apps.get_model("rules", "RuleAction")
    OutboxMessage = apps.get_model("orders", "OutboxMessage")
    taken = set(Rule.objects.values_list("name", flat=True))
    new_id = {}
    for old in ReactionRule.objects.order_by("pk").prefetch_related("recipient_users", "recipient_robots"):
        if old.kind == RULES_RUN:
            new_id[old.pk] = None
            continue
        name = old.name if old.name not in taken else f"{old.name} (#{old.pk})"[:120]
        taken.add(name)
        rule = Rule.objects.create(
            name=name,
            description="由反应规则迁移 / Carried over from a reaction rule.",
            enabled=old.enabled,
            trigger=old.event_type,
            position=BUILTIN_POSITION,
        )
        params = dict(old.params or {})
        if old.kind == "notify":
            action = RuleAction.objects.create(
                rule=rule,
                kind="notify",
                notify_cs_owner=old.recipient_cs_owner,
                role=old.recipient_role,
                email=bool(params.get("email")),
            )
            user_ids = sorted(u.pk for u in old.recipient_users.all())
            robot_ids = sorted(r.pk for r in old.recipient_robots.all())
            action.users.set(user_ids)
            action.robots.set(robot_ids)
            recipients = {
                "cs_owner": old.recipient_cs_owner,
                "role": old.recipient_role,
                "users": user_ids,
                "robots": robot_ids,
                "email": bool(params.get("email")),
                "message": "",
            }
            OutboxMessage.objects.filter(rule_id=old.pk, kind="notify", status="pending").update(params=recipients)
        else:
            RuleAction.objects.create(rule=rule, kind="reaction", reaction=old.kind, params=params)
        new_id[old.pk] = rule.pk
    if new_id:
        # The rules' messages and their follow-ups (a chat message per robot), in one statement:
        # old and new ids overlap, so one rule at a time would move some messages twice.
        OutboxMessage.objects.filter(rule_id__in=list(new_id)).update(
            rule_id=Case(*(When(rule_id=old, then=Value(new, output_field=IntegerField())) for old, new in new_id.items()), default=None, output_field=IntegerField())
        )


class Migration(migrations.Migration):
    dependencies = [
        ("rules", "0003_rule_actions_for_reactions"),
        ("alerts", "0006_notifications_app"),
        ("orders", "0012_order_contested"),
    ]

    operations = [migrations.RunPython(carry_over, migrations.RunPython.noop)]
