"""Accounts held on this device, and how a person names one on the command line."""

from __future__ import annotations

from dataclasses import dataclass, field

from watchword_authenticator.codes import TotpParams, make_totp_params
from watchword_authenticator.errors import AccountAmbiguous, AccountExists, AccountNotFound

PUSH = "push"  # activated against a Watchword server: sign-in requests and codes
CODES = "codes"  # added from an otpauth:// URI: codes only, offline


@dataclass(frozen=True)
class Account:
    kind: str
    issuer: str
    account: str
    totp: TotpParams
    server: str | None = None
    device_id: str | None = None
    added: int = 0

    @property
    def label(self) -> str:
        return f"{self.issuer}: {self.account}" if self.issuer else self.account

    @property
    def kind_label(self) -> str:
        return "push+codes" if self.kind == PUSH else "codes only"

    def to_json(self) -> dict:
        data = {
            "kind": self.kind, "issuer": self.issuer, "account": self.account, "added": self.added,
            "totp": {"secret": self.totp.secret, "digits": self.totp.digits, "period": self.totp.period,
                     "algorithm": self.totp.algorithm},
        }
        if self.kind == PUSH:
            data.update(server=self.server, device_id=self.device_id)
        return data

    @classmethod
    def from_json(cls, data: dict) -> Account:
        """Raise ``ValueError`` / ``KeyError`` / ``TypeError`` for a damaged entry; the state
        loader turns those into one clear message."""
        kind = data["kind"]
        if kind not in (PUSH, CODES):
            raise ValueError(f"unknown account kind {kind!r}")
        totp = make_totp_params(**data["totp"])
        if kind == PUSH and not (isinstance(data.get("server"), str) and isinstance(data.get("device_id"), str)):
            raise ValueError("a push account needs its server and device id")
        if not isinstance(data["account"], str) or not isinstance(data.get("issuer", ""), str):
            raise ValueError("account and issuer must be text")
        return cls(kind=kind, issuer=data.get("issuer", ""), account=data["account"], totp=totp,
                   server=data.get("server") if kind == PUSH else None,
                   device_id=data.get("device_id") if kind == PUSH else None, added=int(data.get("added", 0)))


@dataclass
class AccountBook:
    accounts: list[Account] = field(default_factory=list)

    def add(self, account: Account) -> None:
        self.refuse_duplicate(issuer=account.issuer, account=account.account, server=account.server)
        self.accounts.append(account)

    def refuse_duplicate(self, *, issuer: str, account: str, server: str | None) -> None:
        """One entry per sign-in (issuer and account, on the same server for push accounts): a
        second copy would only go stale. A codes-only entry counts for any server."""
        for held in self.accounts:
            if same_sign_in(held, issuer=issuer, account=account, server=server):
                raise AccountExists(f"{held.label} is already added ({held.kind_label}). "
                                    f"To add it again, first run: watchword-authenticator remove '{held.label}'")

    def select(self, selector: str | None) -> list[Account]:
        """All accounts for ``None``; otherwise the one named by its sign-in name, its issuer,
        ``Issuer:account``, ``Issuer: account``, or device id (case-insensitive, must be unique)."""
        if selector is None:
            return list(self.accounts)
        wanted = selector.strip().casefold()
        matches = [held for held in self.accounts if wanted in _names_of(held)]
        if not matches:
            raise AccountNotFound(f"No account matches {selector!r}. See: watchword-authenticator list")
        if len(matches) > 1:
            names = ", ".join(f"'{held.label}'" for held in matches)
            raise AccountAmbiguous(f"{selector!r} matches {len(matches)} accounts ({names}); "
                                   "name one as Issuer:account or by its device id.")
        return matches

    def remove(self, account: Account) -> None:
        self.accounts.remove(account)


def same_sign_in(held: Account, *, issuer: str, account: str, server: str | None) -> bool:
    if held.account.casefold() != account.casefold() or held.issuer.casefold() != issuer.casefold():
        return False
    return server is None or held.server is None or held.server == server


def _names_of(held: Account) -> set[str]:
    names = {held.account, held.label, f"{held.issuer}:{held.account}"}
    if held.issuer:
        names.add(held.issuer)
    if held.device_id:
        names.add(held.device_id)
    return {name.casefold() for name in names}
