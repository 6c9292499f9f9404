"""Authenticated actors: API tokens, OIDC JWTs and the bootstrap admin token, with roles
viewer < operator < approver < admin (see :mod:`cavra_contracts.actors`).

Routes declare ``Viewer``, ``Operator``, ``Approver`` or ``Admin``; :data:`PERMISSIONS` names every
action with the least role that may do it.
"""

from __future__ import annotations

from cavra_gateway.auth.dependencies import (
    Admin,
    Approver,
    Authenticator,
    Operator,
    Viewer,
    optional_actor,
    refuse_claimed_identity,
    require,
    resolve_actor,
)
from cavra_gateway.auth.permissions import PERMISSIONS, permissions_of

__all__ = [
    "PERMISSIONS",
    "Admin",
    "Approver",
    "Authenticator",
    "Operator",
    "Viewer",
    "optional_actor",
    "permissions_of",
    "refuse_claimed_identity",
    "require",
    "resolve_actor",
]
