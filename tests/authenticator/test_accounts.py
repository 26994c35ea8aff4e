"""Naming an account on the command line, and refusing to add the same sign-in twice."""

from __future__ import annotations

import pytest
from watchword_authenticator.accounts import CODES, PUSH, Account, AccountBook
from watchword_authenticator.codes import TotpParams
from watchword_authenticator.errors import AccountAmbiguous, AccountExists, AccountNotFound

from tests.authenticator.support import EXAMPLE_SECRET

TOTP = TotpParams(secret=EXAMPLE_SECRET)
ADELE_PUSH = Account(kind=PUSH, issuer="Contoso", account="adele@contoso.example", totp=TOTP,
                     server="https://mfa.contoso.example", device_id="dv_adele")
ADELE_GITHUB = Account(kind=CODES, issuer="GitHub", account="adele", totp=TOTP)
MEGAN_GITHUB = Account(kind=CODES, issuer="GitHub", account="megan", totp=TOTP)


@pytest.fixture
def book():
    return AccountBook([ADELE_PUSH, ADELE_GITHUB, MEGAN_GITHUB])


@pytest.mark.parametrize("name", ["adele@contoso.example", "Contoso:adele@contoso.example",
                                  "contoso: ADELE@contoso.example", "dv_adele", "Contoso"])
def test_an_account_is_found_by_name_issuer_label_or_device_id(book, name):
    assert book.select(name) == [ADELE_PUSH]


def test_no_name_selects_every_account(book):
    assert book.select(None) == [ADELE_PUSH, ADELE_GITHUB, MEGAN_GITHUB]


def test_a_name_shared_by_two_accounts_is_refused_as_ambiguous(book):
    with pytest.raises(AccountAmbiguous, match="GitHub: adele"):
        book.select("GitHub")


def test_an_unknown_name_says_how_to_list_accounts(book):
    with pytest.raises(AccountNotFound, match="watchword-authenticator list"):
        book.select("nobody")


def test_the_same_sign_in_cannot_be_added_twice(book):
    with pytest.raises(AccountExists, match="already added"):
        book.add(Account(kind=CODES, issuer="github", account="Adele", totp=TOTP))


def test_a_push_account_on_another_server_is_a_different_sign_in(book):
    book.add(Account(kind=PUSH, issuer="Contoso", account="adele@contoso.example", totp=TOTP,
                     server="https://mfa.fabrikam.example", device_id="dv_other"))

    assert len(book.accounts) == 4


def test_accounts_round_trip_through_json():
    for account in (ADELE_PUSH, ADELE_GITHUB):
        assert Account.from_json(account.to_json()) == account


def test_a_codes_only_account_stores_no_server_or_device():
    assert set(ADELE_GITHUB.to_json()) == {"kind", "issuer", "account", "added", "totp"}
