"""Token administration (admin role)."""

from __future__ import annotations

from typing import Any

from flask_restx import Namespace, fields

from app.auth import service
from app.auth.decorators import Resource, actor, require
from app.db import iso
from app.web import db

ns = Namespace("tokens", description="API tokens (admin)")

token_in = ns.model(
    "TokenCreate",
    {
        "name": fields.String(required=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", max_length=64),
        "role": fields.String(required=True, enum=list(service.ROLES)),
    },
    strict=True,
)

token_out = ns.model(
    "Token",
    {
        "id": fields.Integer,
        "name": fields.String,
        "role": fields.String,
        "prefix": fields.String,
        "created_at": fields.String,
        "created_by": fields.String,
        "last_used_at": fields.String,
        "revoked_at": fields.String,
    },
)
token_created = ns.inherit("TokenCreated", token_out, {"token": fields.String(description="shown once")})


def _out(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "prefix": row.prefix,
        "created_at": iso(row.created_at),
        "created_by": row.created_by,
        "last_used_at": iso(row.last_used_at),
        "revoked_at": iso(row.revoked_at),
    }


@ns.route("")
class Tokens(Resource):
    """/api/v1/tokens: list and create API tokens (admin)."""

    @require("admin")
    @ns.marshal_list_with(token_out)
    def get(self) -> list[dict[str, Any]]:
        """List tokens (never their secrets)."""
        with db().read() as session:
            return [_out(t) for t in service.list_tokens(session)]

    @require("admin")
    @ns.expect(token_in, validate=True)
    @ns.response(201, "Created", token_created)
    @ns.response(409, "Name taken")
    def post(self) -> Any:
        """Create a token; its secret is in this answer only."""
        body = ns.payload
        with db().write() as session:
            row, secret = service.create(session, name=body["name"], role=body["role"], by=actor())
            return {**_out(row), "token": secret}, 201


@ns.route("/<int:token_id>")
class Token(Resource):
    """/api/v1/tokens/<id>: revoke one token (admin)."""

    @require("admin")
    @ns.response(404, "No such token")
    @ns.marshal_with(token_out)
    def delete(self, token_id: int) -> dict[str, Any]:
        """Revoke a token (it stays listed, marked revoked)."""
        with db().write() as session:
            return _out(service.revoke(session, token_id=token_id, by=actor()))
