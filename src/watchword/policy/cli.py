"""``watchword policy …``: Conditional Access policies (list, show, export, import, state, delete),
Security Defaults, the what-if tool, named locations, the MFA settings and the
authentication-methods policy, from the server's shell.

Every change goes through ``policy.services`` as the admin pages' do, audited as "cli", with the
same checks: a policy that could lock administrators out is refused until ``--confirm``. Bad
values print the field at fault and exit 2; refusals (not found, a conflict) exit 1.
"""

from __future__ import annotations

import functools
import json
import re
import sys

from watchword.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, _fail, _print_table

ACTOR = "cli"
STATES = {"on": "enabled", "report-only": "enabledForReportingButNotEnforced", "off": "disabled"}
STATE_WORDS = {value: word for word, value in STATES.items()}
OUTCOMES = {
    "allow": "Allowed: the password alone is enough.",
    "require_mfa": "MFA required: the person is asked for a second factor.",
    "require_registration": "Registration required: the person must register an MFA method first.",
    "block": "Blocked: the sign-in is refused.",
}
RESULTS = {"applied": "enforced", "reportOnlySuccess": "report-only: would be satisfied",
           "reportOnlyWouldBlock": "report-only: would block",
           "reportOnlyWouldRequireMfa": "report-only: would require MFA"}
TRUE, FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
FACTOR_WORDS = {"password,microsoftAuthenticatorPush": "authenticator notification",
                "password,softwareOath": "authenticator code", "password,hardwareOath": "hardware token code",
                "password,sms": "text message", "password,voice": "voice call"}


class UsageError(Exception):
    """A bad argument found after parsing: its message is printed and the command exits 2."""


def _command(func):
    """Turn a command's refusals into one line on standard error and its exit code."""
    @functools.wraps(func)
    def run(args) -> int:
        from watchword.core.errors import WatchwordError
        from watchword.policy.errors import LockoutRisk, PolicyInvalid

        try:
            return func(args)
        except UsageError as exc:
            return _fail(str(exc), EXIT_USAGE)
        except LockoutRisk as exc:
            _print_lockout(exc.detail.get("warnings") or [exc.public_message])
            return EXIT_FAILED
        except WatchwordError as exc:
            where = f"{exc.field}: " if exc.field else ""
            return _fail(f"{where}{exc.public_message} [{exc.code}]",
                         EXIT_USAGE if isinstance(exc, PolicyInvalid) else EXIT_FAILED)

    return run


def _print_lockout(warnings, policy: str = "") -> None:
    print(f"watchword: {policy or 'this change'} could lock administrators out [policy_lockout_risk]:",
          file=sys.stderr)
    for warning in warnings:
        print(f"  - {warning}", file=sys.stderr)
    print("Nothing was saved. Re-run with --confirm to save it anyway.", file=sys.stderr)


def _read_json(path: str):
    from watchword.policy.graph import MAX_MANY_BYTES

    name = "standard input" if path == "-" else path
    try:
        if path == "-":
            text = sys.stdin.read(MAX_MANY_BYTES + 1)
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read(MAX_MANY_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{name} is not UTF-8 text") from None
    if len(text) > MAX_MANY_BYTES:
        raise UsageError(f"{name} is larger than {MAX_MANY_BYTES // (1024 * 1024)} MB")
    try:
        return json.loads(text)
    except RecursionError:
        raise UsageError(f"{name} is nested too deeply to be a policy") from None
    except ValueError as exc:
        raise UsageError(f"{name} is not valid JSON: {exc}") from None


def _policy(value: str):
    """A policy by id, or by its exact name when only one has it."""
    from watchword.policy import services
    from watchword.policy.errors import PolicyNotFound
    from watchword.policy.models import ConditionalAccessPolicy

    try:
        return services.get_policy(value)
    except PolicyNotFound:
        named = list(ConditionalAccessPolicy.objects.filter(display_name=value)[:2])
        if len(named) > 1:
            raise UsageError(f"more than one policy is called {value!r}; give its id "
                             f"('watchword policy list' shows them)") from None
        if not named:
            raise PolicyNotFound(f"There is no policy {value[:80]!r}; 'watchword policy list' shows them.") from None
        return named[0]


def _print_json(data) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


# --- Conditional Access policies ----------------------------------------------------------------

def _grant_text(row, strength_names: dict) -> str:
    """What a policy does, in a few words (the list's GRANT column)."""
    from watchword.policy.document import compile_policy
    from watchword.policy.errors import PolicyInvalid

    try:
        policy = compile_policy(row.document)
    except PolicyInvalid:
        return "(cannot be read: MFA is required of everyone until it is fixed or deleted)"
    if policy.block:
        return "block"
    grants = ["MFA" if control == "mfa" else control for control in policy.controls]
    if policy.strength:
        grants.append(f"strength '{strength_names.get(policy.strength, policy.strength)}'")
    parts = [(" and " if policy.operator == "AND" else " or ").join(grants)]
    seconds = policy.frequency_seconds
    if seconds is not None:
        amount, unit = (seconds // 86400, "day") if seconds % 86400 == 0 else (seconds // 3600, "hour")
        parts.append("sign-in every time" if seconds == 0 else
                     f"sign-in every {amount} {unit}{'' if amount == 1 else 's'}")
    if policy.persistent_browser:
        parts.append(f"persistent browser {policy.persistent_browser}")
    return "; ".join(part for part in parts if part)


@_command
def cmd_list(args) -> int:
    from watchword.policy import strengths
    from watchword.policy.models import AuthenticationStrength, ConditionalAccessPolicy

    names = {s.id: s.name for s in strengths.BUILT_IN.values()}
    names.update((str(pk), name) for pk, name in AuthenticationStrength.objects.values_list("pk", "display_name"))
    rows = [{"id": str(row.pk), "name": row.display_name, "state": STATE_WORDS.get(row.state, row.state),
             "grant": _grant_text(row, names)} for row in ConditionalAccessPolicy.objects.all()]
    if not rows:
        print("No Conditional Access policies. Add some with: watchword policy import FILE")
        return EXIT_OK
    _print_table(rows, ["id", "name", "state", "grant"], strip=True)
    return EXIT_OK


@_command
def cmd_show(args) -> int:
    from watchword.policy.api import export

    _print_json(export(_policy(args.id)))
    return EXIT_OK


@_command
def cmd_export(args) -> int:
    from watchword.policy import graph
    from watchword.policy.api import export
    from watchword.policy.models import ConditionalAccessPolicy

    policies = [export(row) for row in ConditionalAccessPolicy.objects.all()]
    text = json.dumps(graph.export_many(policies), indent=2, ensure_ascii=False) + "\n"
    if not args.output:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise UsageError(f"cannot write {args.output}: {exc.strerror}") from None
    print(f"Exported {len(policies)} polic{'y' if len(policies) == 1 else 'ies'} to {args.output}.")
    return EXIT_OK


def _prefix(data) -> str | None:
    """How ``graph.import_many`` names the policies of this input in field paths: ``value[i]``
    (Graph's envelope), ``[i]`` (a list), or nothing (one policy)."""
    if isinstance(data, dict) and isinstance(data.get("value"), list) and "displayName" not in data:
        return "value"
    return "" if isinstance(data, list) else None


@_command
def cmd_import(args) -> int:
    from django.db import transaction

    from watchword.core.errors import WatchwordError
    from watchword.policy import graph, services
    from watchword.policy.errors import LockoutRisk
    from watchword.policy.resolve import DatabaseResolver

    data = _read_json(args.file)
    prefix = _prefix(data)

    def where(index: int, field: str | None) -> str:
        if prefix is None:
            return field or ""
        return f"{prefix}[{index}]" + (f".{field}" if field else "")

    results = graph.import_many(data, resolve=DatabaseResolver())
    for index, result in enumerate(results):
        print(f"Policy {index + 1}: {result.document['displayName']!r}"
              + ("" if result.warnings else " (no warnings)"))
        for warning in result.warnings:
            print(f"  warning: {where(index, warning.field)}: {warning.message}")
    saved, risks = [], []
    with transaction.atomic():
        for index, result in enumerate(results):
            name = result.document["displayName"]
            try:
                row, lockout = services.save_policy(result.document, actor=ACTOR, confirm=args.confirm)
            except LockoutRisk as exc:  # raised before anything is written: look at the others too
                risks.append((index, name, exc.detail.get("warnings") or [exc.public_message]))
                continue
            except WatchwordError as exc:
                exc.public_message = f"Policy {index + 1} ({name!r}): {exc.public_message}"
                exc.field = where(index, exc.field) or None
                raise
            saved.append((row, lockout))
        if risks or args.dry_run:
            transaction.set_rollback(True)
    for index, name, warnings in risks:
        _print_lockout(warnings, f"policy {index + 1} ({name!r})")
    if risks:
        return EXIT_FAILED
    for row, lockout in saved:
        state = STATE_WORDS.get(row.state, row.state)
        print(f"Would add {row.display_name!r} ({state})" if args.dry_run else
              f"Added {row.display_name!r} ({state}): {row.pk}")
        for warning in lockout:
            print(f"  confirmed: {warning}")
    count = f"{len(saved)} polic{'y' if len(saved) == 1 else 'ies'}"
    print(f"Dry run: {count} would be added; nothing was saved." if args.dry_run else f"Imported {count}.")
    return EXIT_OK


@_command
def cmd_state(args) -> int:
    from watchword.policy import services

    policy = _policy(args.id)
    row, lockout = services.set_policy_state(policy.pk, STATES[args.state], actor=ACTOR, confirm=args.confirm)
    for warning in lockout:
        print(f"confirmed: {warning}")
    print(f"{row.display_name!r} is now {args.state}.")
    return EXIT_OK


@_command
def cmd_delete(args) -> int:
    from watchword.policy import services

    policy = _policy(args.id)
    services.delete_policy(policy.pk, actor=ACTOR)
    print(f"Deleted {policy.display_name!r}.")
    return EXIT_OK


@_command
def cmd_security_defaults(args) -> int:
    from watchword.policy import services

    if args.value is not None:
        services.set_security_defaults(args.value == "on", actor=ACTOR)
    row = services.current_settings()
    since = f" (since {row.security_defaults_changed_at:%Y-%m-%d %H:%M})" if row.security_defaults_changed_at else ""
    print(f"Security Defaults is {'on' if row.security_defaults else 'off'}{since}.")
    return EXIT_OK


# --- what if ------------------------------------------------------------------------------------

@_command
def cmd_whatif(args) -> int:
    from watchword.directory.services import get_user
    from watchword.policy.api import evaluation_json
    from watchword.policy.document import ACTION_REGISTER
    from watchword.policy.whatif import what_if

    user = get_user(args.user)
    evaluation = what_if(user=user, app=args.app, client=args.client, ip=args.ip, platform=args.platform or "",
                         risk=args.risk, user_action=ACTION_REGISTER if args.register_security_info else "")
    found = evaluation_json(evaluation)
    if args.json:
        _print_json(found)
        return EXIT_OK
    doing = "registers security info" if args.register_security_info else f"signs in to {args.app}"
    risk = found["signInRisk"] + (f" ({found['signInRiskReason']})" if found["signInRiskReason"] else "")
    print(f"What if {user.upn} {doing} ({args.client}, from {args.ip or 'an unknown address'}, "
          f"platform {args.platform or 'unknown'}, sign-in risk {risk}):")
    code = f" (error {found['errorCode']})" if found["errorCode"] else ""
    print(f"Outcome: {OUTCOMES[found['outcome']]}{code}")
    if found["allowedFactors"] is not None and found["outcome"] != "allow":
        factors = [FACTOR_WORDS.get(factor, factor) for factor in found["allowedFactors"]]
        print(f"Second factors that will do: {', '.join(factors) or 'none Watchword has'}")
    print("Reasons:")
    for reason in found["reasons"]:
        print(f"  - {reason['detail']} [{reason['source']}]")

    def label(policy: dict) -> str:
        return f"{policy['displayName']!r}{' (report-only)' if policy['reportOnly'] else ''}"

    print("Policies that apply:" if found["appliedPolicies"] else "Policies that apply: none")
    for policy in found["appliedPolicies"]:
        controls = ", ".join(policy["controls"]) or "no controls"
        print(f"  - {label(policy)}: {controls}; {RESULTS.get(policy['result'], policy['result'])}")
    print("Policies that do not apply:" if found["notAppliedPolicies"] else "Policies that do not apply: none")
    for policy in found["notAppliedPolicies"]:
        print(f"  - {label(policy)}: {policy['conditionNotSatisfied']}")
    return EXIT_OK


# --- named locations ----------------------------------------------------------------------------

@_command
def cmd_locations_list(args) -> int:
    from watchword.policy.models import NamedLocation

    rows = [{"id": str(row.pk), "name": row.display_name, "trusted": "yes" if row.trusted else "no",
             "ranges": ", ".join(row.ranges)} for row in NamedLocation.objects.all()]
    if not rows:
        print("No named locations. Add one with: watchword policy locations add NAME --ranges \"10.1.0.0/16\"")
        return EXIT_OK
    _print_table(rows, ["id", "name", "trusted", "ranges"], strip=True)
    return EXIT_OK


@_command
def cmd_locations_add(args) -> int:
    from watchword.policy import services

    location = services.save_location(name=args.name, ranges=args.ranges, trusted=args.trusted, actor=ACTOR)
    print(f"Added named location {location.display_name!r}{' (trusted)' if location.trusted else ''}: {location.pk}")
    return EXIT_OK


@_command
def cmd_locations_remove(args) -> int:
    from watchword.policy import services
    from watchword.policy.errors import PolicyNotFound
    from watchword.policy.models import NamedLocation
    from watchword.policy.resolve import DatabaseResolver

    location_id = DatabaseResolver().location(args.id)
    if location_id is None:
        raise PolicyNotFound(f"There is no named location {args.id[:80]!r}; 'watchword policy locations list' "
                             f"shows them.")
    name = NamedLocation.objects.get(pk=location_id).display_name
    services.delete_location(location_id, actor=ACTOR)
    print(f"Removed named location {name!r}.")
    return EXIT_OK


# --- MFA settings and the methods policy --------------------------------------------------------

def _shown(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "(none)"
    return str(value)


@_command
def cmd_settings_show(args) -> int:
    from watchword.policy import mfa_settings, services

    for name, value in mfa_settings.as_dict(services.current_settings()).items():
        print(f"{name:26} {_shown(value)}")
    return EXIT_OK


def _setting(name: str, text: str, resolver):
    """One KEY=VALUE's value as ``mfa_settings.update`` takes it (it checks the rest)."""
    from watchword.policy import mfa_settings

    if name in mfa_settings.FLAGS:
        if text.strip().lower() not in TRUE + FALSE:
            raise UsageError(f"{name} takes true or false, not {text!r}")
        return text.strip().lower() in TRUE
    if name in mfa_settings.LISTS:  # groups, by id or name
        return [resolver.group(item) or item.strip() for item in text.split(",") if item.strip()]
    if name == "mfa_trusted_ips":
        return [item.strip() for item in text.split(",") if item.strip()]
    if name in mfa_settings.NUMBERS:
        if not re.fullmatch(r"-?[0-9]{1,9}", text.strip()):
            raise UsageError(f"{name} takes a whole number, not {text!r}")
        return int(text.strip())
    return text


@_command
def cmd_settings_set(args) -> int:
    from watchword.policy import mfa_settings
    from watchword.policy.resolve import DatabaseResolver

    resolver, values = DatabaseResolver(), {}
    for pair in args.pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"settings are given as KEY=VALUE (like remember_mfa_days=14), not {pair!r}")
        values[name.strip()] = _setting(name.strip(), text, resolver)
    row = mfa_settings.update(values, actor=ACTOR)
    for name in values:
        print(f"{name:26} {_shown(getattr(row, name))}")
    return EXIT_OK


@_command
def cmd_methods_show(args) -> int:
    from watchword.policy import mfa_settings
    from watchword.policy.methods import export_methods_policy

    _print_json(export_methods_policy(mfa_settings.methods_policy()))
    return EXIT_OK


@_command
def cmd_methods_set(args) -> int:
    from watchword.policy import mfa_settings
    from watchword.policy.methods import export_methods_policy

    compiled = mfa_settings.update_methods_policy(_read_json(args.file), actor=ACTOR)
    print("Saved the authentication-methods policy:")
    _print_json(export_methods_policy(compiled))
    return EXIT_OK


# --- parser -------------------------------------------------------------------------------------

def register(sub) -> None:
    """Add ``policy`` and its commands to the top-level parser's ``sub``."""
    from watchword.policy.engine import CLIENTS
    from watchword.policy.platforms import PLATFORMS
    from watchword.policy.risk import LEVELS

    policy = sub.add_parser(
        "policy", help="Conditional Access, Security Defaults, what if, named locations, MFA settings",
        description="Conditional Access policies (in Microsoft Graph's JSON), Security Defaults, the what-if "
                    "tool, named locations, the MFA settings and the authentication-methods policy. Changes "
                    "are audited as 'cli'.").add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    p = policy.add_parser("list", help="list Conditional Access policies",
                          description="List Conditional Access policies: id, name, state and what each grants.")
    p.set_defaults(func=cmd_list)
    p = policy.add_parser("show", help="print one policy as Graph's JSON",
                          description="Print one policy in Microsoft Graph's conditionalAccessPolicy shape.")
    p.add_argument("id", help="the policy's id (or its exact name)")
    p.set_defaults(func=cmd_show)
    p = policy.add_parser("export", help="every policy as Graph's JSON list",
                          description="Every policy in Graph's list shape ({\"value\": [...]}), ready to import "
                                      "elsewhere.")
    p.add_argument("--output", metavar="FILE", help="write to FILE (default: standard output)")
    p.set_defaults(func=cmd_export)
    p = policy.add_parser("import", help="add policies from Graph's JSON (all or none)",
                          description="Add the policies in FILE ('-': standard input): one policy, a list, or "
                                      "Graph's {\"value\": [...]}, as exported from the reference or by 'policy "
                                      "export'. Each is added as a new policy. Parts Watchword does not enforce "
                                      "are dropped with a warning naming the field; an error stops the import "
                                      "with nothing saved. People are named by id or sign-in name; groups, "
                                      "named locations and strengths by id or name.")
    p.add_argument("file", help="the JSON file, or - for standard input")
    p.add_argument("--confirm", action="store_true",
                   help="save even policies that could lock administrators out")
    p.add_argument("--dry-run", action="store_true", help="check everything and show the warnings; save nothing")
    p.set_defaults(func=cmd_import)
    p = policy.add_parser("state", help="turn a policy on, to report-only or off",
                          description="Turn a policy on, to report-only or off. A policy cannot be turned on "
                                      "while Security Defaults is on.")
    p.add_argument("id", help="the policy's id (or its exact name)")
    p.add_argument("state", choices=list(STATES))
    p.add_argument("--confirm", action="store_true", help="turn it on even if it could lock administrators out")
    p.set_defaults(func=cmd_state)
    p = policy.add_parser("delete", help="delete a policy", description="Delete a Conditional Access policy.")
    p.add_argument("id", help="the policy's id (or its exact name)")
    p.set_defaults(func=cmd_delete)
    p = policy.add_parser("security-defaults", help="show, or turn Security Defaults on or off",
                          description="Without an argument, show whether Security Defaults is on. It cannot be "
                                      "turned on while Conditional Access policies are on.")
    p.add_argument("value", nargs="?", choices=["on", "off"])
    p.set_defaults(func=cmd_security_defaults)
    p = policy.add_parser("whatif", help="how the policies would treat a sign-in",
                          description="Evaluate a sign-in against per-user MFA, Security Defaults and every "
                                      "enabled and report-only policy, without signing anyone in: the outcome, "
                                      "the reasons, the policies that apply and, for the others, the first "
                                      "condition that did not match.")
    p.add_argument("--user", required=True, help="the person's sign-in name or id")
    p.add_argument("--app", required=True,
                   help="the application's id: WatchwordPortal, WatchwordAdmin, WatchwordApi, an OpenID Connect "
                        "client ID, or radius:NAME")
    p.add_argument("--client", choices=CLIENTS, default="browser", help="the client app type (default browser)")
    p.add_argument("--ip", help="the address signed in from (default: unknown)")
    p.add_argument("--platform", choices=PLATFORMS, help="the device platform (default: unknown)")
    p.add_argument("--risk", choices=LEVELS,
                   help="the sign-in risk (default: worked out from Watchword's signals)")
    p.add_argument("--register-security-info", action="store_true",
                   help="the sign-in is to register security info (the user action), not to an application")
    p.add_argument("--json", action="store_true", help="print the API's JSON instead")
    p.set_defaults(func=cmd_whatif)

    locations = policy.add_parser("locations", help="named locations (IP ranges) for policies").add_subparsers(
        dest="locations_command", metavar="ACTION", required=True)
    p = locations.add_parser("list", help="list named locations", description="List named locations.")
    p.set_defaults(func=cmd_locations_list)
    p = locations.add_parser("add", help="add a named location", description="Add a named location of IP ranges.")
    p.add_argument("name")
    p.add_argument("--ranges", required=True, help='IPv4 and IPv6 ranges, comma-separated: "10.1.0.0/16,2001:db8::/48"')
    p.add_argument("--trusted", action="store_true", help="mark it trusted (for 'All trusted locations')")
    p.set_defaults(func=cmd_locations_add)
    p = locations.add_parser("remove", help="remove a named location no policy uses",
                             description="Remove a named location (refused while a policy names it).")
    p.add_argument("id", help="the location's id or name")
    p.set_defaults(func=cmd_locations_remove)

    settings = policy.add_parser("settings", help="the MFA settings").add_subparsers(
        dest="settings_command", metavar="ACTION", required=True)
    p = settings.add_parser("show", help="show the MFA settings", description="Show the MFA settings.")
    p.set_defaults(func=cmd_settings_show)
    p = settings.add_parser("set", help="change MFA settings (KEY=VALUE ...)",
                            description="Change MFA settings, all or none: remember_mfa_days=14 campaign_enabled=true "
                                        "mfa_trusted_ips=192.0.2.0/24,2001:db8::/48. Lists are comma-separated "
                                        "(groups by id or name); an empty value empties a list.")
    p.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    p.set_defaults(func=cmd_settings_set)

    methods = policy.add_parser("methods", help="the authentication-methods policy").add_subparsers(
        dest="methods_command", metavar="ACTION", required=True)
    p = methods.add_parser("show", help="print the methods policy as JSON",
                           description="Print the authentication-methods policy as JSON.")
    p.set_defaults(func=cmd_methods_show)
    p = methods.add_parser("set", help="replace the methods policy from a JSON file",
                           description="Replace the authentication-methods policy with FILE's JSON ('-': standard "
                                       "input), in the shape 'methods show' prints; groups by id.")
    p.add_argument("file")
    p.set_defaults(func=cmd_methods_set)

