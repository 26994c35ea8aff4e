"""The sign-in flow as an explicit state machine, kept in the session.

    name ──▶ password ──▶ [change_password] ──▶ decision
                                                  ├─ allow ─────────────────────▶ done
                                                  ├─ require_mfa ──▶ mfa (push | code) ──▶ done
                                                  ├─ require_registration ──▶ interrupt ──▶ register ──▶ done
                                                  └─ block ─────────────────────▶ (refused)

Each view checks that the flow is at its stage; a request for any other stage is sent back to
where the flow really is, so no step can be skipped.

Until the password is right, the flow lives in a signed value in the password form, not in the
session: typing a name (which anyone can do, any number of times) writes nothing to the
database. The session holds the flow from the first step a correct password unlocks.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.core import signing

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
    mfa_method: str = ""  # at the MFA stage: "push" (approve a request), "code", "text" or "call"
    push_challenge: str = ""  # the sign-in request the waiting page is waiting for
    phone_method: int | None = None  # the phone method a text or call goes to
    phone_code: int | None = None  # the text code sent
    phone_call: str = ""  # the call placed
    app: str = ""  # the application signed in to (a policy's target)
    allowed: list[str] = field(default_factory=list)  # factor combinations that satisfy the policies ([]: any)
    log: dict = field(default_factory=dict)  # the decision's sign-in log fields, for the rows that follow
    frequency: int | None = None  # sign-in frequency (s) the policies set for the session
    persistent: str = ""  # persistent browser session: "always" | "never" | ""
    skip_days: int | None = None  # registration may be skipped for this many days
    remember: bool = False  # "Don't ask again on this browser"

    @classmethod
    def start(cls, name: str, *, next_url: str = "", reauth: bool = False, user_id: int | None = None,
              stage: str = Stage.PASSWORD) -> "Flow":
        return cls(id=secrets.token_hex(8), name=name, stage=stage, started=time.time(), next_url=next_url,
                   reauth=reauth, user_id=user_id)

    @property
    def expired(self) -> bool:
        return time.time() - self.started > settings.SIGNIN_FLOW_SECONDS


NAME_STEP_SALT = "watchword.signin.name-step"
MAX_TOKEN = 2048


class NameStepExpired(Exception):
    """The password form was filled in after the sign-in's time ran out."""

    def __init__(self, flow: "Flow | None") -> None:
        super().__init__("sign-in expired")
        self.flow = flow


def name_step_token(flow: Flow) -> str:
    """The flow so far (a name typed at a time), signed, for the password form to carry."""
    return signing.dumps({"i": flow.id, "n": flow.name, "x": flow.next_url, "s": int(flow.started)},
                         salt=NAME_STEP_SALT)


def from_name_step_token(token: object) -> Flow | None:
    """The flow a password form carries; ``None`` when it is missing or was not made here."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
        return None
    try:
        return _flow_of(signing.loads(token, salt=NAME_STEP_SALT, max_age=settings.SIGNIN_FLOW_SECONDS))
    except signing.SignatureExpired:
        # Genuinely ours, only too old: say whose sign-in expired, for the sign-in log.
        raise NameStepExpired(_flow_of(signing.loads(token, salt=NAME_STEP_SALT))) from None
    except signing.BadSignature:
        return None


def _flow_of(data: object) -> Flow | None:
    try:
        return Flow(id=str(data["i"]), name=str(data["n"]), stage=Stage.PASSWORD, started=float(data["s"]),
                    next_url=str(data["x"]))
    except (KeyError, TypeError, ValueError):
        return None


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
