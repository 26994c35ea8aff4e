#!/usr/bin/env python
"""Conditional Access policy evaluation: what ``watchword.policy.engine.evaluate`` costs with 10,
200 and 1,000 compiled policies, next to the cost of the sign-in page requests it runs in,
measured in the same run against a real ``watchword serve`` (gunicorn sync workers, SQLite).

    .venv/bin/python bench/policy.py [--requests N] [--iterations N] [--profile [N]]

Target: evaluating 200 policies costs under 1 % of one sign-in page request. The baseline is
``GET /signin`` and the password step ``POST /signin/password`` of a person without MFA (the request
that evaluates the policies; it includes the Argon2id hash), sequential, before and after the
in-process part. The in-process part runs in a child process on a copy of the data folder: a
realistic configuration (named locations with IPv4 and IPv6 ranges, groups, people, applications,
custom authentication strengths) made through the services production uses, 200 generated
Graph-shaped policies stored in SQLite, then ``evaluate``, ``services.load()`` (cached, and the
recompile after a change) and ``signin.facts.gather()`` timed with ``time.perf_counter_ns``.

Prints figures; asserts nothing about time. Traffic goes to 127.0.0.1 only; the server, the child
and the temporary data folder are removed at the end, also on error or Ctrl+C.
See bench/README.md ("Conditional Access policy evaluation").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from signin import (  # noqa: E402
    FLOW_RE,
    PYTHON,
    Browser,
    Failure,
    children_of,
    free_port,
    log,
    machine_busy,
    percentile,
    proc_cpu,
    start_server,
    stop_server,
)

TARGET_PCT = 1.0
SIZES = (10, 200, 1000)
STORED = 200  # policies written to the database for load() and gather()
PERSON = "adele.vance@contoso.example"
PASSWORD = "Adele's long passphrase 7"
SETTLE = 0.004  # s after an answer before the server's CPU is read: its tail work (access log, close) is counted
CHILD: list[subprocess.Popen] = []


def pct(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else float("nan")


# === the child: everything in-process ==========================================================

GROUP_NAMES = (
    ["All staff"]
    + [f"Dept {d}" for d in ("Finance", "Sales", "Engineering", "HR", "Legal", "Support", "Marketing", "IT",
                             "Operations", "Research")]
    + [f"Site {s}" for s in ("London", "Paris", "Berlin", "Madrid", "Dublin", "New York", "Toronto", "Sydney",
                             "Singapore", "Tokyo", "Mumbai", "Sao Paulo")]
    + [f"Project {p}" for p in ("Apollo", "Borealis", "Cobalt", "Delta", "Ember", "Falcon", "Granite", "Harbor",
                                "Indigo", "Juniper", "Kestrel", "Lumen")]
    + [f"App users {a}" for a in ("CRM", "ERP", "Payroll", "Wiki", "Git", "Tickets", "BI", "Mail", "VPN", "Files")]
    + [f"Pilot {n}" for n in range(1, 14)]
)  # 59 a policy may target, by popularity (the first most often)
EXCLUSION_GROUP = "CA exclusions (break-glass)"
PERSON_GROUPS = (0, 3, 14, 27)  # All staff, Dept Engineering, Site Dublin, Project Falcon
WINDOWS_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"


def make_locations(rng, count: int) -> list[dict]:
    """``count`` named locations of 5–100 ranges each, about 30 % IPv6; the offices and a few
    others (about a third) trusted. Ranges never overlap (each sits in a /20 or /48 block of its own)."""
    import ipaddress

    v4_blocks = rng.sample(range(4096), 4096)  # /20 blocks of 10.0.0.0/8
    v6_blocks = rng.sample(range(0xff00), 6000)  # /48 blocks of 2001:db8::/32 (2001:db8:ff00:: and up stay free)
    kinds = ["Office", "Country", "Partner", "Datacentre", "VPN egress"]
    locations = []
    for k in range(count):
        ranges = []
        for _ in range(rng.randint(5, 100)):
            if rng.random() < 0.3:
                block = v6_blocks.pop()
                prefix = rng.choice((48, 52, 56, 60, 64))
                ranges.append(str(ipaddress.ip_network(((0x20010db8 << 96) | (block << 80), 128)).supernet(
                    new_prefix=prefix)))
            else:
                block = v4_blocks.pop()
                prefix = rng.choice((20, 22, 24, 24, 26, 28, 29))
                ranges.append(str(ipaddress.ip_network(((10 << 24) | (block << 12), 32)).supernet(new_prefix=prefix)))
        kind = kinds[k % len(kinds)]
        locations.append({"name": f"{kind} {k:02d}", "ranges": ranges, "trusted": kind == "Office" or k % 7 == 3})
    return locations


def make_policy(rng, i: int, ids: dict) -> dict:
    """One Graph-shaped ``conditionalAccessPolicy`` document, drawn from a realistic mix."""
    import watchword.policy.strengths as st

    groups, weights = ids["groups"], ids["group_weights"]

    def some_groups(lo: int, hi: int) -> list[str]:
        return sorted(set(rng.choices(groups, weights=weights, k=rng.randint(lo, hi))))

    users = {"includeUsers": [], "excludeUsers": [], "includeGroups": [], "excludeGroups": [], "includeRoles": [],
             "excludeRoles": []}
    r = rng.random()
    if r < 0.30:  # everyone, except the break-glass group (and sometimes a few people)
        users["includeUsers"] = ["All"]
        users["excludeGroups"] = [ids["exclusion_group"]] + (some_groups(1, 1) if rng.random() < 0.2 else [])
        users["excludeUsers"] = rng.sample(ids["users"], rng.randint(0, 2))
    elif r < 0.75:
        users["includeGroups"] = some_groups(1, 4)
        if rng.random() < 0.3:
            users["excludeGroups"] = sorted(set(some_groups(1, 1)) - set(users["includeGroups"])) or [
                ids["exclusion_group"]]
    elif r < 0.85:
        users["includeUsers"] = rng.sample(ids["users"], rng.randint(1, 8))
    else:
        users["includeRoles"] = rng.sample(["62e90394-69f5-4237-9190-012177145e10", "security_admin",
                                            "authentication_admin"], rng.randint(1, 3))
        if rng.random() < 0.3:
            users["includeGroups"] = some_groups(1, 1)

    apps = {"includeApplications": [], "excludeApplications": [], "includeUserActions": []}
    r = rng.random()
    all_apps = False
    if r < 0.40:
        apps["includeApplications"] = ["All"]
        all_apps = True
        if rng.random() < 0.3:
            apps["excludeApplications"] = rng.sample(ids["apps"], rng.randint(1, 2))
    elif r < 0.85:
        apps["includeApplications"] = rng.sample(ids["apps"], rng.randint(1, 4))
    elif r < 0.92:
        apps["includeApplications"] = ["WatchwordAdmin"]
    else:
        apps["includeUserActions"] = ["urn:user:registersecurityinfo"]

    conditions: dict = {"users": users, "applications": apps, "clientAppTypes": [], "signInRiskLevels": [],
                        "platforms": None, "locations": None}
    r = rng.random()
    if r < 0.20:
        conditions["clientAppTypes"] = ["browser", "mobileAppsAndDesktopClients"]
    elif r < 0.30:
        conditions["clientAppTypes"] = ["other"]  # "legacy" password-only clients
    elif r < 0.35:
        conditions["clientAppTypes"] = ["browser"]
    elif r < 0.40:
        conditions["clientAppTypes"] = [rng.choice(["radius", "api"])]
    r = rng.random()
    if r < 0.20:
        conditions["platforms"] = {"includePlatforms": sorted(rng.sample(["android", "iOS", "windows", "macOS",
                                                                           "linux"], rng.randint(1, 3))),
                                   "excludePlatforms": []}
    elif r < 0.28:
        conditions["platforms"] = {"includePlatforms": ["all"],
                                   "excludePlatforms": sorted(rng.sample(["windows", "macOS", "linux"], 1))}
    r = rng.random()
    if r < 0.45:
        s = rng.random()
        if s < 0.35:  # outside the trusted locations
            conditions["locations"] = {"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]}
        elif s < 0.60:
            conditions["locations"] = {"includeLocations": ["All"],
                                       "excludeLocations": rng.sample(ids["locations"], rng.randint(1, 3))}
        elif s < 0.85:  # from these countries / partners
            conditions["locations"] = {"includeLocations": rng.sample(ids["locations"], rng.randint(1, 5)),
                                       "excludeLocations": []}
        else:
            conditions["locations"] = {"includeLocations": ["AllTrusted"], "excludeLocations": []}
    r = rng.random()
    if r < 0.15:
        conditions["signInRiskLevels"] = ["high"]
    elif r < 0.25:
        conditions["signInRiskLevels"] = ["medium", "high"]
    elif r < 0.30:
        conditions["signInRiskLevels"] = ["low", "medium", "high"]

    grant = {"operator": "AND" if rng.random() < 0.2 else "OR", "builtInControls": [],
             "authenticationStrength": None}
    session: dict = {}
    r = rng.random()
    if r < 0.15:
        grant["builtInControls"] = ["block"]
    elif r < 0.60:
        grant["builtInControls"] = ["mfa"]
    elif r < 0.85:
        s = rng.random()
        strength = (st.MFA.id if s < 0.4 else st.PHISHING_RESISTANT_MFA.id if s < 0.6
                    else st.PASSWORDLESS_MFA.id if s < 0.7 else rng.choice(ids["strengths"]))
        grant["authenticationStrength"] = {"id": strength}
    else:
        grant = None  # session controls only
    if grant is None or (not grant["builtInControls"] == ["block"] and rng.random() < 0.25):
        if grant is None and all_apps and rng.random() < 0.3:
            session["persistentBrowser"] = {"isEnabled": True, "mode": rng.choice(["always", "never"])}
        else:
            session["signInFrequency"] = (
                {"isEnabled": True, "frequencyInterval": "everyTime",
                 "authenticationType": "primaryAndSecondaryAuthentication"} if rng.random() < 0.2 else
                {"isEnabled": True, "type": rng.choice(["hours", "days"]), "value": rng.randint(1, 23),
                 "frequencyInterval": "timeBased", "authenticationType": "primaryAndSecondaryAuthentication"})
    if grant is not None and grant["builtInControls"] == ["block"]:  # a block always aims at something narrow
        why = rng.random()
        if why < 0.3:  # legacy clients
            conditions["clientAppTypes"] = ["other"]
        elif why < 0.6:  # countries
            conditions["locations"] = {"includeLocations": rng.sample(ids["countries"], rng.randint(1, 5)),
                                       "excludeLocations": []}
        elif why < 0.8:
            conditions["signInRiskLevels"] = ["high"]
        elif why < 0.9:  # unknown and unsupported platforms
            conditions["platforms"] = {"includePlatforms": ["all"],
                                       "excludePlatforms": ["android", "iOS", "windows", "macOS"]}
        else:  # the admin pages from outside the offices
            conditions["applications"] = {"includeApplications": ["WatchwordAdmin"], "excludeApplications": [],
                                          "includeUserActions": []}
            conditions["locations"] = {"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]}
    if grant is not None and (grant["authenticationStrength"] or {}).get("id") in (st.PHISHING_RESISTANT_MFA.id,
                                                                                  st.PASSWORDLESS_MFA.id):
        # strengths nobody can prove here yet: aimed at administrators, as tenants do
        conditions["users"] = {**users, "includeUsers": [], "includeGroups": [], "excludeUsers": [],
                               "includeRoles": ["62e90394-69f5-4237-9190-012177145e10", "security_admin"]}
    state = "enabled" if rng.random() < 0.65 else "enabledForReportingButNotEnforced"
    if conditions["applications"]["includeUserActions"]:
        state = "enabled"  # report-only is not offered for a user action (as in the reference)
    return {
        "displayName": f"CA{i:04d} bench policy", "state": state,
        "conditions": {k: v for k, v in conditions.items() if v is not None},
        "grantControls": grant, "sessionControls": session or None,
    }


def make_facts(rng, person, ids: dict, locations, methods) -> list:
    """Eight sign-ins of the same person (in 4 groups): different applications, clients,
    platforms, risk, and addresses in and out of named locations, IPv4 and IPv6."""
    import ipaddress

    from watchword.policy.engine import SignInFacts

    def inside(trusted: bool, version: int):
        """An address in a trusted location (an office), or in one that is neither trusted nor a
        country some policy may block (a partner, a datacentre, a VPN's egress)."""
        places = [loc for loc in locations if loc.trusted == trusted and not loc.name.startswith("Country")]
        pool = [n for loc in places for n in loc.ranges if n.version == version]
        pool = pool or [n for loc in places for n in loc.ranges]
        return rng.choice(pool).network_address + 1

    base = dict(user_id=person.pk, per_user_mfa_state=person.mfa_state, registered_methods=methods,
                is_admin=person.is_admin, roles=frozenset({person.role}), groups=ids["person_groups"])
    oidc, radius = ids["oidc"], ids["radius"]
    variants = [
        dict(app="WatchwordPortal", platform="windows", ip=inside(True, 4)),
        dict(app=rng.choice(oidc), platform="macOS", ip=ipaddress.ip_address("203.0.113.7"), risk="low",
             familiar_network=False),
        dict(app=rng.choice(oidc), client="mobileAppsAndDesktopClients", platform="iOS", ip=inside(False, 6)),
        dict(app=rng.choice(radius), client="radius", platform="", ip=inside(True, 4)),
        dict(app="WatchwordPortal", platform="android", ip=ipaddress.ip_address("2001:db8:ff00::5"), risk="medium",
             familiar_network=False, familiar_browser=False),
        dict(app="WatchwordPortal", platform="linux", ip=inside(False, 4), user_action="urn:user:registersecurityinfo"),
        dict(app="WatchwordAdmin", platform="windows", ip=inside(True, 6)),
        dict(app=rng.choice(oidc), platform="windows", ip=inside(False, 4), satisfied_factors=frozenset(
            {"password,softwareOath"}), mfa_age_seconds=5400.0),
    ]
    return [SignInFacts(**base, **v) for v in variants]


def child_setup(rng, n_locations: int) -> dict:
    """The catalog a realistic tenant has, through the services production uses."""
    from datetime import datetime, timezone as tz

    from django.conf import settings

    from watchword.directory.groups import add_member, create_group
    from watchword.directory.services import create_user
    from watchword.methods.services import complete_registration
    from watchword.methods.totp import TotpMethod, code_at, time_step
    from watchword.policy import mfa_settings
    from watchword.policy.services import save_location, save_strength
    from watchword.protocols import oidc_clients
    from watchword.protocols.services import add_client as add_radius_client
    from watchword.signin.models import KnownNetwork

    actor = "bench"
    groups = [create_group({"name": name}, actor=actor) for name in GROUP_NAMES]
    exclusion = create_group({"name": EXCLUSION_GROUP}, actor=actor)
    roles = ["user"] * 36 + ["authentication_admin"] * 2 + ["global_admin"] * 2
    people = [create_user({"upn": f"person{i:02d}@contoso.example", "display_name": f"Person {i}", "role": role},
                          actor=actor, password=f"Bq-bench-password-{i}").user for i, role in enumerate(roles)]
    person = create_user({"upn": "megan.bowen@contoso.example", "display_name": "Megan Bowen", "role": "user"},
                         actor=actor, password="Bq-bench-password-megan").user
    for k in PERSON_GROUPS:
        add_member(groups[k], person, actor=actor)
    totp = TotpMethod()  # an authenticator app; per-user MFA stays disabled (Conditional Access asks)
    now = datetime.now(tz.utc)
    pending = totp.begin_enrolment(user=person, issuer=settings.ORGANISATION_NAME, now=now)
    secret = totp.pending_secret(user=person, pending=pending)
    method = totp.confirm_enrolment(user=person, pending=pending, response=code_at(secret, time_step(now)),
                                    now=now, name="Phone")
    person = complete_registration(person, method)
    oidc = [oidc_clients.add_client(name=f"App {n}", kind="web", redirect_uris=[f"https://app{n}.contoso.example/cb"],
                                    actor=actor).client_id for n in range(12)]
    radius = [add_radius_client(name=f"vpn-{n}", address=f"192.0.2.{10 + n}", actor=actor)[0].name for n in range(4)]
    locations = [save_location(name=loc["name"], ranges=loc["ranges"], trusted=loc["trusted"], actor=actor)
                 for loc in make_locations(rng, n_locations)]
    strengths = [save_strength(name=f"Strength {n}", combinations=combos, actor=actor) for n, combos in enumerate((
        ["password,microsoftAuthenticatorPush"], ["password,softwareOath", "password,microsoftAuthenticatorPush"],
        ["password,sms", "password,voice", "password,softwareOath"]))]
    mfa_settings.update({"mfa_trusted_ips": ["10.255.0.0/16", "10.254.8.0/24", "2001:db8:ff10::/48"]}, actor=actor)
    person_ip_network = "10.254.8.0/24"
    KnownNetwork.objects.create(user=person, network=person_ip_network, last_seen=now)  # a familiar network
    targetable = [str(g.pk) for g in groups]
    return {
        "person": person, "method_types": ("totp",),
        "groups": targetable, "group_weights": [1 / (k + 1) ** 0.7 for k in range(len(targetable))],
        "exclusion_group": str(exclusion.pk), "person_groups": frozenset(targetable[k] for k in PERSON_GROUPS),
        "users": [str(p.pk) for p in people] + [str(person.pk)],
        "apps": ["WatchwordPortal", "WatchwordAdmin", "WatchwordApi", *oidc, *(f"radius:{n}" for n in radius)],
        "oidc": oidc, "radius": [f"radius:{n}" for n in radius],
        "locations": [str(loc.pk) for loc in locations], "strengths": [str(s.pk) for s in strengths],
        "countries": [str(loc.pk) for loc in locations if loc.display_name.startswith("Country")],
    }


def store_policies(docs: list[dict]) -> None:
    """The policies as ``services.save_policy`` stores them: each checked against the catalog
    (every group, person, application, location and strength it names exists), stored without its
    id and dates, oldest first; then the configuration's version raised, once. (save_policy itself
    reads the catalog and writes an audit row for each, which only makes the setup slower.)"""
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from watchword.policy import document as doc
    from watchword.policy.models import ConditionalAccessPolicy
    from watchword.policy.services import _bump, catalog

    known = catalog()
    now = timezone.now()
    rows = []
    for i, document in enumerate(docs):
        compiled = doc.compile_policy(document, catalog=known)
        stored = {k: v for k, v in compiled.document.items()
                  if k not in ("id", "createdDateTime", "modifiedDateTime", "templateId")}
        when = now + timedelta(milliseconds=i)
        rows.append(ConditionalAccessPolicy(display_name=compiled.name, state=compiled.state, document=stored,
                                            created_at=when, modified_at=when))
    with transaction.atomic():
        ConditionalAccessPolicy.objects.bulk_create(rows)
        _bump()


def timed(fn, n: int, budget: float = float("inf")) -> list[int]:
    """The ns of ``n`` calls of ``fn``, stopping early (after at least 100) once ``budget`` seconds
    have passed."""
    clock = time.perf_counter_ns
    stop_at = time.perf_counter() + budget
    out = []
    for i in range(n):
        t0 = clock()
        fn()
        out.append(clock() - t0)
        if i >= 99 and (i & 15) == 15 and time.perf_counter() > stop_at:
            break
    return out


def summary_ns(values: list[int]) -> dict:
    return {"n": len(values), "median_us": statistics.median(values) / 1000, "p90_us": percentile(values, 90) / 1000,
            "p99_us": percentile(values, 99) / 1000, "mean_us": statistics.fmean(values) / 1000,
            "max_us": max(values) / 1000}


def describe_mix(docs: list[dict]) -> dict:
    def count(test) -> int:
        return sum(1 for d in docs if test(d))

    cond = lambda d: d["conditions"]  # noqa: E731
    return {
        "policies": len(docs),
        "enabled": count(lambda d: d["state"] == "enabled"),
        "report_only": count(lambda d: d["state"] != "enabled"),
        "block": count(lambda d: (d["grantControls"] or {}).get("builtInControls") == ["block"]),
        "mfa": count(lambda d: (d["grantControls"] or {}).get("builtInControls") == ["mfa"]),
        "strength": count(lambda d: bool((d["grantControls"] or {}).get("authenticationStrength"))),
        "session_only": count(lambda d: d["grantControls"] is None),
        "sign_in_frequency": count(lambda d: "signInFrequency" in (d["sessionControls"] or {})),
        "all_users": count(lambda d: cond(d)["users"]["includeUsers"] == ["All"]),
        "groups": count(lambda d: bool(cond(d)["users"]["includeGroups"])),
        "all_apps": count(lambda d: cond(d)["applications"]["includeApplications"] == ["All"]),
        "locations": count(lambda d: "locations" in cond(d)),
        "all_trusted": count(lambda d: "AllTrusted" in json.dumps(cond(d).get("locations"))),
        "client_types": count(lambda d: bool(cond(d)["clientAppTypes"])),
        "platforms": count(lambda d: "platforms" in cond(d)),
        "risk": count(lambda d: bool(cond(d)["signInRiskLevels"])),
    }


def time_evaluate(evaluate, configs: dict, facts: list, n: int, budget: float) -> dict:
    """``n`` timed calls per size (at most ``budget`` seconds each), in 5 rounds that interleave
    the sizes, so that drift touches all alike; the sign-ins of the cycle in turn. Returns the ns
    of each call, per size and sign-in."""
    for size in SIZES:  # warm-up (also works out what each configuration keeps for every sign-in)
        for f in facts * 20:
            evaluate(f, configs[size])
    samples = {size: [[] for _ in facts] for size in SIZES}
    rounds = 5
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for size in SIZES:
            config, out = configs[size], samples[size]
            stop_at = time.perf_counter() + budget / rounds
            for i in range(n // rounds):
                k = i % len(facts)
                f = facts[k]
                t0 = clock()
                evaluate(f, config)
                out[k].append(clock() - t0)
                if (i & 63) == 63 and time.perf_counter() > stop_at:
                    break
    return samples


def evaluation_stats(samples: list[list[int]], decisions: list) -> dict:
    stops: dict[str, int] = {}  # the condition each policy stopped at ("applied": none), over the cycle
    for d in decisions:
        for r in d.policy_results:
            key = r.unmet.split(":")[0] if r.unmet else "applied"
            stops[key] = stops.get(key, 0) + 1
    return {**summary_ns([ns for v in samples for ns in v]),
            "stops": {k: v / len(decisions) for k, v in sorted(stops.items(), key=lambda kv: -kv[1])},
            "applied": [sum(r.applied for r in d.policy_results) for d in decisions],
            "outcomes": [d.outcome.value for d in decisions],
            "per_facts_median_us": [statistics.median(v) / 1000 for v in samples]}


def child_main(spec: dict) -> dict:
    import random

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from watchword.methods.services import methods_of
    from watchword.policy import document as doc
    from watchword.policy.engine import PolicyConfig, evaluate
    from watchword.policy.locations import compile_location
    from watchword.policy.models import ConditionalAccessPolicy, NamedLocation
    from watchword.policy.services import forget_cache, load
    from watchword.signin.facts import evaluate_sign_in, gather

    rng = random.Random(spec["seed"])
    t = time.perf_counter()
    ids = child_setup(rng, spec["locations"])
    person = ids["person"]
    docs = [make_policy(rng, i, ids) for i in range(max(SIZES))]
    setup_s = time.perf_counter() - t
    t = time.perf_counter()
    store_policies(docs[:STORED])
    store_s = time.perf_counter() - t
    compiled = [doc.compile_policy(d, id=f"bench-{i}") for i, d in enumerate(docs)]

    forget_cache()
    loaded = load()
    cfg = loaded.config
    if len(cfg.policies) != STORED or cfg.broken:
        raise RuntimeError(f"load() compiled {len(cfg.policies)} policies, broken: {cfg.broken}")
    configs = {size: PolicyConfig(policies=tuple(compiled[:size]), locations=cfg.locations, strengths=cfg.strengths,
                                  mfa_trusted_ips=cfg.mfa_trusted_ips) for size in SIZES}
    configs[STORED] = cfg  # exactly what a sign-in evaluates: compiled by load() from the database
    methods = methods_of(person)
    facts = make_facts(rng, person, ids, cfg.locations, ids["method_types"])
    n = spec["iterations"]
    clock = time.perf_counter_ns

    # --- evaluate(): interleaved rounds, so drift touches every size alike -------------------------
    decisions = {size: [evaluate(f, configs[size]) for f in facts] for size in SIZES}
    samples = time_evaluate(evaluate, configs, facts, n, spec["seconds_per_size"])
    overhead = statistics.median(timed(lambda: None, 2000))
    evaluation = {size: evaluation_stats(samples[size], decisions[size]) for size in SIZES}

    # --- what the sign-in pays around evaluate(), against the database with 200 policies -----------
    first = load()
    side_budget = spec["seconds_per_size"] / 2
    cached = timed(load, n, side_budget)
    again = load()
    if again.config is not first.config:
        raise RuntimeError("load() recompiled although nothing changed")
    with CaptureQueriesContext(connection) as q_load:
        load()
    gather_kwargs = dict(app="WatchwordPortal", client="browser", ip="10.254.8.20", user_agent=WINDOWS_AGENT)
    for _ in range(50):
        gather(person, methods, **gather_kwargs)
    gathered = timed(lambda: gather(person, methods, **gather_kwargs), n, side_budget)
    with CaptureQueriesContext(connection) as q_gather:
        facts_db = gather(person, methods, **gather_kwargs)[0]
    total = timed(lambda: evaluate_sign_in(person, methods, **gather_kwargs), n, side_budget)
    decision_db = evaluate(facts_db, cfg)
    evaluated_db = timed(lambda: evaluate(facts_db, cfg), n, side_budget)

    cold, parts = [], {"sql_ms": [], "compile_policies_ms": [], "compile_locations_ms": []}
    for _ in range(spec["cold_rounds"]):
        forget_cache()
        t0 = clock()
        load()
        cold.append(clock() - t0)
    for _ in range(spec["cold_rounds"]):  # the recompile's parts, one at a time
        t0 = clock()
        rows = list(ConditionalAccessPolicy.objects.exclude(state="disabled").order_by("created_at"))
        locs = list(NamedLocation.objects.all())
        t1 = clock()
        for row in rows:
            doc.compile_policy(row.document, id=str(row.pk))
        t2 = clock()
        for loc in locs:
            compile_location(id=str(loc.pk), name=loc.display_name, ranges=loc.ranges, trusted=loc.trusted)
        t3 = clock()
        parts["sql_ms"].append((t1 - t0) / 1e6)
        parts["compile_policies_ms"].append((t2 - t1) / 1e6)
        parts["compile_locations_ms"].append((t3 - t2) / 1e6)
    forget_cache()
    load()

    def profile(fn, count: int) -> str:
        import cProfile
        import io
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        for i in range(count):
            fn(facts[i % len(facts)], cfg)
        profiler.disable()
        stream = io.StringIO()
        stats = pstats.Stats(profiler, stream=stream)
        stats.strip_dirs().sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(15)
        return stream.getvalue()

    profile_text = profile(evaluate, spec["profile"]) if spec["profile"] else ""
    if spec["profile"]:
        profile_text += "\n  cProfile of signin.facts.gather():\n" + profile(
            lambda _f, _c: gather(person, methods, **gather_kwargs), max(100, spec["profile"] // 10))

    return {
        "setup_s": setup_s, "store_s": store_s, "timer_overhead_ns": overhead,
        "mix": describe_mix(docs[:STORED]),
        "locations": {"count": len(cfg.locations), "ranges": sum(len(loc.ranges) for loc in cfg.locations),
                      "ipv6": sum(1 for loc in cfg.locations for r in loc.ranges if r.version == 6),
                      "trusted": sum(1 for loc in cfg.locations if loc.trusted),
                      "min": min(len(loc.ranges) for loc in cfg.locations),
                      "max": max(len(loc.ranges) for loc in cfg.locations)},
        "catalog": {"groups": len(ids["groups"]) + 1, "users": len(ids["users"]), "apps": len(ids["apps"]),
                    "strengths": len(ids["strengths"])},
        "facts": [{"app": f.app, "client": f.client, "platform": f.platform, "ip": str(f.ip), "risk": f.risk,
                   "user_action": f.user_action} for f in facts],
        "evaluate": evaluation,
        "load_cached": {**summary_ns(cached), "sql": len(q_load.captured_queries)},
        "gather": {**summary_ns(gathered), "sql": len(q_gather.captured_queries)},
        "evaluate_sign_in": summary_ns(total),
        "evaluate_gathered": summary_ns(evaluated_db),
        "gathered_facts": {"ip": str(facts_db.ip), "app": facts_db.app, "platform": facts_db.platform,
                           "risk": facts_db.risk, "familiar_network": facts_db.familiar_network},
        "db_decision": {"outcome": decision_db.outcome.value,
                        "applied": sum(r.applied for r in decision_db.policy_results)},
        "load_cold": {"n": len(cold), "median_ms": statistics.median(cold) / 1e6, "min_ms": min(cold) / 1e6,
                      "max_ms": max(cold) / 1e6,
                      **{k: statistics.median(v) for k, v in parts.items()}},
        "profile": profile_text,
    }


def run_child(data_dir: Path, out: Path, args) -> tuple[dict, float, float]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "watchword.settings", "WATCHWORD_DATA_DIR": str(data_dir),
           "WATCHWORD_ORGANISATION": "Bench", "WATCHWORD_LOG_LEVEL": "WARNING",
           # setup only hashes passwords nobody signs in with: cheap parameters (as bench/verify.py)
           "WATCHWORD_ARGON2_MEMORY_KIB": "1024", "WATCHWORD_ARGON2_ITERATIONS": "1"}
    spec = {"seed": args.seed, "iterations": args.iterations, "locations": args.locations,
            "seconds_per_size": args.seconds_per_size, "cold_rounds": 10, "profile": args.profile}
    proc = subprocess.Popen([PYTHON, str(Path(__file__).resolve()), "--child", json.dumps(spec), str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    CHILD.append(proc)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall0 = time.perf_counter()
    _stdout, stderr = proc.communicate(timeout=1800)
    wall = time.perf_counter() - wall0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the child's CPU, counted when it was reaped
    cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    CHILD.remove(proc)
    if proc.returncode:
        raise RuntimeError(f"in-process part failed:\n{stderr[-4000:]}")
    return json.loads(out.read_text()), wall, cpu_s


# === the parent: server, HTTP baseline, report ==================================================

def server_pids(serve_pid: int) -> list[int]:
    """``watchword serve`` and its descendants (front, gunicorn master and workers), without the
    sync scheduler (``watchword worker``), which serves no request."""
    pids = []
    for pid in [serve_pid] + children_of(serve_pid):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"watchword.cli" in argv and b"worker" in argv:
            continue
        pids.append(pid)
    return pids


def cpu_ns(pids: list[int]) -> int:
    """CPU time of every thread of ``pids``, in ns (``/proc/<pid>/task/<tid>/schedstat``: exact,
    not in clock ticks)."""
    total = 0
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
                    total += int(fh.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    return total


def http_baseline(port: int, serve_pid: int, n: int, warmup: int) -> dict:
    """``n`` sign-ins as a new browser, one request at a time: ``GET /signin`` (timed), ``POST
    /signin`` with the name (not timed), ``POST /signin/password`` (timed; the answer is the 302
    to My account). Wall time on the client, and the server's CPU for each timed request."""
    b = Browser(port)
    pids = server_pids(serve_pid)
    out = {"GET /signin": {"wall": [], "cpu": []}, "POST /signin/password": {"wall": [], "cpu": []}}
    busy0, _, steal0, total0 = machine_busy()
    server0 = sum(proc_cpu(p) for p in [serve_pid] + children_of(serve_pid))
    own0 = time.process_time()
    t_start = time.perf_counter()
    for i in range(warmup + n):
        b.reset()
        time.sleep(SETTLE)
        c0 = cpu_ns(pids)
        page = b.get("/signin")
        wall_get = b.timings[-1][1]
        time.sleep(SETTLE)
        c1 = cpu_ns(pids)
        where, page = b.post("/signin", {"name": PERSON, "next": ""}, page)
        if where != "/signin/password" or page is None:
            raise Failure(f"after the name: sent to {where}")
        flow = FLOW_RE.search(page)
        time.sleep(SETTLE)
        c2 = cpu_ns(pids)
        where, _ = b.post("/signin/password", {"password": PASSWORD, "flow": flow.group(1) if flow else ""}, page)
        wall_post = b.timings[-1][1]
        time.sleep(SETTLE)
        c3 = cpu_ns(pids)
        if where != "/myaccount":
            raise Failure(f"after the password: sent to {where} (expected /myaccount: no MFA, no policy)")
        if i >= warmup:
            out["GET /signin"]["wall"].append(wall_get)
            out["GET /signin"]["cpu"].append((c1 - c0) / 1e9)
            out["POST /signin/password"]["wall"].append(wall_post)
            out["POST /signin/password"]["cpu"].append((c3 - c2) / 1e9)
    b.conn.close()
    c0 = cpu_ns(pids)
    time.sleep(1.0)
    out["idle_cpu_ms_per_s"] = (cpu_ns(pids) - c0) / 1e6  # the most the settles can have added
    if sorted(pids) != sorted(server_pids(serve_pid)):
        log("warning: a server process was replaced during the baseline; its CPU figures are incomplete")
    busy1, _, steal1, total1 = machine_busy()
    server1 = sum(proc_cpu(p) for p in [serve_pid] + children_of(serve_pid))
    own = time.process_time() - own0
    out["seconds"] = time.perf_counter() - t_start - 1.0
    out["others_cpu_s"] = (busy1 - busy0) - (server1 - server0) - own
    out["steal_pct"] = pct(steal1 - steal0, total1 - total0)
    return out


def request_stats(walls: list[float], cpus: list[float]) -> dict:
    return {"n": len(walls), "median_ms": statistics.median(walls) * 1000, "p90_ms": percentile(walls, 90) * 1000,
            "mean_ms": statistics.fmean(walls) * 1000, "cpu_median_ms": statistics.median(cpus) * 1000,
            "cpu_mean_ms": statistics.fmean(cpus) * 1000}


def run(args) -> dict:
    work = Path(tempfile.mkdtemp(prefix="watchword-bench-policy-"))
    serve_dir, engine_dir = work / "serve", work / "engine"
    serve_dir.mkdir()
    env = {**os.environ, "WATCHWORD_DATA_DIR": str(serve_dir), "WATCHWORD_ORGANISATION": "Bench"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    port = free_port()
    env["WATCHWORD_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    server = None
    result: dict = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cores": os.cpu_count(),
                    "python": platform.python_version(), "requests": args.requests, "iterations": args.iterations}
    try:
        t = time.time()
        init = subprocess.run([PYTHON, "-m", "watchword.cli", "init"], env=env, capture_output=True, text=True,
                              timeout=600)
        if init.returncode:
            raise RuntimeError(f"watchword init failed:\n{init.stderr}")
        shutil.copytree(serve_dir, engine_dir)  # nothing has it open: the in-process part gets its own database
        add = subprocess.run([PYTHON, "-m", "watchword.cli", "user", "add", PERSON, "--name", "Adele Vance",
                              "--password-stdin"], input=PASSWORD + "\n", env=env, capture_output=True, text=True,
                             timeout=300)
        if add.returncode:
            raise RuntimeError(f"watchword user add failed:\n{add.stderr}")
        log(f"setup: init + one person (no MFA, no policy) in {time.time() - t:.1f} s")

        server = start_server(env, port, args.workers, work / "serve.log")
        result["workers"] = len(server_pids(server.pid)) - 2  # less the front and gunicorn's master
        log(f"server: pid {server.pid}, http://127.0.0.1:{port}")
        result["loadavg"] = os.getloadavg()
        result["before"] = http_baseline(port, server.pid, args.requests, args.warmup)
        log(f"baseline before: {result['before']['seconds']:.1f} s")

        t = time.perf_counter()
        result["engine"], result["child_wall_s"], result["child_cpu_s"] = run_child(engine_dir, work / "engine.json",
                                                                                    args)
        log(f"in-process part: {time.perf_counter() - t:.1f} s (setup {result['engine']['setup_s']:.1f} s, "
            f"{STORED} policies stored in {result['engine']['store_s']:.1f} s)")

        result["after"] = http_baseline(port, server.pid, args.requests, 0)
        log(f"baseline after: {result['after']['seconds']:.1f} s")
    finally:
        for proc in CHILD:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if server is not None:
            stop_server(server)
        if args.keep:
            log(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    for key in ("GET /signin", "POST /signin/password"):
        b, a = result["before"][key], result["after"][key]
        result.setdefault("baseline", {})[key] = {
            "before": request_stats(b["wall"], b["cpu"]), "after": request_stats(a["wall"], a["cpu"]),
            "both": request_stats(b["wall"] + a["wall"], b["cpu"] + a["cpu"])}
    for phase in ("before", "after"):
        for key in ("GET /signin", "POST /signin/password"):
            result[phase].pop(key)
    return result


def report(r: dict) -> None:
    e, base = r["engine"], r["baseline"]
    get, post = base["GET /signin"]["both"], base["POST /signin/password"]["both"]
    mix, locs, cat = e["mix"], e["locations"], e["catalog"]
    print(f"\nWatchword Conditional Access policy evaluation — {r['date']}, {r['cores']} cores, Python {r['python']}")
    print(f"  server: watchword serve ({r['workers']} workers), {r['requests']} sign-ins before and "
          f"{r['requests']} after the in-process part, one request at a time")

    print("\n  baseline: one sign-in page request      n  median    p90   mean (ms, client wall)   server CPU median / mean")
    for key in ("GET /signin", "POST /signin/password"):
        for phase in ("before", "after", "both"):
            s = base[key][phase]
            label = key if phase == "before" else ""
            print(f"    {label:<26} {phase:<6} {s['n']:5d} {s['median_ms']:7.2f} {s['p90_ms']:6.2f} {s['mean_ms']:6.2f}"
                  f"{'':26}{s['cpu_median_ms']:6.2f} / {s['cpu_mean_ms']:.2f} ms")
    print(f"    server CPU while idle, after each: {r['before']['idle_cpu_ms_per_s']:.2f} / "
          f"{r['after']['idle_cpu_ms_per_s']:.2f} ms per s; load average at the start "
          f"{r['loadavg'][0]:.2f} / {r['loadavg'][1]:.2f} / {r['loadavg'][2]:.2f}")
    print(f"    others' CPU during the baseline: {r['before']['others_cpu_s']:.1f} / {r['after']['others_cpu_s']:.1f} "
          f"CPU-s in {r['before']['seconds']:.0f} / {r['after']['seconds']:.0f} s; steal "
          f"{r['before']['steal_pct']:.1f} / {r['after']['steal_pct']:.1f} %")

    print(f"\n  configuration: {locs['count']} named locations ({locs['min']}–{locs['max']} ranges each, {locs['ranges']} "
          f"in all, {locs['ipv6']} IPv6; {locs['trusted']} trusted), 3 MFA trusted IP ranges, {cat['groups']} groups, "
          f"{cat['users']} people, {cat['apps']} applications, {cat['strengths']} custom strengths")
    print(f"  the {mix['policies']} stored policies: {mix['enabled']} on, {mix['report_only']} report-only; "
          f"{mix['block']} block, {mix['mfa']} MFA, {mix['strength']} authentication strength, "
          f"{mix['session_only']} session controls only, {mix['sign_in_frequency']} with a sign-in frequency; "
          f"{mix['all_users']} for all users, {mix['groups']} for groups; {mix['all_apps']} for all applications; "
          f"{mix['locations']} with locations ({mix['all_trusted']} naming AllTrusted), {mix['client_types']} client "
          f"types, {mix['platforms']} platforms, {mix['risk']} risk levels")
    print(f"  facts: one person in 4 groups with an authenticator app, {len(e['facts'])} sign-ins cycled: "
          + "; ".join(f"{f['app'][:14]}/{f['client'][:7]}/{f['platform'] or '?'}/{f['ip']}" for f in e["facts"][:4])
          + "; …")

    print(f"\n  evaluate(facts, config), in-process (timer overhead {e['timer_overhead_ns']:.0f} ns, not subtracted)")
    print("    policies        n  median µs   p99 µs   % GET /signin   % POST /signin/password   % POST server CPU"
          "   applied per sign-in")
    for size in ("10", "200", "1000"):
        s = e["evaluate"][size]
        print(f"    {int(size):8,d} {s['n']:8d} {s['median_us']:10.1f} {s['p99_us']:8.1f} "
              f"{pct(s['median_us'] / 1000, get['median_ms']):14.2f}  {pct(s['median_us'] / 1000, post['median_ms']):24.2f}"
              f"  {pct(s['median_us'] / 1000, post['cpu_median_ms']):18.2f}   "
              f"{min(s['applied'])}–{max(s['applied'])}")
    s = e["evaluate"]["200"]
    print("    200 policies, median µs per sign-in of the cycle: "
          + ", ".join(f"{v:.0f}" for v in s["per_facts_median_us"])
          + f"; decisions: {', '.join(s['outcomes'])}")
    print("    where the 200 policies stop, per sign-in on average: "
          + ", ".join(f"{k} {v:.1f}" for k, v in s["stops"].items()))

    print("\n  around evaluate(), against SQLite holding the 200 policies   median µs   p99 µs   SQL   % POST /signin/password")
    g = e["gathered_facts"]
    for label, key in (("policy.services.load(), cached", "load_cached"),
                       ("signin.facts.gather() (includes load())", "gather"),
                       (f"evaluate() of the gathered sign-in ({g['ip']}, {g['platform']})", "evaluate_gathered"),
                       ("evaluate_sign_in() = gather() + evaluate()", "evaluate_sign_in")):
        s = e[key]
        sql = f"{s['sql']:5d}" if "sql" in s else "     "
        print(f"    {label:<58} {s['median_us']:9.1f} {s['p99_us']:8.1f} {sql}   {pct(s['median_us'] / 1000, post['median_ms']):8.2f}")
    c = e["load_cold"]
    print(f"    load() after a change (recompile; once per worker process per change): median {c['median_ms']:.1f} ms "
          f"(min {c['min_ms']:.1f}, max {c['max_ms']:.1f}; {c['n']} runs) = "
          f"{pct(c['median_ms'], post['median_ms']):.0f} % of one password POST, paid once;\n"
          f"      of which reading the rows {c['sql_ms']:.1f} ms, compile_policy × 200 {c['compile_policies_ms']:.1f} ms, "
          f"the {locs['count']} locations {c['compile_locations_ms']:.1f} ms")

    s200 = e["evaluate"]["200"]["median_us"] / 1000
    share = pct(s200, post["median_ms"])
    verdict = "met" if share < TARGET_PCT else "NOT met"
    b_post, a_post = base["POST /signin/password"]["before"], base["POST /signin/password"]["after"]
    print(f"\n  verdict: 200 policies: evaluate() median {s200 * 1000:.0f} µs = {share:.2f} % of the password POST's "
          f"median ({post['median_ms']:.1f} ms; {pct(s200, b_post['median_ms']):.2f} / {pct(s200, a_post['median_ms']):.2f} % "
          f"of the before / after medians), target < {TARGET_PCT:g} %: {verdict}; "
          f"{pct(s200, get['median_ms']):.1f} % of GET /signin ({get['median_ms']:.1f} ms); "
          f"{pct(s200, post['cpu_median_ms']):.2f} % of the password POST's server CPU ({post['cpu_median_ms']:.1f} ms)")
    if e.get("profile"):
        print("\n  cProfile of evaluate() with the 200 stored policies (the sign-ins of the cycle in turn):\n")
        print(e["profile"])
    r["verdict"] = {"share_pct": share, "met": share < TARGET_PCT}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        Path(argv[2]).write_text(json.dumps(child_main(json.loads(argv[1])), default=str))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=150,
                        help="sign-ins in each baseline measurement, before and after (default 150)")
    parser.add_argument("--warmup", type=int, default=20, help="sign-ins before the first measurement (default 20)")
    parser.add_argument("--iterations", type=int, default=2000,
                        help="evaluations per size, and calls of load(), gather() and evaluate_sign_in() (default 2000)")
    parser.add_argument("--seconds-per-size", type=float, default=8,
                        help="at most this long for each size's evaluations, and half as long for each of load(), "
                             "gather() and evaluate_sign_in() (default 8)")
    parser.add_argument("--locations", type=int, default=30, help="named locations, 10–50 (default 30)")
    parser.add_argument("--workers", type=int, default=None, help="server workers (default: the server's own)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated configuration (default 1)")
    parser.add_argument("--profile", type=int, nargs="?", const=2000, default=0, metavar="N",
                        help="also run N evaluations of the 200 stored policies under cProfile (default N 2000)")
    parser.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (server log, both databases)")
    args = parser.parse_args(argv)
    if args.requests < 10 or args.iterations < 100 or not 1 <= args.locations <= 195:
        parser.error("need --requests ≥ 10, --iterations ≥ 100 and 1 ≤ --locations ≤ 195")

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        result = run(args)
    except KeyboardInterrupt:
        log("interrupted; server and child stopped")
        return 130
    report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
