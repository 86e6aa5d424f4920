"""A local Shopify Admin GraphQL API, for the shipment write-back: `POST
/admin/api/<version>/graphql.json` with `X-Shopify-Access-Token`, JSON {"query", "variables"}.

    with FakeShopifyAdmin(access_token="shpat_test") as shopify:
        gid = shopify.add_order(820982911946154508)            # one OPEN fulfilment order
        account.base_url = shopify.base_url                    # the adapter adds /admin/api/…
        shopify.orders[gid].fulfilments[-1].tracking[-1].number
        shopify.requests[-1].operation                         # "query OrderFulfilments" …

It checks what Shopify checks, independently of the adapter: the path and API version (404),
the access token (401, Shopify's own text), the JSON body, and the GraphQL document strictly —
one operation, balanced braces, its root field one of the three the write-back uses
(`order`, `fulfillmentCreate`, `fulfillmentTrackingInfoUpdate`, else "Field … doesn't exist
on type"), every argument bound to a declared variable of Shopify's type for it (`ID!`,
`FulfillmentInput!`, `FulfillmentTrackingInput!`, `Boolean`), every declared variable given,
the mutation payloads selecting `userErrors { field message }` and `fulfillment { id }`, and the
inputs' fields (FulfillmentInput: lineItemsByFulfillmentOrder [{fulfillmentOrderId, …}],
notifyCustomer, originAddress, trackingInfo; FulfillmentTrackingInput: company, number,
numbers, url, urls), answering INVALID_VARIABLE otherwise. It answers in the schema's shape,
with `extensions.cost` on every answer.

Semantics: fulfillmentCreate fulfils the named fulfilment orders (each must be OPEN or
IN_PROGRESS, else a userError as Shopify words it) and closes them; the order's
`displayFulfillmentStatus` becomes FULFILLED. fulfillmentTrackingInfoUpdate replaces a
fulfilment's tracking (an unknown id is a userError).

Answers queued per test (`shopify.answers.extend([...])`, default "ok"), or drawn at random
for a fraction of calls (`shopify.fail_rate = 0.2`: that share answers "server_error"):
"ok"; "server_error" (HTTP 500), "timeout", "bad_json" (FakeGateway's); "throttled" (HTTP 200,
errors[].extensions.code THROTTLED, data null, the cost extension from `throttle_status`);
"throttled_429" (the same body with HTTP 429); "user_error" (the mutation's userErrors, nothing
done); "lose_response" (the operation is applied, then no answer: the client times out).
"""

from __future__ import annotations

import itertools
import json
import random
import re
from dataclasses import dataclass, field

from .gateway import FakeGateway

PATH_RE = re.compile(r"^/admin/api/(?P<version>\d{4}-\d{2}|unstable)/graphql\.json$")
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"

# Root field -> (operation type, {argument: Shopify's type}, fields the selection must name).
ROOT_FIELDS = {
    "order": ("query", {"id": "ID!"}, ("fulfillmentOrders", "nodes", "status", "fulfillments", "trackingInfo")),
    "fulfillmentCreate": ("mutation", {"fulfillment": "FulfillmentInput!"}, ("fulfillment", "userErrors")),
    "fulfillmentTrackingInfoUpdate": (
        "mutation",
        {"fulfillmentId": "ID!", "trackingInfoInput": "FulfillmentTrackingInput!", "notifyCustomer": "Boolean"},
        ("fulfillment", "userErrors"),
    ),
}
FULFILLMENT_INPUT_FIELDS = {"lineItemsByFulfillmentOrder", "notifyCustomer", "originAddress", "trackingInfo"}
LINE_ITEMS_INPUT_FIELDS = {"fulfillmentOrderId", "fulfillmentOrderLineItems"}
TRACKING_INPUT_FIELDS = {"company", "number", "numbers", "url", "urls"}
FULFILLABLE = {"OPEN", "IN_PROGRESS"}

_OPERATION_RE = re.compile(r"^\s*(query|mutation)\s+(\w+)\s*(?:\(([^)]*)\))?\s*\{", re.S)
_VARIABLE_DEF_RE = re.compile(r"\$(\w+)\s*:\s*([\w\[\]!]+)")
_ROOT_RE = re.compile(r"\{\s*(\w+)\s*(?:\(([^)]*)\))?\s*\{", re.S)
_ARGUMENT_RE = re.compile(r"(\w+)\s*:\s*(\$\w+|\"[^\"]*\")")


@dataclass
class Tracking:
    company: str
    number: str
    url: str = ""

    def as_json(self) -> dict:
        return {"company": self.company or None, "number": self.number, "url": self.url or None}


@dataclass
class Fulfilment:
    id: str
    status: str
    tracking: list[Tracking]
    notify_customer: bool = False
    fulfilment_order_ids: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"id": self.id, "status": self.status, "trackingInfo": [t.as_json() for t in self.tracking]}


@dataclass
class FulfilmentOrderLine:
    id: str  # gid://shopify/FulfillmentOrderLineItem/…
    line_item_id: str  # gid://shopify/LineItem/<the order's line id>
    remaining: int


@dataclass
class FulfilmentOrder:
    id: str
    status: str
    lines: list[FulfilmentOrderLine]

    def settle(self) -> None:
        left = sum(line.remaining for line in self.lines)
        self.status = "CLOSED" if left == 0 else ("IN_PROGRESS" if left < self.total else self.status)

    total: int = 0


@dataclass
class ShopOrder:
    id: str
    fulfilment_orders: dict[str, FulfilmentOrder]
    fulfilments: list[Fulfilment] = field(default_factory=list)

    @property
    def display_status(self) -> str:
        if all(fo.status == "CLOSED" for fo in self.fulfilment_orders.values()) and self.fulfilments:
            return "FULFILLED"
        return "PARTIALLY_FULFILLED" if self.fulfilments else "UNFULFILLED"


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    json: object
    operation: str = ""  # "query OrderFulfilments", "mutation FulfilmentCreate" …
    root_field: str = ""
    variables: dict = field(default_factory=dict)
    problem: tuple[int, dict] | None = None  # what the checks refused, answered as is
    answer: str = ""  # the answer it was given ("ok", "server_error", …)


class FakeShopifyAdmin(FakeGateway):
    path = None  # the path carries the API version: checked in parse

    def __init__(self, *, access_token: str = "shpat_test_token", seed: int = 7):
        self.access_token = access_token
        self.orders: dict[str, ShopOrder] = {}
        self.fail_rate = 0.0
        # (currentlyAvailable, restoreRate) as a throttled answer reports them.
        self.throttle_status = (2.0, 100.0)
        self.maximum_available = 2000.0
        self._random = random.Random(seed)
        self._ids = itertools.count(1001)
        super().__init__()

    # -- the shop's state -------------------------------------------------------------------
    def add_order(
        self, order_id, *, lines: dict | None = None, fulfilment_orders: int = 1, status: str = "OPEN"
    ) -> str:
        """An order with `lines` ({line item id: quantity}, default one line of one unit), each
        fulfilment order holding all of them (one per location)."""
        gid = f"gid://shopify/Order/{order_id}"
        lines = lines or {f"{order_id}01": 1}
        with self._lock:
            orders = {}
            for _ in range(fulfilment_orders):
                fo_id = f"gid://shopify/FulfillmentOrder/{next(self._ids)}"
                fo_lines = [
                    FulfilmentOrderLine(
                        id=f"gid://shopify/FulfillmentOrderLineItem/{next(self._ids)}",
                        line_item_id=f"gid://shopify/LineItem/{line_id}",
                        remaining=int(qty),
                    )
                    for line_id, qty in lines.items()
                ]
                orders[fo_id] = FulfilmentOrder(fo_id, status, fo_lines, total=sum(int(q) for q in lines.values()))
            self.orders[gid] = ShopOrder(id=gid, fulfilment_orders=orders)
        return gid

    def fulfil_by_hand(self, gid: str, *, number: str, company: str = "SF Express") -> Fulfilment:
        """What a person does in the Shopify admin: every open fulfilment order fulfilled with `number`."""
        with self._lock:
            order = self.orders[gid]
            open_ids = [fo.id for fo in order.fulfilment_orders.values() if fo.status in FULFILLABLE]
            return self._fulfil(order, dict.fromkeys(open_ids), Tracking(company, number), False)

    def mutations(self, root_field: str | None = None) -> list[Received]:
        return [r for r in self.requests if r.operation.startswith("mutation") and root_field in (None, r.root_field)]

    # -- FakeGateway ------------------------------------------------------------------------
    def answer_for(self, received):
        if self.answers:
            answer = self.answers.popleft()
        elif self.fail_rate and self._random.random() < self.fail_rate:
            answer = "server_error"
        else:
            answer = "ok"
        received.answer = answer
        return answer

    def parse(self, *, path: str, headers: dict, body: bytes) -> Received:
        try:
            parsed = json.loads(body.decode("utf-8"))
        except ValueError:
            parsed = None
        received = Received(path=path, headers=headers, body=body, json=parsed)
        received.problem = self._check(received)
        return received

    def respond(self, received: Received, answer):
        if received.problem is not None:
            status, payload = received.problem
            return status, _dumps(payload)
        if answer in ("throttled", "throttled_429"):
            available, rate = self.throttle_status
            body = {
                "errors": [
                    {
                        "message": "Throttled",
                        "extensions": {
                            "code": "THROTTLED",
                            "documentation": "https://shopify.dev/api/usage/rate-limits",
                        },
                    }
                ],
                "extensions": {"cost": self._cost(received, available=available, rate=rate, actual=None)},
            }
            return (429 if answer == "throttled_429" else 200), _dumps(body)
        if answer not in ("ok", "user_error", "lose_response"):
            raise ValueError(f"unknown FakeShopifyAdmin answer {answer!r}")
        with self._lock:
            data = self._execute(received, refuse=answer == "user_error")
        if answer == "lose_response":
            return None  # done, and the answer never arrives
        return _dumps({"data": data, "extensions": {"cost": self._cost(received)}})

    # -- checks -----------------------------------------------------------------------------
    def _check(self, received: Received) -> tuple[int, dict] | None:
        if not PATH_RE.match(received.path):
            return 404, {"errors": "Not Found"}
        if received.headers.get("x-shopify-access-token") != self.access_token:
            return 401, {"errors": INVALID_TOKEN}
        if not received.headers.get("content-type", "").startswith("application/json"):
            return 415, {"errors": "Unsupported Media Type: send application/json"}
        body = received.json
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return 400, {"errors": {"query": "Required parameter missing or invalid"}}
        variables = body.get("variables") or {}
        if not isinstance(variables, dict):
            return 200, _error("Variables must be an object", "argumentLiteralsIncompatible")
        received.variables = variables
        document = body["query"]
        if document.count("{") != document.count("}"):
            return 200, _error("syntax error, unexpected end of file", "parseError")
        operation = _OPERATION_RE.match(document)
        if operation is None:
            return 200, _error("Expected one named query or mutation operation", "parseError")
        kind, name, definitions = operation.groups()
        received.operation = f"{kind} {name}"
        declared = dict(_VARIABLE_DEF_RE.findall(definitions or ""))
        root = _ROOT_RE.search(document, operation.end() - 1)
        if root is None:
            return 200, _error("Expected a field selection", "parseError")
        root_field, arguments = root.groups()
        received.root_field = root_field
        spec = ROOT_FIELDS.get(root_field)
        type_name = "QueryRoot" if kind == "query" else "Mutation"
        if spec is None or spec[0] != kind:
            return 200, _error(f"Field '{root_field}' doesn't exist on type '{type_name}'", "undefinedField")
        _kind, argument_types, must_select = spec
        bound = dict(_ARGUMENT_RE.findall(arguments or ""))
        for argument, value in bound.items():
            if argument not in argument_types:
                return 200, _error(f"Field '{root_field}' doesn't accept argument '{argument}'", "argumentNotAccepted")
            if not value.startswith("$"):
                continue
            variable = value[1:]
            if declared.get(variable) != argument_types[argument]:
                return 200, _error(
                    f"Type mismatch on variable ${variable} and argument {argument} "
                    f"({declared.get(variable)} / {argument_types[argument]})",
                    "variableMismatch",
                )
        for argument, type_ in argument_types.items():
            if type_.endswith("!") and argument not in bound:
                return 200, _error(
                    f"Field '{root_field}' is missing required arguments: {argument}", "missingRequiredArguments"
                )
        for variable, type_ in declared.items():
            if type_.endswith("!") and variables.get(variable) is None:
                return 200, _error(
                    f"Variable ${variable} of type {type_} was provided invalid value", "INVALID_VARIABLE"
                )
        selection = document[root.end() :]
        for name_ in must_select:
            if not re.search(rf"\b{name_}\b", selection):
                return 200, _error(f"The write-back must select {name_} on {root_field}", "selectionMissing")
        if kind == "mutation" and not re.search(r"userErrors\s*\{[^}]*\bfield\b[^}]*\bmessage\b", selection, re.S):
            return 200, _error("The mutation must select userErrors { field message }", "selectionMissing")
        return self._check_inputs(root_field, variables, declared, bound)

    def _check_inputs(self, root_field: str, variables: dict, declared: dict, bound: dict) -> tuple[int, dict] | None:
        def value_of(argument):
            ref = bound.get(argument, "")
            return variables.get(ref[1:]) if ref.startswith("$") else None

        if root_field == "fulfillmentCreate":
            fulfillment = value_of("fulfillment")
            if not isinstance(fulfillment, dict) or set(fulfillment) - FULFILLMENT_INPUT_FIELDS:
                return 200, _invalid("fulfillment", "FulfillmentInput!", fulfillment)
            items = fulfillment.get("lineItemsByFulfillmentOrder")
            if not isinstance(items, list) or not items:
                return 200, _invalid("fulfillment", "FulfillmentInput!", fulfillment)
            for item in items:
                if (
                    not isinstance(item, dict)
                    or set(item) - LINE_ITEMS_INPUT_FIELDS
                    or not item.get("fulfillmentOrderId")
                ):
                    return 200, _invalid("fulfillment", "FulfillmentInput!", fulfillment)
                for entry in item.get("fulfillmentOrderLineItems") or []:
                    if not isinstance(entry, dict) or set(entry) != {"id", "quantity"}:
                        return 200, _invalid("fulfillment", "FulfillmentInput!", fulfillment)
            tracking = fulfillment.get("trackingInfo")
            if tracking is not None and (not isinstance(tracking, dict) or set(tracking) - TRACKING_INPUT_FIELDS):
                return 200, _invalid("fulfillment", "FulfillmentInput!", fulfillment)
        if root_field == "fulfillmentTrackingInfoUpdate":
            tracking = value_of("trackingInfoInput")
            if not isinstance(tracking, dict) or set(tracking) - TRACKING_INPUT_FIELDS:
                return 200, _invalid("trackingInfoInput", "FulfillmentTrackingInput!", tracking)
            notify = value_of("notifyCustomer")
            if notify is not None and not isinstance(notify, bool):
                return 200, _invalid("notifyCustomer", "Boolean", notify)
        return None

    # -- execution --------------------------------------------------------------------------
    def _execute(self, received: Received, *, refuse: bool) -> dict:
        bound = dict(_ARGUMENT_RE.findall(_ROOT_RE.search(received.json["query"]).group(2) or ""))  # type: ignore[index,union-attr]
        args = {k: received.variables.get(v[1:]) if v.startswith("$") else v.strip('"') for k, v in bound.items()}
        if received.root_field == "order":
            order = self.orders.get(args["id"])
            if order is None:
                return {"order": None}
            return {
                "order": {
                    "id": order.id,
                    "displayFulfillmentStatus": order.display_status,
                    "fulfillmentOrders": {
                        "nodes": [
                            {
                                "id": fo.id,
                                "status": fo.status,
                                "lineItems": {
                                    "nodes": [
                                        {
                                            "id": line.id,
                                            "remainingQuantity": line.remaining,
                                            "lineItem": {"id": line.line_item_id},
                                        }
                                        for line in fo.lines
                                    ]
                                },
                            }
                            for fo in order.fulfilment_orders.values()
                        ]
                    },
                    "fulfillments": [f.as_json() for f in order.fulfilments],
                }
            }
        if received.root_field == "fulfillmentCreate":
            return {"fulfillmentCreate": self._create(args["fulfillment"], refuse=refuse)}
        return {"fulfillmentTrackingInfoUpdate": self._update(args, refuse=refuse)}

    def _fulfil(self, order: ShopOrder, picks: dict, tracking: Tracking, notify: bool) -> Fulfilment:
        """`picks`: {fulfilment order id: None (every remaining unit) or {its line id: units}}."""
        fulfilment = Fulfilment(
            id=f"gid://shopify/Fulfillment/{next(self._ids)}",
            status="SUCCESS",
            tracking=[tracking],
            notify_customer=notify,
            fulfilment_order_ids=list(picks),
        )
        for fo_id, units in picks.items():
            fo = order.fulfilment_orders[fo_id]
            for line in fo.lines:
                line.remaining -= line.remaining if units is None else units.get(line.id, 0)
            fo.settle()
        order.fulfilments.append(fulfilment)
        return fulfilment

    def _create(self, fulfillment: dict, *, refuse: bool) -> dict:
        items = fulfillment["lineItemsByFulfillmentOrder"]
        fo_ids = [item["fulfillmentOrderId"] for item in items]
        order = next((o for o in self.orders.values() if fo_ids[0] in o.fulfilment_orders), None)
        if refuse:
            return _user_errors(["fulfillment"], "The fulfillment could not be created: the shop refused it (test).")
        if order is None or any(fo_id not in order.fulfilment_orders for fo_id in fo_ids):
            return _user_errors(["fulfillment", "lineItemsByFulfillmentOrder"], "Fulfillment order does not exist.")
        picks: dict = {}
        for item in items:
            fo = order.fulfilment_orders[item["fulfillmentOrderId"]]
            if fo.status not in FULFILLABLE:
                return _user_errors(
                    ["fulfillment"], f"Fulfillment order {fo.id} has an unfulfillable status= {fo.status.lower()}."
                )
            wanted = item.get("fulfillmentOrderLineItems")
            if wanted is None:
                picks[fo.id] = None
                continue
            remaining = {line.id: line.remaining for line in fo.lines}
            units: dict[str, int] = {}
            for entry in wanted:
                line_id, quantity = entry.get("id"), entry.get("quantity")
                if line_id not in remaining or not isinstance(quantity, int) or not 0 < quantity <= remaining[line_id]:
                    return _user_errors(
                        ["fulfillment", "lineItemsByFulfillmentOrder", "fulfillmentOrderLineItems"],
                        "Invalid fulfillment order line item quantity requested.",
                    )
                units[line_id] = quantity
            picks[fo.id] = units
        info = fulfillment.get("trackingInfo") or {}
        tracking = Tracking(info.get("company") or "", info.get("number") or "", info.get("url") or "")
        created = self._fulfil(order, picks, tracking, bool(fulfillment.get("notifyCustomer")))
        return {"fulfillment": created.as_json(), "userErrors": []}

    def _update(self, args: dict, *, refuse: bool) -> dict:
        if refuse:
            return _user_errors(["trackingInfoInput"], "The tracking information could not be updated (test).")
        fulfilment = next(
            (f for o in self.orders.values() for f in o.fulfilments if f.id == args["fulfillmentId"]), None
        )
        if fulfilment is None:
            return _user_errors(["fulfillmentId"], "Fulfillment does not exist.")
        info = args["trackingInfoInput"]
        fulfilment.tracking = [Tracking(info.get("company") or "", info.get("number") or "", info.get("url") or "")]
        fulfilment.notify_customer = bool(args.get("notifyCustomer"))
        return {"fulfillment": fulfilment.as_json(), "userErrors": []}

    def _cost(self, received: Received, *, available=None, rate=100.0, actual=10) -> dict:
        requested = 12 if received.root_field == "order" else 10
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": self.maximum_available,
                "currentlyAvailable": self.maximum_available - requested if available is None else available,
                "restoreRate": rate,
            },
        }


def _dumps(payload) -> bytes:
    return json.dumps(payload).encode("utf-8")


def _error(message: str, code: str) -> dict:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def _invalid(variable: str, type_: str, value) -> dict:
    return _error(
        f"Variable ${variable} of type {type_} was provided invalid value: {json.dumps(value)}", "INVALID_VARIABLE"
    )


def _user_errors(field_path: list[str], message: str) -> dict:
    return {"fulfillment": None, "userErrors": [{"field": field_path, "message": message}]}
