"""Rows as the API answers them (the shapes of api/schemas.py), built from prefetched rows
without further queries."""

from __future__ import annotations

from orders.models import Order, OrderEvent


def order_summary(order: Order) -> dict:
    return {
        "id": order.pk,
        "number": order.number,
        "channel": order.channel,
        "external_id": order.external_id,
        "brand": order.shop.brand.code,
        "shop": order.shop.code,
        "state": order.state,
        "main_status": order.main_status,
        "payment_status": order.payment_status,
        "warehouse_stage": order.warehouse_stage,
        "warehouse": order.warehouse.code if order.warehouse_id else None,
        "cs_owner": order.cs_owner.get_username() if order.cs_owner_id else None,
        "priority": order.priority,
        "amount": str(order.amount),
        "currency": order.currency,
        "is_gift": bool(order.main_order_id),
        "main_order": order.main_order.number if order.main_order_id else None,
        "ordered_at": order.ordered_at,
        "state_changed_at": order.state_changed_at,
        "updated_at": order.updated_at,
        "version": order.version,
    }


def event_out(event: OrderEvent) -> dict:
    return {
        "id": event.pk,
        "action": event.action,
        "verb": str(event.verb),
        "from_state": event.from_state,
        "to_state": event.to_state,
        "actor_name": event.actor_name,
        "actor_role": event.actor_role,
        "occurred_at": event.occurred_at,
        "order_version": event.order_version,
        "note": event.note,
    }


def order_detail(order: Order, *, actor) -> dict:
    return {
        **order_summary(order),
        "buyer": {
            "email": order.buyer_email,
            "phone": order.buyer_phone,
            "recipient_name": order.recipient_name,
            "recipient_phone": order.recipient_phone,
            "province": order.ship_province,
            "city": order.ship_city,
            "district": order.ship_district,
            "address": order.ship_address,
            "postcode": order.ship_postcode,
        },
        "buyer_remark": order.buyer_remark,
        "available_actions": [t.action for t in order.available_transitions_for(actor) if not t.service_only],
        "lines": [
            {
                "position": line.position,
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price),
                "discount": str(line.discount),
                "currency": line.currency,
                "is_gift": line.is_gift,
            }
            for line in order.lines.all()
        ],
        "shipments": [
            {
                "sequence": s.sequence,
                "carrier": s.carrier,
                "tracking_number": s.tracking_number,
                "reason": s.reason,
                "created_at": s.created_at,
            }
            for s in order.shipments.all()
        ],
        "events": [event_out(e) for e in order.events.all()],
    }


def exception_out(exception) -> dict:
    return {
        "id": exception.pk,
        "order": exception.order.number,
        "reason": exception.reason,
        "owner_role": exception.owner_role,
        "detail": exception.detail,
        "source": exception.source,
        "raised_at": exception.raised_at,
        "cleared_at": exception.cleared_at,
        "cleared_note": exception.cleared_note,
    }


def alert_out(alert) -> dict:
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "severity": alert.severity,
        "status": alert.status,
        "title": alert.title,
        "order": alert.order.number if alert.order_id else None,
        "integration": alert.integration,
        "assigned_role": alert.assigned_role,
        "opened_at": alert.opened_at,
        "last_seen_at": alert.last_seen_at,
        "seen_count": alert.seen_count,
        "resolved_at": alert.resolved_at,
    }


def return_out(return_request) -> dict:
    return {
        "id": return_request.pk,
        "order": return_request.order.number,
        "status": return_request.status,
        "reason": return_request.reason,
        "source": return_request.source,
        "requested_at": return_request.requested_at,
        "decided_at": return_request.decided_at,
        "label_status": return_request.label_status,
        "label_carrier": return_request.label_carrier,
        "label_tracking_number": return_request.label_tracking_number,
    }
