"""Passwords are Argon2id with the configured parameters, and a stored hash made with other
parameters is upgraded at the person's next successful sign-in."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, extract_parameters
from django.test import Client

from tests.support import PASSWORD

pytestmark = pytest.mark.django_db


def parameters_of(user):
    encoded = user.password.split("$", 1)[1]  # Django prefixes "argon2"
    return extract_parameters("$" + encoded)


def test_a_new_password_is_argon2id_with_7_mib_5_iterations_and_parallelism_1(adele):
    params = parameters_of(adele)

    assert (params.type.name, params.memory_cost, params.time_cost, params.parallelism) == ("ID", 7168, 5, 1)


def test_a_hash_made_with_older_parameters_is_upgraded_at_the_next_successful_sign_in(adele, sign_in):
    old = PasswordHasher(time_cost=2, memory_cost=4096, parallelism=1).hash(PASSWORD)
    adele.password = "argon2" + old
    adele.save(update_fields=["password"])

    sign_in.password(Client(), adele.upn)

    adele.refresh_from_db()
    params = parameters_of(adele)
    assert (params.memory_cost, params.time_cost) == (7168, 5)
    assert adele.check_password(PASSWORD)


def test_a_wrong_password_does_not_upgrade_the_stored_hash(adele, sign_in):
    old = PasswordHasher(time_cost=2, memory_cost=4096, parallelism=1).hash(PASSWORD)
    adele.password = "argon2" + old
    adele.save(update_fields=["password"])

    sign_in.password(Client(), adele.upn, "not the password")

    adele.refresh_from_db()
    assert adele.password == "argon2" + old


def test_changing_the_configured_parameters_changes_new_hashes(adele, settings):
    settings.ARGON2_ITERATIONS = 6

    adele.set_password("another long passphrase 3")

    assert parameters_of(adele).time_cost == 6
