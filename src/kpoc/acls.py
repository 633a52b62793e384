"""ACLs: who may do what on which topic, group or the cluster (Kafka's ``StandardAuthorizer``).

One library for the CLI (``kpoc acls``) and anything else that manages access. A secure local
cluster (``kpoc cluster up --secure``) denies everything that no ACL allows, except to its super
users (``admin`` and the nodes themselves).
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import asdict, dataclass
from typing import Any

from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from ._client import admin_client, result
from .config import ClientConfig, check_text
from .errors import AuthError, UsageError

__all__ = ["OPERATIONS", "RESOURCE_TYPES", "Acl", "AclSpec", "add_acls", "list_acls",
           "remove_acls"]

RESOURCE_TYPES = ("topic", "group", "cluster", "transactional_id")
OPERATIONS = ("all", "read", "write", "create", "delete", "alter", "describe",
              "describe_configs", "alter_configs", "idempotent_write", "cluster_action")
PATTERNS = ("literal", "prefixed")
CLUSTER_NAME = "kafka-cluster"


@dataclass(frozen=True)
class Acl:
    """One ACL: ``principal`` is ``permission``-ed ``operation`` on a resource from ``host``."""

    principal: str
    host: str
    operation: str
    permission: str
    resource_type: str
    resource_name: str
    pattern: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def resource(self) -> str:
        star = "*" if self.pattern == "prefixed" else ""
        return f"{self.resource_type}:{self.resource_name}{star}"


@dataclass(frozen=True)
class AclSpec:
    """What to add, or which ACLs to match when listing/removing (None = any)."""

    resource_type: str | None = None
    resource_name: str | None = None
    principal: str | None = None
    operations: tuple[str, ...] = ()
    pattern: str | None = None
    host: str | None = None
    deny: bool | None = None


def normalize_principal(principal: str) -> str:
    """``alice`` → ``User:alice``; ``User:alice`` and ``User:CN=…`` are kept."""
    p = principal.strip()
    if not p or p.endswith(":"):
        raise UsageError(f"invalid principal {principal!r}", "give e.g. User:alice")
    return p if ":" in p else f"User:{p}"


def _check(spec: AclSpec) -> None:
    for what in ("principal", "host", "resource_name"):
        value = getattr(spec, what, None)
        if isinstance(value, str):
            check_text(value, what.replace("_", " "))
    if spec.resource_type is not None and spec.resource_type not in RESOURCE_TYPES:
        raise UsageError(f"unknown resource type {spec.resource_type!r}",
                         f"use one of: {', '.join(RESOURCE_TYPES)}")
    for op in spec.operations:
        if op not in OPERATIONS:
            raise UsageError(f"unknown operation {op!r}", f"use one of: {', '.join(OPERATIONS)}")
    if spec.pattern is not None and spec.pattern not in PATTERNS:
        raise UsageError(f"unknown pattern type {spec.pattern!r}", "use literal or prefixed")
    if spec.resource_name is not None and not spec.resource_name:
        raise UsageError("empty resource name", "name the topic or group")


def _acl(binding: AclBinding) -> Acl:
    b: Any = binding  # the stubs type these enum fields loosely
    return Acl(
        principal=b.principal,
        host=b.host,
        operation=b.operation.name.lower(),
        permission=b.permission_type.name.lower(),
        resource_type=b.restype.name.lower(),
        resource_name=b.name,
        pattern=b.resource_pattern_type.name.lower(),
    )


def _name(spec: AclSpec) -> str | None:
    if spec.resource_type == "cluster":
        return CLUSTER_NAME
    return spec.resource_name


def _filter(spec: AclSpec, operation: str | None) -> AclBindingFilter:
    rt = ResourceType[spec.resource_type.upper()] if spec.resource_type else ResourceType.ANY
    if spec.pattern:
        pattern = ResourcePatternType[spec.pattern.upper()]
    else:
        # With a name: ACLs that apply to it (literal, prefixed, wildcard); without: all.
        pattern = ResourcePatternType.MATCH if _name(spec) else ResourcePatternType.ANY
    perm = (AclPermissionType.ANY if spec.deny is None
            else AclPermissionType.DENY if spec.deny else AclPermissionType.ALLOW)
    factory: Any = AclBindingFilter  # the stubs forbid None, which means "any" here
    return factory(
        rt, _name(spec), pattern,
        normalize_principal(spec.principal) if spec.principal else None,
        spec.host, AclOperation[operation.upper()] if operation else AclOperation.ANY, perm,
    )


def _admin(config: ClientConfig) -> AdminClient:
    return admin_client(config)


def _wait(config: ClientConfig, future: concurrent.futures.Future, what: str) -> Any:
    return result(future, config, what, "acls")


def _require_cluster_describe(admin: AdminClient, config: ClientConfig) -> None:
    """Raise if this principal may not DESCRIBE the cluster.

    A refused DescribeAcls comes back from librdkafka as an empty list, not an error, so an
    empty answer is checked against the operations the broker says this principal may do.
    """
    fut = admin.describe_cluster(include_authorized_operations=True,
                                 request_timeout=config.timeout)
    res = _wait(config, fut, "list ACLs")
    ops = {op.name for op in (res.authorized_operations or [])}
    if not ops & {"DESCRIBE", "ALL", "ALTER"}:
        user = config.properties.get("sasl.username")
        raise AuthError(
            "list ACLs: not authorised: listing ACLs needs DESCRIBE on the cluster, which "
            f"{'User:' + str(user) if user else 'this principal'} lacks",
            "connect as an admin (a local secure cluster's: -F <data-dir>/client.properties)",
        )


def list_acls(config: ClientConfig, spec: AclSpec | None = None) -> list[Acl]:
    """The ACLs matching ``spec`` (all of them by default), sorted by resource then principal."""
    spec = spec or AclSpec()
    _check(spec)
    ops = spec.operations or (None,)
    admin = _admin(config)
    found: set[Acl] = set()
    for op in ops:
        fut = admin.describe_acls(_filter(spec, op), request_timeout=config.timeout)
        found.update(_acl(b) for b in _wait(config, fut, "list ACLs"))
    if not found:
        _require_cluster_describe(admin, config)
    return sorted(found, key=lambda a: (a.resource_type, a.resource_name, a.pattern,
                                        a.principal, a.permission, a.operation))


def add_acls(config: ClientConfig, spec: AclSpec) -> list[Acl]:
    """Create one ACL per operation in ``spec``; return them. Adding an existing ACL is a no-op."""
    _check(spec)
    if spec.resource_type is None or not spec.principal or not spec.operations:
        raise UsageError("an ACL needs a principal, an operation and a resource",
                         "e.g. --principal User:alice --operation read --topic orders")
    name = _name(spec)
    if name is None:
        raise UsageError(f"which {spec.resource_type}?", f"name it: --{spec.resource_type} NAME")
    principal = normalize_principal(spec.principal)
    bindings = [
        AclBinding(
            ResourceType[spec.resource_type.upper()], name,
            ResourcePatternType[(spec.pattern or "literal").upper()], principal,
            spec.host or "*", AclOperation[op.upper()],
            AclPermissionType.DENY if spec.deny else AclPermissionType.ALLOW,
        )
        for op in spec.operations
    ]
    admin = _admin(config)
    futures = admin.create_acls(bindings, request_timeout=config.timeout)
    for fut in futures.values():
        _wait(config, fut, "add ACLs")
    return [_acl(b) for b in bindings]


def remove_acls(config: ClientConfig, spec: AclSpec) -> list[Acl]:
    """Delete the ACLs matching ``spec`` exactly (literal/prefixed as given); return them.

    A resource is required, so a typo cannot wipe every ACL of the cluster.
    """
    _check(spec)
    if spec.resource_type is None or _name(spec) is None:
        raise UsageError("removing ACLs needs a resource",
                         "name it: --topic NAME, --group NAME or --cluster")
    exact = AclSpec(spec.resource_type, spec.resource_name, spec.principal, spec.operations,
                    spec.pattern or "literal", spec.host, spec.deny)
    admin = _admin(config)
    filters = [_filter(exact, op) for op in (spec.operations or (None,))]
    removed: list[Acl] = []
    for fut in admin.delete_acls(filters, request_timeout=config.timeout).values():
        removed.extend(_acl(b) for b in _wait(config, fut, "remove ACLs"))
    return sorted(set(removed), key=lambda a: (a.resource_name, a.principal, a.operation))
