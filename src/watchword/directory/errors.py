from watchword.core.errors import NotFound, PermissionDenied, WatchwordError


class UserNotFound(NotFound):
    code = "user_not_found"
    message = "There is no such user."


class UserExists(WatchwordError):
    code = "user_exists"
    status = 409
    message = "A user with this sign-in name already exists."


class InvalidUserField(WatchwordError):
    code = "invalid_user_field"
    message = "A value is not valid."


class WeakPassword(WatchwordError):
    code = "weak_password"
    message = "Choose a stronger password."


class RoleChangeDenied(PermissionDenied):
    code = "role_change_denied"
    message = "Only a Global Administrator can change admin roles."


class LastGlobalAdmin(WatchwordError):
    code = "last_global_admin"
    status = 409
    message = "This is the last enabled Global Administrator; keep at least one."


class InvalidMfaState(WatchwordError):
    code = "invalid_mfa_state"
    message = "The MFA state must be disabled, enabled or enforced."


class GroupInUse(WatchwordError):
    code = "group_in_use"
    status = 409
    message = "A Conditional Access policy uses this group."


class GroupExists(WatchwordError):
    code = "group_exists"
    status = 409
    message = "A group with this name already exists."


class GroupNotFound(NotFound):
    code = "group_not_found"
    message = "There is no such group."


class InvalidGroupField(WatchwordError):
    code = "invalid_group_field"
    message = "A group value is not valid."


class ManagedByDirectory(WatchwordError):
    """A value the person's directory owns (source of authority) was to be changed here."""

    code = "managed_by_directory"
    status = 409
    message = "This value is managed by your organisation's directory."
