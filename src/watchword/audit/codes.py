"""Sign-in error codes, matching the reference system's where it has one."""

BAD_CREDENTIALS = 50126  # Invalid username or password
ACCOUNT_DISABLED = 50057  # The user account is disabled
THROTTLED = 50053  # Account is locked (here: temporarily slowed down) after too many attempts
REGISTRATION_REQUIRED = 50072  # User needs to enroll for second factor authentication
REGISTRATION_REQUIRED_POLICY = 50079  # Due to a configuration change, you must enroll in MFA
MFA_REQUIRED = 50074  # Strong authentication is required
MFA_FAILED = 50076  # Multi-factor authentication failed / must be completed
MFA_DENIED = 500121  # Authentication failed during strong authentication request (the reason says why)
MFA_ATTEMPTS_EXCEEDED = MFA_DENIED
PASSWORD_CHANGE_REQUIRED = 50055  # Password expired / must be changed
FLOW_EXPIRED = 50058  # Session information is not sufficient (sign-in flow expired)
DIRECTORY_UNAVAILABLE = 80001  # Pass-through: the on-premises directory cannot be reached
DIRECTORY_TIMEOUT = 80002  # Pass-through: the directory did not answer in time

DESCRIPTIONS = {
    BAD_CREDENTIALS: "Invalid user name or password",
    ACCOUNT_DISABLED: "Account is disabled",
    THROTTLED: "Too many attempts; temporarily slowed down",
    REGISTRATION_REQUIRED: "Must register for MFA",
    REGISTRATION_REQUIRED_POLICY: "Must register for MFA (required by an administrator)",
    MFA_REQUIRED: "MFA required",
    MFA_FAILED: "MFA failed: wrong or reused code",
    MFA_DENIED: "MFA denied: declined, reported as fraud, blocked, unanswered or too many wrong codes",
    PASSWORD_CHANGE_REQUIRED: "Password must be changed",
    FLOW_EXPIRED: "Sign-in expired",
    DIRECTORY_UNAVAILABLE: "The organisation's directory could not be reached to check the password",
    DIRECTORY_TIMEOUT: "The organisation's directory did not answer in time to check the password",
}
