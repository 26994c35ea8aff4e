"""The device platform a sign-in comes from, read from the User-Agent (so claimed, never
proven: the reference says the same of its own condition). Unknown is ``""``: it matches a
policy that includes all platforms, never one that names platforms."""

from __future__ import annotations

import re

PLATFORMS = ("android", "iOS", "windows", "macOS", "linux")

# Order matters: Android's agents say "Linux", iPadOS's may say "Macintosh" with "Mobile".
_RULES = (
    ("android", re.compile(r"\bAndroid\b", re.I)),
    ("iOS", re.compile(r"\b(iPhone|iPad|iPod)\b|\bCPU (iPhone )?OS \d|\bMacintosh\b.*\bMobile/", re.I)),
    ("windows", re.compile(r"\bWindows\b", re.I)),
    ("macOS", re.compile(r"\bMac ?OS ?X\b|\bMacintosh\b|\bDarwin\b", re.I)),
    ("linux", re.compile(r"\bLinux\b|\bX11\b|\bCrOS\b", re.I)),
)


def platform_of(user_agent: str | None) -> str:
    agent = (user_agent or "")[:512]
    for platform, rule in _RULES:
        if rule.search(agent):
            return platform
    return ""
