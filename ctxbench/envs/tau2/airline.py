"""The tau2-bench airline tools, re-implemented over the packaged db.json (see ctxbench.envs.tau2.tools).

Follows sierra-research/tau2-bench src/tau2/domains/airline/tools.py, quirks included: cancelling
does not release seats, changing flights does not change seat counts, new reservation ids are
HATHAT, HATHAU, HATHAV in order, the clock is fixed at 2024-05-15T15:00:00, and one-stop searches
compute the second leg's date as "2024-05-{day + 1}".
"""

from __future__ import annotations

import copy

from ctxbench.envs.tau2.tools import NOW, ToolError, Toolkit, resolve


class AirlineTools(Toolkit):
    TOOLS = ("book_reservation", "calculate", "cancel_reservation", "get_reservation_details",
             "get_user_details", "list_all_airports", "search_direct_flight", "search_onestop_flight",
             "send_certificate", "transfer_to_human_agents", "update_reservation_baggages",
             "update_reservation_flights", "update_reservation_passengers", "get_flight_status")

    def _user(self, user_id: str) -> dict:
        return self.db["users"][resolve(self.db["users"], user_id, "User")]

    def _reservation(self, rid: str) -> dict:
        return self.db["reservations"][resolve(self.db["reservations"], rid, "Reservation")]

    def _flight(self, number: str) -> dict:
        return self.db["flights"][resolve(self.db["flights"], number, "Flight")]

    def _instance(self, number: str, date: str) -> dict:
        f = self._flight(number)
        if date not in f["dates"]:
            raise ToolError(f"Flight {number} not found on date {date}")
        return f["dates"][date]

    def _search(self, date, origin=None, destination=None, leave_after=None) -> list[dict]:
        out = []
        for num in self.db["flights"]:
            f = self.db["flights"].peek(num)
            d = f["dates"].get(date)
            if ((origin is None or f["origin"] == origin) and (destination is None or f["destination"] == destination)
                    and d is not None and d["status"] == "available"
                    and (leave_after is None or f["scheduled_departure_time_est"] >= leave_after)):
                out.append({"flight_number": f["flight_number"], "origin": f["origin"],
                            "destination": f["destination"], "status": "available",
                            "scheduled_departure_time_est": f["scheduled_departure_time_est"],
                            "scheduled_arrival_time_est": f["scheduled_arrival_time_est"],
                            "available_seats": copy.deepcopy(d["available_seats"]),
                            "prices": copy.deepcopy(d["prices"])})
        return out

    def _pay_update(self, user: dict, payment_id: str, total: float) -> dict | None:
        pm = user["payment_methods"].get(payment_id)
        if pm is None:
            raise ToolError("Payment method not found")
        if pm["source"] == "certificate":
            raise ToolError("Certificate cannot be used to update reservation")
        if pm["source"] == "gift_card" and pm["amount"] < total:
            raise ToolError("Gift card balance is not enough")
        if pm["source"] == "gift_card":
            pm["amount"] -= total
        return {"payment_id": payment_id, "amount": total} if total != 0 else None

    def get_user_details(self, user_id: str) -> dict:
        return self._user(user_id)

    def get_reservation_details(self, reservation_id: str) -> dict:
        return self._reservation(reservation_id)

    def get_flight_status(self, flight_number: str, date: str) -> str:
        return self._instance(flight_number, date)["status"]

    def list_all_airports(self) -> list[dict]:
        pairs = [("SFO", "San Francisco"), ("JFK", "New York"), ("LAX", "Los Angeles"), ("ORD", "Chicago"),
                 ("DFW", "Dallas"), ("DEN", "Denver"), ("SEA", "Seattle"), ("ATL", "Atlanta"),
                 ("MIA", "Miami"), ("BOS", "Boston"), ("PHX", "Phoenix"), ("IAH", "Houston"),
                 ("LAS", "Las Vegas"), ("MCO", "Orlando"), ("EWR", "Newark"), ("CLT", "Charlotte"),
                 ("MSP", "Minneapolis"), ("DTW", "Detroit"), ("PHL", "Philadelphia"), ("LGA", "LaGuardia")]
        return [{"iata": a, "city": c} for a, c in pairs]

    def search_direct_flight(self, origin: str, destination: str, date: str) -> list[dict]:
        return self._search(date, origin, destination)

    def search_onestop_flight(self, origin: str, destination: str, date: str) -> list[list[dict]]:
        out = []
        for r1 in self._search(date, origin):
            r1["date"] = date
            date2 = f"2024-05-{int(date[-2:]) + 1}" if "+1" in r1["scheduled_arrival_time_est"] else date
            for r2 in self._search(date2, r1["destination"], destination, r1["scheduled_arrival_time_est"]):
                r2["date"] = date2
                out.append([r1, r2])
        return out

    def book_reservation(self, user_id, origin, destination, flight_type, cabin, flights, passengers,
                         payment_methods, total_baggages, nonfree_baggages, insurance) -> dict:
        user = self._user(user_id)
        rid = next((r for r in ("HATHAT", "HATHAU", "HATHAV") if r not in self.db["reservations"]), None)
        if rid is None:
            raise ToolError("Too many reservations")
        res = {"reservation_id": rid, "user_id": user["user_id"], "origin": origin, "destination": destination,
               "flight_type": flight_type, "cabin": cabin, "flights": [],
               "passengers": copy.deepcopy(passengers), "payment_history": copy.deepcopy(payment_methods),
               "created_at": NOW, "total_baggages": total_baggages, "nonfree_baggages": nonfree_baggages,
               "insurance": insurance}
        total, instances = 0, []
        for fi in flights:
            f = self._flight(fi["flight_number"])
            inst = self._instance(f["flight_number"], fi["date"])
            if inst["status"] != "available":
                raise ToolError(f"Flight {f['flight_number']} not available on date {fi['date']}")
            if inst["available_seats"][cabin] < len(passengers):
                raise ToolError(f"Not enough seats on flight {f['flight_number']}")
            price = inst["prices"][cabin]
            res["flights"].append({"origin": f["origin"], "destination": f["destination"],
                                   "flight_number": f["flight_number"], "date": fi["date"], "price": price})
            instances.append(inst)
            total += price * len(passengers)
        if insurance == "yes":
            total += 30 * len(passengers)
        total += 50 * nonfree_baggages
        for p in payment_methods:
            pm = user["payment_methods"].get(p["payment_id"])
            if pm is None:
                raise ToolError(f"Payment method {p['payment_id']} not found")
            if pm["source"] in ("gift_card", "certificate") and pm["amount"] < p["amount"]:
                raise ToolError(f"Not enough balance in payment method {p['payment_id']}")
        paid = sum(p["amount"] for p in payment_methods)
        if paid != total:
            raise ToolError(f"Payment amount does not add up, total price is {total}, but paid {paid}")
        for p in payment_methods:
            pm = user["payment_methods"][p["payment_id"]]
            if pm["source"] == "gift_card":
                pm["amount"] -= p["amount"]
            elif pm["source"] == "certificate":
                user["payment_methods"].pop(p["payment_id"])
        for inst in instances:
            inst["available_seats"][cabin] -= len(passengers)
        self.db["reservations"][rid] = res
        user["reservations"].append(rid)
        return res

    def cancel_reservation(self, reservation_id: str) -> dict:
        res = self._reservation(reservation_id)
        refunds = [{"payment_id": p["payment_id"], "amount": -p["amount"]} for p in res["payment_history"]]
        res["payment_history"].extend(refunds)
        res["status"] = "cancelled"
        return res

    def send_certificate(self, user_id: str, amount: int) -> str:
        user = self._user(user_id)
        for n in (3221322, 3221323, 3221324):
            pid = f"certificate_{n}"
            if pid not in user["payment_methods"]:
                user["payment_methods"][pid] = {"source": "certificate", "id": pid, "amount": amount}
                return f"Certificate {pid} added to user {user_id} with amount {amount}."
        raise ToolError("Too many certificates")

    def update_reservation_baggages(self, reservation_id, total_baggages, nonfree_baggages, payment_id) -> dict:
        res = self._reservation(reservation_id)
        user = self._user(res["user_id"])
        pay = self._pay_update(user, payment_id, 50 * max(0, nonfree_baggages - res["nonfree_baggages"]))
        if pay is not None:
            res["payment_history"].append(pay)
        res["total_baggages"], res["nonfree_baggages"] = total_baggages, nonfree_baggages
        return res

    def update_reservation_flights(self, reservation_id, cabin, flights, payment_id) -> dict:
        res = self._reservation(reservation_id)
        user = self._user(res["user_id"])
        total, new = 0, []
        n = len(res["passengers"])
        for fi in flights:
            f = self._flight(fi["flight_number"])
            num = f["flight_number"]
            same = next((rf for rf in res["flights"] if rf["flight_number"] == num and rf["date"] == fi["date"]
                         and cabin == res["cabin"]), None)
            if same is not None:
                total += same["price"] * n
                new.append(same)
                continue
            inst = self._instance(num, fi["date"])
            if inst["status"] != "available":
                raise ToolError(f"Flight {num} not available on date {fi['date']}")
            if inst["available_seats"][cabin] < n:
                raise ToolError(f"Not enough seats on flight {num}")
            rf = {"flight_number": num, "date": fi["date"], "price": inst["prices"][cabin],
                  "origin": f["origin"], "destination": f["destination"]}
            total += rf["price"] * n
            new.append(rf)
        total -= sum(rf["price"] for rf in res["flights"]) * n
        pay = self._pay_update(user, payment_id, total)
        if pay is not None:
            res["payment_history"].append(pay)
        res["flights"], res["cabin"] = new, cabin
        return res

    def update_reservation_passengers(self, reservation_id: str, passengers: list[dict]) -> dict:
        res = self._reservation(reservation_id)
        if len(passengers) != len(res["passengers"]):
            raise ToolError("Number of passengers does not match")
        res["passengers"] = copy.deepcopy(passengers)
        return res
