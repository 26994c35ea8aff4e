from django.conf import settings


def organisation(request):
    user = getattr(request, "user", None)
    path = getattr(request, "path", "")
    nav = "admin" if path.startswith("/admin") else "securityinfo" if path.startswith("/mysecurityinfo") else "myaccount"
    section = path.split("/")[2] if path.startswith("/admin/") and len(path.split("/")) > 2 else ""
    return {
        "organisation_name": settings.ORGANISATION_NAME,
        "is_admin": bool(user is not None and user.is_authenticated and user.is_admin),
        "nav": nav,
        "section": section,
        "min_length": settings.PASSWORD_MIN_LENGTH,
        "admin_without_mfa": getattr(request, "admin_without_second_factor", False),  # set by admin_required
        "open_fraud_reports": _open_fraud_reports,  # called only by the admin layout
    }


def _open_fraud_reports() -> int:
    from watchword.methods.models import FraudReport

    return FraudReport.objects.filter(reviewed_at__isnull=True).count()
