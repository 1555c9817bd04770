"""Open311 GeoReport v2 (``/open311/v2/``) over the same case service.

* ``services.json|xml``, ``services/{code}.json|xml``: the case types, with attributes for
  their fields (hazard severity and location, dispute parties, ...) and ``chip``, the door
  chip text a resident's request carries;
* ``requests.json|xml`` GET (filters ``service_request_id``, ``service_code``, ``status``,
  ``start_date``, ``end_date``) and POST (needs ``api_key``: a staff API token; the resident
  is the door chip in ``attribute[chip]``, or ``device_id``: the device token of a phone the
  household registered with its PIN, ``POST /api/v1/households/device``);
* ``requests/{id}.json|xml``.

Case states map to ``open``/``closed`` with ``status_notes``; ``expected_datetime`` comes
from the case type's SLA. GET answers are public and carry no personal data: no address,
no position, no dispute parties, nothing a POST gave about the requester (name, e-mail,
phone, device id, the chip). Errors are Open311's ``[{code, description}]``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from chipkit.cases import CasesError
from chipkit.cases.models import cases as cases_table
from chipkit.errors import ChipkitError
from chipkit.serve.api_households import device_household, file_request
from chipkit.serve.deps import client, limit, services
from chipkit.serve.errors import ApiError, chipkit_error

router = APIRouter(prefix="/open311/v2", tags=["open311"])

NAMES = {
    "proxy": (
        "代办服务 Proxy service",
        "网格员代为办事 A grid worker runs an errand for the household",
    ),
    "dispute": ("矛盾调解 Dispute mediation", "邻里矛盾调解 Mediation between neighbours"),
    "hazard": (
        "安全隐患 Hazard report",
        "电线、燃气、房屋等安全隐患 Something dangerous: wires, gas, structures",
    ),
    "event": ("事件上报 Event", "村里需要知道的事 Something happened the village should know"),
    "other": ("其他 Other", "其他诉求 Any other request"),
}
# every text a client shows is "中文 English", as the service names
SEVERITY_NAMES = (("low", "一般"), ("medium", "较急"), ("high", "紧急"), ("critical", "非常危险"))
ATTRIBUTES: dict[str, list[dict[str, Any]]] = {
    "proxy": [
        {
            "code": "service",
            "datatype": "string",
            "required": False,
            "description": "办理什么事 Which service",
        }
    ],
    "dispute": [
        {
            "code": "parties",
            "datatype": "string",
            "required": True,
            "description": "当事人，逗号分隔（2-10 人） The parties, comma separated (2-10)",
        }
    ],
    "hazard": [
        {
            "code": "severity",
            "datatype": "singlevaluelist",
            "required": True,
            "description": "危险程度 How dangerous",
            "values": [{"key": k, "name": f"{zh} {k}"} for k, zh in SEVERITY_NAMES],
        },
        {
            "code": "location",
            "datatype": "string",
            "required": False,
            "description": "具体位置 Where exactly",
        },
    ],
    "event": [
        {
            "code": "category",
            "datatype": "string",
            "required": False,
            "description": "事件类别 Kind of event",
        }
    ],
    "other": [],
}
CHIP_ATTR = {
    "code": "chip",
    "datatype": "string",
    "required": False,
    "description": "门牌码（读自该户门牌，住户的钥匙）；该户未用住户密码登记手机（device_id）时必填 "
    "The door chip text read from the household's plate (the resident's key); "
    "required unless device_id is a phone the household registered with its PIN",
}
OPEN = ("submitted", "accepted", "in_progress", "waiting_on_resident")
NOTES = {
    "submitted": "已受理，等待网格员 received, waiting for the grid worker",
    "accepted": "网格员已接单 accepted by the grid worker",
    "in_progress": "办理中 being handled",
    "waiting_on_resident": "等待住户回复 waiting on the resident",
    "resolved": "已办结，等待住户确认 resolved; waiting for the resident's confirmation",
    "closed_confirmed": "已办结，住户已确认 resolved and confirmed by the resident",
    "closed_unconfirmed": "已办结，住户未按时确认 resolved; the resident did not confirm in time",
    "rejected": "未受理，已关闭 closed without handling",
}


def _w3(ts: int | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(int(ts), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_w3(value: str, name: str) -> int:
    try:
        d = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            400, "bad_input", f"{name}: not a W3C datetime like 2026-01-01T00:00:00Z"
        ) from None
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return int(d.timestamp())


# ---------------------------------------------------------------- rendering
def _xml(root: str, item: str, rows: list[dict[str, Any]]) -> bytes:
    top = ET.Element(root)
    for row in rows:
        el = ET.SubElement(top, item)
        _fill(el, row)
    return _doc(top)


def _doc(top: ET.Element) -> bytes:
    text = ET.tostring(top, encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>' + text).encode("utf-8")


def _fill(el: ET.Element, row: dict[str, Any]) -> None:
    for k, v in row.items():
        if isinstance(v, list):
            holder = ET.SubElement(el, k)
            for x in v:
                child = ET.SubElement(holder, k[:-1] if k.endswith("s") else k)
                if isinstance(x, dict):
                    _fill(child, x)
                else:
                    child.text = str(x)
        elif isinstance(v, dict):
            _fill(ET.SubElement(el, k), v)
        else:
            ET.SubElement(el, k).text = (
                "" if v is None else (str(v).lower() if isinstance(v, bool) else str(v))
            )


def _answer(
    fmt: str, root: str, item: str, rows: list[dict[str, Any]] | dict[str, Any], status: int = 200
) -> Response:
    if fmt == "xml":
        if isinstance(rows, dict):
            top = ET.Element(root)
            _fill(top, rows)
            body = _doc(top)
        else:
            body = _xml(root, item, rows)
        return Response(body, status, media_type="text/xml; charset=utf-8")
    return Response(json.dumps(rows, ensure_ascii=False), status, media_type="application/json")


def _error(fmt: str, status: int, description: str) -> Response:
    return _answer(fmt, "errors", "error", [{"code": status, "description": description}], status)


def _fmt(ext: str) -> str:
    if ext not in ("json", "xml"):
        raise ApiError(404, "not_found", "Open311 answers .json or .xml")
    return ext


def _guard(fmt: str, fn: Any) -> Response:
    try:
        out: Response = fn()
        return out
    except ApiError as e:
        return _error(fmt, e.status, e.detail)
    except ChipkitError as e:
        body, status = chipkit_error(e)
        return _error(fmt, status, body["detail"])


# ---------------------------------------------------------------- services
def _service(code: str, t: dict[str, Any]) -> dict[str, Any]:
    name, desc = NAMES.get(code, (t.get("name", code), ""))
    return {
        "service_code": code,
        "service_name": name,
        "description": desc,
        "metadata": True,
        "type": "realtime",
        "keywords": code,
        "group": "grid",
    }


@router.get("/services.{ext}", summary="Open311: the case types")
def service_list(ext: str, request: Request) -> Response:
    fmt = _fmt(ext)
    types = services(request).cases.types()
    return _answer(fmt, "services", "service", [_service(c, t) for c, t in sorted(types.items())])


@router.get("/services/{code}.{ext}", summary="Open311: a case type's attributes")
def service_definition(code: str, ext: str, request: Request) -> Response:
    fmt = _fmt(ext)

    def run() -> Response:
        if code not in services(request).cases.types():
            raise ApiError(404, "not_found", f"unknown service_code {code}")
        attrs = [CHIP_ATTR, *ATTRIBUTES.get(code, [])]
        rows = [
            {
                "variable": True,
                "code": a["code"],
                "datatype": a["datatype"],
                "required": a["required"],
                "datatype_description": "",
                "order": i + 1,
                "description": a["description"],
                **({"values": a["values"]} if "values" in a else {}),
            }
            for i, a in enumerate(attrs)
        ]
        return _answer(
            fmt, "service_definition", "attribute", {"service_code": code, "attributes": rows}
        )

    return _guard(fmt, run)


# ---------------------------------------------------------------- requests
def public_request(c: dict[str, Any], sla: dict[str, Any]) -> dict[str, Any]:
    """A case as Open311 shows it to anyone: no personal fields."""
    state = c["state"]
    updated = max(
        x
        for x in (c["created_at"], c.get("accepted_at"), c.get("resolved_at"), c.get("closed_at"))
        if x
    )
    return {
        "service_request_id": str(c["id"]),
        "status": "open" if state in OPEN else "closed",
        "status_notes": NOTES.get(state, state),
        "service_name": NAMES.get(c["type"], (c["type"], ""))[0],
        "service_code": c["type"],
        "description": "(private)" if c["type"] == "dispute" else c["title"],
        "agency_responsible": f"{c['level']} {c[c['level'] + '_id']}",
        "service_notice": "",
        "requested_datetime": _w3(c["created_at"]),
        "updated_datetime": _w3(updated),
        "expected_datetime": _w3(
            c["created_at"] + int(sla.get("resolve_secs", 0)) + int(c.get("paused_secs") or 0)
        ),
        "address": "",
        "address_id": "",
        "zipcode": "",
        "lat": "",
        "long": "",
        "media_url": "",
    }


def _query(request: Request) -> list[dict[str, Any]]:
    svc = services(request)
    q = request.query_params
    stmt = select(cases_table).order_by(cases_table.c.id.desc()).limit(1000)
    if q.get("service_request_id"):
        try:
            ids = [int(x) for x in q["service_request_id"].split(",") if x.strip()][:1000]
        except ValueError:
            raise ApiError(
                400, "bad_input", "service_request_id: comma-separated numbers"
            ) from None
        stmt = stmt.where(cases_table.c.id.in_(ids))
    else:
        if q.get("service_code"):
            stmt = stmt.where(
                cases_table.c.type.in_([s.strip() for s in q["service_code"].split(",")])
            )
        if q.get("status"):
            wanted = {s.strip().lower() for s in q["status"].split(",")}
            if not wanted <= {"open", "closed"}:
                raise ApiError(400, "bad_input", "status: open or closed")
            if wanted == {"open"}:
                stmt = stmt.where(cases_table.c.state.in_(OPEN))
            elif wanted == {"closed"}:
                stmt = stmt.where(cases_table.c.state.not_in(OPEN))
        end = _parse_w3(q["end_date"], "end_date") if q.get("end_date") else svc.now() + 1
        start = (
            _parse_w3(q["start_date"], "start_date") if q.get("start_date") else end - 90 * 86400
        )
        stmt = stmt.where(cases_table.c.created_at >= start, cases_table.c.created_at < end)
    types = svc.cases.types()
    with svc.db.read() as conn:
        rows = [dict(r) for r in conn.execute(stmt).mappings()]
    return [public_request(c, types.get(c["type"], {})) for c in rows]


@router.get("/requests.{ext}", summary="Open311: service requests (public fields only)")
def get_requests(ext: str, request: Request) -> Response:
    fmt = _fmt(ext)
    addr, _ = client(request)

    def run() -> Response:
        limit(request, "o311-get", addr, 600, 60)
        return _answer(fmt, "service_requests", "request", _query(request))

    return _guard(fmt, run)


@router.get("/requests/{request_id}.{ext}", summary="Open311: one service request")
def get_request(request_id: str, ext: str, request: Request) -> Response:
    fmt = _fmt(ext)

    def run() -> Response:
        if not request_id.isdigit() or not 0 < int(request_id) < 2**31:
            raise ApiError(404, "not_found", f"unknown service request {request_id}")
        svc = services(request)
        c = svc.cases.get(int(request_id))
        return _answer(
            fmt, "service_requests", "request", [public_request(c, svc.cases.types()[c["type"]])]
        )

    return _guard(fmt, run)


@router.post(
    "/requests.{ext}",
    summary="Open311: a resident's request (api_key + the chip or a registered device_id)",
)
async def post_request(ext: str, request: Request) -> Response:
    fmt = _fmt(ext)
    form = await request.form()
    fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}

    def run() -> Response:
        svc = services(request)
        key = fields.get("api_key") or ""
        row = svc.accounts.token(key) if key else None
        if row is None or row["kind"] != "staff" or not svc.accounts.get(row["username"]).active:
            raise ApiError(403, "forbidden", "api_key: a valid API token is required to post")
        code = fields.get("service_code", "")
        if code not in svc.cases.types():
            raise ApiError(400, "bad_input", f"service_code {code!r} is unknown")
        attrs = {
            k[len("attribute[") : -1]: v
            for k, v in fields.items()
            if k.startswith("attribute[") and k.endswith("]")
        }
        chip = attrs.pop("chip", None) or None
        hid = None
        if chip is None:
            hid = _device(request, fields.get("device_id", ""))
        details: dict[str, Any] = {k: v for k, v in attrs.items() if v != ""}
        desc = fields.get("description", "").strip()
        title = (desc.splitlines()[0] if desc else NAMES.get(code, (code, ""))[0])[:60]
        c = file_request(request, code, title, desc, details, chip=chip, household_id=hid)
        out = [{"service_request_id": str(c["id"]), "service_notice": "", "account_id": ""}]
        return _answer(fmt, "service_requests", "request", out, 201)

    try:
        return await _in_thread(fmt, run)
    except CasesError as e:  # pragma: no cover - _guard handles them
        body, status = chipkit_error(e)
        return _error(fmt, status, body["detail"])


def _device(request: Request, device_id: str) -> str:
    """The household of a registered phone: ``device_id`` is the device token that
    ``POST /api/v1/households/device`` returned (the PIN registered it)."""
    if not device_id:
        raise ApiError(
            400,
            "bad_input",
            "attribute[chip] (the door chip text) or device_id (a phone the household "
            "registered with its PIN) is required",
        )
    hid = device_household(request, device_id)
    if hid is None:
        raise ApiError(403, "forbidden", "device_id: not a registered phone (unknown or revoked)")
    return hid


async def _in_thread(fmt: str, fn: Any) -> Response:
    from starlette.concurrency import run_in_threadpool

    out: Response = await run_in_threadpool(_guard, fmt, fn)
    return out
