"""Unsaved model instances built for a bulk write, without `Model.__init__`.

    NEW_EVENT = RowBuilder(OrderEvent)
    event = NEW_EVENT(order=order, action="pay", ...)     # as OrderEvent(order=order, action=...)

An import writes a few hundred thousand rows (orders, events, watch rows); `Model(**values)`
spends most of its time per field on the defaults, the related-object descriptors and the
init signals, several times what the values themselves cost. A builder works out each field's
default once and fills the instance's `__dict__` directly, as Django's own `from_db` leaves a
row it read: each field's value under its attribute name (`order_id`), a related object passed
by its field's name (`order=`) kept in the instance's cache as the descriptor would keep it,
generated columns left to the database (deferred). The instance is new (`_state.adding`).

When the model has pre_init or post_init receivers (an app that needs to see each instance
built), the builder falls back to `Model(**values)`, so nothing is skipped for them.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init


class RowBuilder:
    def __init__(self, model: type[Model]) -> None:
        self.model = model
        self._defaults: list[tuple[str, Any, bool]] = []  # (attname, default, callable?)
        self._relations: dict[str, tuple[str, str]] = {}  # field name -> (attname, target attname)
        for field in model._meta.concrete_fields:
            if field.generated:
                continue  # computed by the database; deferred, as Model(**values) leaves it
            if field.is_relation:
                self._relations[field.name] = (field.attname, field.target_field.attname)
            if field.primary_key:
                self._defaults.append((field.attname, None, False))
            elif field.has_default():
                self._defaults.append((field.attname, field.default, callable(field.default)))
            else:
                self._defaults.append((field.attname, field.get_default(), False))

    def __call__(self, **values: Any) -> Any:
        model = self.model
        if pre_init.has_listeners(model) or post_init.has_listeners(model):
            return model(**values)
        cache = {}
        for name, (attname, target) in self._relations.items():
            if name in values:
                related = values.pop(name)
                values[attname] = None if related is None else getattr(related, target)
                cache[name] = related
        data = {
            attname: values.pop(attname) if attname in values else default() if call else default
            for attname, default, call in self._defaults
        }
        if values:
            raise TypeError(f"{model.__name__} has no field(s) {', '.join(sorted(values))}")
        state = ModelState()
        state.fields_cache = cache
        data["_state"] = state
        instance = model.__new__(model)
        instance.__dict__ = data
        return instance
