"""The tau2-bench retail tools, re-implemented over the packaged db.json (see ctxbench.envs.tau2.tools).

Follows sierra-research/tau2-bench src/tau2/domains/retail/tools.py, quirks included: modifying
items prices every modified item at the last new variant's price (upstream's loop variable leaks),
item-modification and cancellation need status exactly "pending" while address and payment changes
accept any "pending ..." status, and gift-card refunds are credited at once.
"""

from __future__ import annotations

import json

from ctxbench.envs.tau2.tools import ToolError, Toolkit, fold


class RetailTools(Toolkit):
    TOOLS = ("calculate", "cancel_pending_order", "exchange_delivered_order_items", "find_user_id_by_email",
             "find_user_id_by_name_zip", "get_item_details", "get_order_details", "get_product_details",
             "get_user_details", "list_all_product_types", "modify_pending_order_address",
             "modify_pending_order_items", "modify_pending_order_payment", "modify_user_address",
             "return_delivered_order_items", "transfer_to_human_agents")

    def _order(self, order_id: str) -> dict:
        if order_id not in self.db["orders"]:
            raise ToolError("Order not found")
        return self.db["orders"][order_id]

    def _user(self, user_id: str) -> dict:
        if user_id not in self.db["users"]:
            raise ToolError("User not found")
        return self.db["users"][user_id]

    def _product(self, product_id: str) -> dict:
        if product_id not in self.db["products"]:
            raise ToolError("Product not found")
        return self.db["products"][product_id]

    def _variant(self, product_id: str, item_id: str) -> dict:
        p = self._product(product_id)
        if item_id not in p["variants"]:
            raise ToolError("Variant not found")
        return p["variants"][item_id]

    def _payment(self, user_id: str, pm_id: str) -> dict:
        user = self._user(user_id)
        if pm_id not in user["payment_methods"]:
            raise ToolError("Payment method not found")
        return user["payment_methods"][pm_id]

    @staticmethod
    def _check_items(order: dict, item_ids: list[str], msg: str) -> None:
        have = [it["item_id"] for it in order["items"]]
        for i in item_ids:
            if item_ids.count(i) > have.count(i):
                raise ToolError(msg.format(i))

    def _price_diff(self, order: dict, item_ids: list[str], new_item_ids: list[str], same_ok: bool):
        if len(item_ids) != len(new_item_ids):
            raise ToolError("The number of items to be exchanged should match")
        diff, variant = 0.0, None
        for old, new in zip(item_ids, new_item_ids):
            if not same_ok and old == new:
                raise ToolError("The new item id should be different from the old item id")
            item = next((it for it in order["items"] if it["item_id"] == old), None)
            if item is None:
                raise ToolError(f"Item {old} not found")
            variant = self._variant(item["product_id"], new)
            if not variant["available"]:
                raise ToolError(f"New item {new} not found or available")
            diff += variant["price"] - item["price"]
        return diff, variant

    # ---------------------------------------------------------------------------------- reads

    def find_user_id_by_email(self, email: str) -> str:
        want = fold(email)
        for uid in self.db["users"]:
            if fold(self.db["users"].peek(uid)["email"]) == want:
                return uid
        raise ToolError("User not found")

    def find_user_id_by_name_zip(self, first_name: str, last_name: str, zip: str) -> str:
        f, last = fold(first_name), fold(last_name)
        for uid in self.db["users"]:
            u = self.db["users"].peek(uid)
            if fold(u["name"]["first_name"]) == f and fold(u["name"]["last_name"]) == last \
                    and u["address"]["zip"] == zip:
                return uid
        raise ToolError("User not found")

    def get_order_details(self, order_id: str) -> dict:
        return self._order(order_id)

    def get_product_details(self, product_id: str) -> dict:
        return self._product(product_id)

    def get_item_details(self, item_id: str) -> dict:
        for pid in self.db["products"]:
            if item_id in self.db["products"].peek(pid)["variants"]:
                return self.db["products"][pid]["variants"][item_id]
        raise ToolError("Item not found")

    def get_user_details(self, user_id: str) -> dict:
        return self._user(user_id)

    def list_all_product_types(self) -> str:
        names = {self.db["products"].peek(p)["name"]: p for p in self.db["products"]}
        return json.dumps(names, sort_keys=True)

    # ---------------------------------------------------------------------------------- writes

    def cancel_pending_order(self, order_id: str, reason: str) -> dict:
        order = self._order(order_id)
        if order["status"] != "pending":
            raise ToolError("Non-pending order cannot be cancelled")
        if reason not in ("no longer needed", "ordered by mistake"):
            raise ToolError("Invalid reason")
        refunds = []
        for p in order["payment_history"]:
            refunds.append({"transaction_type": "refund", "amount": p["amount"],
                            "payment_method_id": p["payment_method_id"]})
            pm = self._payment(order["user_id"], p["payment_method_id"])
            if pm["source"] == "gift_card":
                pm["balance"] = round(pm["balance"] + p["amount"], 2)
        order["status"] = "cancelled"
        order["cancel_reason"] = reason
        order["payment_history"].extend(refunds)
        return order

    def exchange_delivered_order_items(self, order_id, item_ids, new_item_ids, payment_method_id) -> dict:
        order = self._order(order_id)
        if order["status"] != "delivered":
            raise ToolError("Non-delivered order cannot be exchanged")
        self._check_items(order, item_ids, "Number of {} not found.")
        diff, _ = self._price_diff(order, item_ids, new_item_ids, same_ok=True)
        diff = round(diff, 2)
        pm = self._payment(order["user_id"], payment_method_id)
        if pm["source"] == "gift_card" and pm["balance"] < diff:
            raise ToolError("Insufficient gift card balance to pay for the price difference")
        order["status"] = "exchange requested"
        order["exchange_items"] = sorted(item_ids)
        order["exchange_new_items"] = sorted(new_item_ids)
        order["exchange_payment_method_id"] = payment_method_id
        order["exchange_price_difference"] = diff
        return order

    def modify_pending_order_address(self, order_id, address1, address2, city, state, country, zip) -> dict:
        order = self._order(order_id)
        if "pending" not in order["status"]:
            raise ToolError("Non-pending order cannot be modified")
        order["address"] = {"address1": address1, "address2": address2, "city": city, "state": state,
                            "country": country, "zip": zip}
        return order

    def modify_pending_order_items(self, order_id, item_ids, new_item_ids, payment_method_id) -> dict:
        order = self._order(order_id)
        if order["status"] != "pending":
            raise ToolError("Non-pending order cannot be modified")
        self._check_items(order, item_ids, "{} not found")
        diff, variant = self._price_diff(order, item_ids, new_item_ids, same_ok=False)
        pm = self._payment(order["user_id"], payment_method_id)
        if pm["source"] == "gift_card" and pm["balance"] < diff:
            raise ToolError("Insufficient gift card balance to pay for the new item")
        order["payment_history"].append({"transaction_type": "payment" if diff > 0 else "refund",
                                         "amount": abs(diff), "payment_method_id": payment_method_id})
        if pm["source"] == "gift_card":
            pm["balance"] = round(pm["balance"] - diff, 2)
        for old, new in zip(item_ids, new_item_ids):
            item = next(it for it in order["items"] if it["item_id"] == old)
            item["item_id"] = new
            item["price"] = variant["price"]  # upstream quirk: the last variant's price and options
            item["options"] = variant["options"]
        order["status"] = "pending (item modified)"
        return order

    def modify_pending_order_payment(self, order_id: str, payment_method_id: str) -> dict:
        order = self._order(order_id)
        if "pending" not in order["status"]:
            raise ToolError("Non-pending order cannot be modified")
        pm = self._payment(order["user_id"], payment_method_id)
        hist = order["payment_history"]
        if len(hist) != 1 or hist[0]["transaction_type"] != "payment":
            raise ToolError("There should be exactly one payment for a pending order")
        old_id = hist[0]["payment_method_id"]
        if old_id == payment_method_id:
            raise ToolError("The new payment method should be different from the current one")
        amount = hist[0]["amount"]
        if pm["source"] == "gift_card" and pm["balance"] < amount:
            raise ToolError("Insufficient gift card balance to pay for the order")
        hist.extend([{"transaction_type": "payment", "amount": amount, "payment_method_id": payment_method_id},
                     {"transaction_type": "refund", "amount": amount, "payment_method_id": old_id}])
        if pm["source"] == "gift_card":
            pm["balance"] = round(pm["balance"] - amount, 2)
        old = self._payment(order["user_id"], old_id)
        if old["source"] == "gift_card":
            old["balance"] = round(old["balance"] + amount, 2)
        return order

    def modify_user_address(self, user_id, address1, address2, city, state, country, zip) -> dict:
        user = self._user(user_id)
        user["address"] = {"address1": address1, "address2": address2, "city": city, "state": state,
                           "country": country, "zip": zip}
        return user

    def return_delivered_order_items(self, order_id: str, item_ids: list[str], payment_method_id: str) -> dict:
        order = self._order(order_id)
        if order["status"] != "delivered":
            raise ToolError("Non-delivered order cannot be returned")
        pm = self._payment(order["user_id"], payment_method_id)
        if pm["source"] != "gift_card" and payment_method_id != order["payment_history"][0]["payment_method_id"]:
            raise ToolError("Payment method should be the original payment method")
        self._check_items(order, item_ids, "Some item not found")
        order["status"] = "return requested"
        order["return_items"] = sorted(item_ids)
        order["return_payment_method_id"] = payment_method_id
        return order
