"""What people and admins do with methods, and the per-user MFA state that depends on them."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from watchword.audit.services import record_change
from watchword.core import sealing
from watchword.delivery.services import notify_mfa_enabled
from watchword.directory.models import MfaState, User
from watchword.directory.services import clean_mfa_state
from watchword.methods import registry
from watchword.methods.errors import LastMethodRequired, MethodNotFound
from watchword.methods import push
from watchword.methods.models import FraudReport, Method, PushDevice
from watchword.policy.engine import state_after_admin_sets, state_after_registration

registry.load_builtin_types()


def methods_of(user: User) -> list[Method]:
    return list(Method.objects.filter(user=user).select_related("device"))


def device_of(method: Method):
    """The push device behind a method, or None for other kinds."""
    return getattr(method, "device", None) if method.type == "push" else None


def default_method(user: User) -> Method | None:
    """The person's chosen default, or the most secure registered method."""
    return default_method_of(methods_of(user))


def default_method_of(methods: list[Method]) -> Method | None:
    for method in methods:
        if method.is_default:
            return method
    if not methods:
        return None
    return sorted(methods, key=lambda m: registry.get(m.type).preference)[0]


def set_mfa_state(user: User, requested: object, *, actor, request=None, notify: bool = True) -> User:
    """Set per-user MFA. Enabled for someone who already has a method becomes Enforced; moving a
    person from Disabled to Enabled/Enforced sends them an e-mail saying what to expect."""
    requested_state = clean_mfa_state(requested)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        has_method = Method.objects.filter(user=user).exists()
        new_state = state_after_admin_sets(requested_state, has_method=has_method)
        before = user.mfa_state
        if new_state == before:
            return user
        user.mfa_state = new_state
        user.save(update_fields=["mfa_state", "updated_at"])
        record_change(actor=actor, action="user.mfa.state", target=user, before={"mfa_state": before},
                      after={"mfa_state": new_state}, request=request)
    if notify and before == MfaState.DISABLED:
        notify_mfa_enabled(user)
    return user


def complete_registration(user: User, method: Method, *, request=None) -> User:
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        record_change(actor=user, action="method.register", target=user,
                      after={"type": method.type, "name": method.name, "method_id": method.pk}, request=request)
        new_state = state_after_registration(user.mfa_state)
        if new_state != user.mfa_state:
            record_change(actor="system", action="user.mfa.state", target=user,
                          before={"mfa_state": user.mfa_state}, after={"mfa_state": new_state},
                          request=request, reason="registration completed")
            user.mfa_state = new_state
            user.save(update_fields=["mfa_state", "updated_at"])
    return user


def delete_method(user: User, method_id: object, *, actor, request=None) -> None:
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        try:
            method = Method.objects.get(pk=int(str(method_id)), user=user)
        except (Method.DoesNotExist, ValueError, OverflowError):
            raise MethodNotFound() from None
        remaining = Method.objects.filter(user=user).exclude(pk=method.pk)
        if not remaining.exists() and user.mfa_state == MfaState.ENFORCED:
            raise LastMethodRequired()
        removed = {"type": method.type, "name": method.name, "method_id": method.pk}
        device_ids = list(PushDevice.objects.filter(method=method).values_list("device_id", flat=True))
        method.delete()
        push.forget_devices(device_ids)
        if method.is_default and remaining.exists():
            best = sorted(remaining, key=lambda m: registry.get(m.type).preference)[0]
            Method.objects.filter(pk=best.pk).update(is_default=True)
        record_change(actor=actor, action="method.delete", target=user, before=removed, request=request)


def set_default_method(user: User, choice: object, *, actor, request=None) -> Method:
    """Make a method the default: ``"<id>"``, or ``"<id>:call"`` / ``"<id>:text"`` for a mobile,
    whose default way (a call or a texted code) is part of the choice, as in the reference."""
    method_id, _, channel = str(choice).partition(":")
    with transaction.atomic():
        try:
            method = Method.objects.select_for_update().get(pk=int(method_id), user=user)
        except (Method.DoesNotExist, ValueError, OverflowError):
            raise MethodNotFound() from None
        channels = getattr(registry.get(method.type), "channels", ())
        if channel and channel not in channels:
            raise MethodNotFound()
        before = default_method(user)
        Method.objects.filter(user=user).exclude(pk=method.pk).update(is_default=False)
        Method.objects.filter(pk=method.pk).update(is_default=True, preferred_channel=channel)
        record_change(actor=actor, action="method.default", target=user,
                      before={"method_id": before.pk if before else None},
                      after={"method_id": method.pk, **({"channel": channel} if channel else {})}, request=request)
    return method


def require_reregistration(user: User, *, actor, request=None) -> User:
    """The reference's "Require re-register MFA": delete the person's methods, so the next
    sign-in asks them to register again, and sign them out everywhere."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        removed = [{"type": m.type, "name": m.name, "method_id": m.pk} for m in Method.objects.filter(user=user)]
        device_ids = list(PushDevice.objects.filter(user=user).values_list("device_id", flat=True))
        Method.objects.filter(user=user).delete()
        PushDevice.objects.filter(user=user).delete()  # pending ones too
        push.forget_devices(device_ids)
        if user.mfa_state == MfaState.ENFORCED:
            user.mfa_state = MfaState.ENABLED
        user.session_epoch += 1
        user.save(update_fields=["mfa_state", "session_epoch", "updated_at"])
        record_change(actor=actor, action="user.mfa.require_reregistration", target=user,
                      before={"methods": removed}, after={"methods": [], "mfa_state": user.mfa_state},
                      request=request)
    return user


def report_fraud(user: User, *, method_type: str, challenge_id: str = "", app: str = "", ip: str | None = None,
                 now: datetime) -> FraudReport:
    """"No, it's not me": record the report for the admins and, when the organisation blocks on
    fraud reports (the default), refuse the person's MFA until an administrator unblocks them."""
    from django.conf import settings

    block = settings.FRAUD_REPORT_BLOCKS
    with transaction.atomic():
        report = FraudReport.objects.create(user=user, method_type=method_type, challenge_id=challenge_id, app=app,
                                            ip=ip, blocked=block)
        if block:
            User.objects.filter(pk=user.pk, mfa_blocked_at__isnull=True).update(mfa_blocked_at=now)
        record_change(actor=user, action="user.mfa.fraud_report", target=user,
                      after={"blocked": block, "method": method_type, "sign_in_ip": ip},
                      reason="Fraud reported - user is blocked for MFA" if block
                      else "Fraud reported - no action taken")
    return report


def unblock_mfa(user: User, *, actor, request=None) -> User:
    """An administrator lifts a fraud block; the person's open reports count as reviewed."""
    from django.utils import timezone

    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        before = user.mfa_blocked_at
        user.mfa_blocked_at = None
        user.save(update_fields=["mfa_blocked_at", "updated_at"])
        FraudReport.objects.filter(user=user, reviewed_at__isnull=True).update(
            reviewed_at=timezone.now(), reviewed_by=actor.upn if hasattr(actor, "upn") else str(actor))
        record_change(actor=actor, action="user.mfa.unblock", target=user,
                      before={"mfa_blocked": before is not None}, after={"mfa_blocked": False}, request=request)
    return user


def review_fraud_report(report_id: object, *, actor, request=None) -> FraudReport:
    """Mark a report reviewed without unblocking (the admin decided the block stays, or there was none)."""
    from django.utils import timezone

    from watchword.core.errors import NotFound

    try:
        report = FraudReport.objects.select_related("user").get(pk=int(str(report_id)))
    except (FraudReport.DoesNotExist, ValueError, OverflowError):
        raise NotFound() from None
    if report.reviewed_at is None:
        label = actor.upn if hasattr(actor, "upn") else str(actor)
        FraudReport.objects.filter(pk=report.pk).update(reviewed_at=timezone.now(), reviewed_by=label)
        record_change(actor=actor, action="user.mfa.fraud_report.review", target=report.user,
                      after={"report_id": report.pk}, request=request)
    return report


def rotate_seal_keys(*, progress=None) -> dict:
    """Add a new primary key, re-seal every stored secret under it, then retire the old keys.

    Crash-safe: the keyring with both keys is written before any row changes, and old keys are
    dropped only after every row has been re-sealed in one transaction.
    """
    from django.conf import settings

    path = settings.SEAL_KEYRING
    old = sealing.load_keyring(path)
    new = old.with_new_primary()
    sealing.write_keyring(path, new)
    count = 0
    with transaction.atomic():
        rows = list(Method.objects.select_for_update().exclude(secret_sealed=""))
        for index, method in enumerate(rows, 1):
            # ``new`` still holds the old keys, so it opens every value and seals under the new primary.
            method.secret_sealed = registry.get(method.type).reseal(method=method, old=new, new=new)
            method.save(update_fields=["secret_sealed"])
            count += 1
            if progress:
                progress(index, len(rows))
        push.reseal_device_keys(old=new, new=new)
        from watchword.protocols.services import reseal_secrets as reseal_radius_secrets

        count += reseal_radius_secrets(old=new, new=new)
        from watchword.sync.services import reseal_passwords as reseal_bind_passwords

        count += reseal_bind_passwords(old=new, new=new)
    sealing.write_keyring(path, new.only_primary())
    return {"key_id": new.primary, "resealed": count, "retired": sorted(set(old.keys) - {new.primary})}


def now_utc() -> datetime:
    from django.utils import timezone

    return timezone.now()
