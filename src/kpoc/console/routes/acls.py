"""ACLs: list them, add and remove them (admins), through :mod:`kpoc.acls` (as ``kpoc acls``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from ...acls import OPERATIONS, RESOURCE_TYPES, AclSpec, add_acls, list_acls, remove_acls
from ...errors import KpocError
from .._context import Console, console_of, status_of

router = APIRouter()


class AclBody(BaseModel):
    resource_type: Literal["topic", "group", "cluster", "transactional_id"]
    resource_name: str | None = Field(None, max_length=255, description="not for 'cluster'")
    pattern: Literal["literal", "prefixed"] = "literal"
    principal: str = Field(min_length=1, max_length=255, examples=["User:alice"])
    operations: list[str] = Field(min_length=1, examples=[["read", "describe"]])
    host: str = "*"
    deny: bool = False

    def spec(self) -> AclSpec:
        return AclSpec(self.resource_type, self.resource_name or None, self.principal,
                       tuple(self.operations), self.pattern, self.host, self.deny)


@router.get("/api/acls", tags=["acls"])
def api_acls(request: Request) -> list[dict[str, Any]]:
    """Every ACL of the cluster (a cluster without an authorizer answers an error)."""
    return [a.to_dict() for a in list_acls(console_of(request).config)]


@router.post("/api/acls", tags=["acls"], status_code=201)
def api_add_acls(request: Request, body: AclBody) -> list[dict[str, Any]]:
    """Add one ACL per operation."""
    return [a.to_dict() for a in add_acls(console_of(request).config, body.spec())]


@router.post("/api/acls/delete", tags=["acls"])
def api_remove_acls(request: Request, body: AclBody) -> list[dict[str, Any]]:
    """Remove the ACLs that match exactly; answers those removed."""
    return [a.to_dict() for a in remove_acls(console_of(request).config, body.spec())]


def _acls_page(c: Console, request: Request, **extra: Any) -> Response:
    acls, unavailable = [], None
    try:
        acls = list_acls(c.config)
    except KpocError as exc:
        if status_of(exc) == 503:
            raise
        unavailable = exc  # no authorizer, or not allowed to see ACLs: say so on the page
    return c.render(request, "acls.html", {
        "acls": acls, "unavailable": unavailable, "page": "acls", "form": {},
        "resource_types": RESOURCE_TYPES, "operations": OPERATIONS, **extra},
        status_code=400 if extra.get("problem") else 200)


@router.get("/acls", include_in_schema=False)
def acls_page(request: Request, done: str | None = None) -> Response:
    notice = {"added": "ACL(s) added.", "removed": "ACL(s) removed."}.get(done or "")
    return _acls_page(console_of(request), request, notice=notice)


@router.post("/acls", include_in_schema=False)
def acls_form(request: Request, action: Literal["add", "remove"] = Form("add"),
              resource_type: str = Form("topic"), resource_name: str = Form(""),
              pattern: str = Form("literal"), principal: str = Form(""),
              operations: Annotated[list[str] | None, Form()] = None, host: str = Form("*"),
              permission: Literal["allow", "deny"] = Form("allow")) -> Response:
    c = console_of(request)
    operations = operations or []
    form = {"resource_type": resource_type, "resource_name": resource_name, "pattern": pattern,
            "principal": principal, "operations": operations, "host": host,
            "permission": permission}
    spec = AclSpec(resource_type, resource_name.strip() or None, principal.strip() or None,
                   tuple(operations), pattern, host.strip() or "*", permission == "deny")
    try:
        if action == "add":
            add_acls(c.config, spec)
        else:
            remove_acls(c.config, spec)
    except KpocError as exc:  # also Kafka's "no authorizer" or "not authorised": on the page
        if status_of(exc) == 503:
            raise
        return _acls_page(c, request, problem=exc, form=form)
    return RedirectResponse(f"/acls?done={'added' if action == 'add' else 'removed'}",
                            status_code=303)
