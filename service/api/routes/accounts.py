"""Moderator accounts, for a tenant's admins: GET /v1/accounts, POST /v1/accounts (create), POST
/v1/accounts/{name}/password (set a new one: ends the account's sessions), POST /v1/accounts/{name}/unlock and
DELETE /v1/accounts/{name}. Each change is audited (``account_*``) under the admin who made it; passwords are
shown once, when set, and kept only as argon2id hashes (service/moderation/accounts.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from service.api.deps import AccountsDep, AdminDep
from service.api.schemas import AccountIn, AccountOut, AccountPasswordOut, AccountsOut, PasswordIn
from service.errors import NotFound
from service.moderation.accounts import Accounts

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])

AccountName = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", description="the account's name")]


@router.get("", response_model=AccountsOut)
async def list_accounts(principal: AdminDep, accounts: AccountsDep) -> AccountsOut:
    """The tenant's accounts, by name (never a password or its hash)."""
    found = await accounts.list(principal.tenant)
    return AccountsOut(items=[AccountOut.model_validate(a.public()) for a in found])


@router.post("", response_model=AccountPasswordOut, status_code=201)
async def create_account(body: AccountIn, principal: AdminDep, accounts: AccountsDep) -> AccountPasswordOut:
    """A new account for one person; its password is the one given or a generated one, shown here once."""
    password = await accounts.create(principal.tenant, body.name, body.role, by=principal.name, password=body.password)
    return AccountPasswordOut(account=await _out(accounts, principal.tenant, body.name), password=password)


@router.post("/{name}/password", response_model=AccountPasswordOut)
async def set_password(
    name: AccountName, principal: AdminDep, accounts: AccountsDep, body: PasswordIn | None = None
) -> AccountPasswordOut:
    """A new password (given, or generated and shown once): it unlocks the account and signs it out everywhere."""
    password = await accounts.set_password(
        principal.tenant, name, by=principal.name, password=body.password if body else None
    )
    return AccountPasswordOut(account=await _out(accounts, principal.tenant, name), password=password)


@router.post("/{name}/unlock", response_model=AccountOut)
async def unlock(name: AccountName, principal: AdminDep, accounts: AccountsDep) -> AccountOut:
    """End a lockout (too many wrong passwords) before it runs out."""
    await accounts.unlock(principal.tenant, name, by=principal.name)
    return await _out(accounts, principal.tenant, name)


@router.delete("/{name}", status_code=204)
async def remove(name: AccountName, principal: AdminDep, accounts: AccountsDep) -> Response:
    """Remove the account: it can no longer sign in, and its open sessions end at once."""
    await accounts.remove(principal.tenant, name, by=principal.name)
    return Response(status_code=204)


async def _out(accounts: Accounts, tenant: str, name: str) -> AccountOut:
    account = await accounts.get(tenant, name)
    if account is None:
        raise NotFound(f"no account {name!r}")
    return AccountOut.model_validate(account.public())
