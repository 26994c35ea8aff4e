"""Reading the sign-in pages' answers in tests: where a step went, the page's text, whether a
code is asked for, whether the browser is signed in."""

from __future__ import annotations

import html
import re


def went_to(response) -> str:
    """Where a sign-in step went: a redirect's target, or — when a step answers with the next
    step's page itself — the address that page's form posts to."""
    if response.status_code == 200 and response.request["PATH_INFO"].startswith("/signin"):
        actions = [action for action in re.findall(r'<form method="post" action="(/signin/[^"?]+)"',
                                                   response.content.decode()) if action != "/signin/cancel"]
        assert actions, response.content[:500]
        return actions[-1]
    assert response.status_code == 302, (response.status_code, response.content[:500])
    return response["Location"]


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.unescape(response.content.decode())))


def asked_for_code(response) -> bool:
    return went_to(response) == "/signin/verify" and 'name="code"' in response.content.decode()


def is_signed_in(client) -> bool:
    return client.get("/myaccount").status_code == 200
