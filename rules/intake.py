"""The rules engine's part in intake (orders.services.intake_plans): the "order created" rules,
evaluated for each new order before it is saved and recorded as firings once it is."""

from orders.services.intake_plans import IntakePlanner

from .services import rules_intake_plan, rules_intake_record

INTAKE_PLANNER = IntakePlanner(plan=rules_intake_plan, record=rules_intake_record)
