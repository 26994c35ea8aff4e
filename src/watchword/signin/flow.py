"""The sign-in flow as an explicit state machine, kept in the session.

    name ──▶ password ──▶ [change_password] ──▶ decision
                                                  ├─ allow ─────────────────────▶ done
                                                  ├─ require_mfa ──▶ mfa ───────▶ done
                                                  ├─ require_registration ──▶ interrupt ──▶ register ──▶ done
                                                  └─ block ─────────────────────▶ (refused)

Each view checks that the flow is at its stage (``expect``); a request for any other stage is
sent back to where the flow really is, so no step can be skipped.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field

from django.conf import settings

SESSION_KEY = "watchword_signin"


class Stage:
    PASSWORD = "password"
    CHANGE_PASSWORD = "change_password"
    INTERRUPT = "interrupt"
    REGISTER = "register"
    MFA = "mfa"


STAGE_URLS = {
    Stage.PASSWORD: "signin:password",
    Stage.CHANGE_PASSWORD: "signin:change_password",
    Stage.INTERRUPT: "signin:interrupt",
    Stage.REGISTER: "signin:register",
    Stage.MFA: "signin:verify",
}


@dataclass
class Flow:
    id: str
    name: str
    stage: str
    started: float
    user_id: int | None = None
    amr: list[str] = field(default_factory=list)
    attempts: int = 0
    next_url: str = ""
    reauth: bool = False
    requirement: str = ""
    error_code: int | None = None

    @classmethod
    def start(cls, name: str, *, next_url: str = "", reauth: bool = False, user_id: int | None = None,
              stage: str = Stage.PASSWORD) -> "Flow":
        return cls(id=secrets.token_hex(8), name=name, stage=stage, started=time.time(), next_url=next_url,
                   reauth=reauth, user_id=user_id)

    @property
    def expired(self) -> bool:
        return time.time() - self.started > settings.SIGNIN_FLOW_SECONDS


def load(request) -> Flow | None:
    data = request.session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return None
    try:
        return Flow(**data)
    except TypeError:
        return None


def save(request, flow: Flow) -> None:
    request.session[SESSION_KEY] = asdict(flow)


def discard(request) -> None:
    request.session.pop(SESSION_KEY, None)
    request.session.pop("watchword_enrol", None)
    request.session.pop("watchword_enrol_done", None)
