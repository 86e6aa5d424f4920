"""The transactional outbox: everything an event must cause is a row written in the event's
transaction, delivered by Celery at least once, with its effect taken exactly once.

    models.py     OutboxMessage, OutboxStatus
    kinds.py      ReactionKind and its registry (what a message can ask for)
    listeners.py  who the outbox asks and tells: subscription sources (which reactions an event
                  type triggers: the operations rules), outcome listeners, event listeners
    services.py   enqueue (single event and batch, one builder), deliver, re-dispatch, retry
    tasks.py      the Celery tasks, thin
    admin.py      the outbox's admin page

It imports no other app: apps plug their kinds, subscriptions and listeners in through their
AppConfig (orders.plugins).
"""
