"""Every error the authenticator reports has its own stable code."""

from watchword_authenticator import errors


def all_error_types(base=errors.AuthenticatorError):
    found = [base]
    for sub in base.__subclasses__():
        found += all_error_types(sub)
    return found


def test_error_codes_are_unique():
    codes = [error.code for error in all_error_types()]

    assert len(codes) == len(set(codes)), sorted(codes)


def test_every_module_error_is_an_authenticator_error():
    declared = [value for value in vars(errors).values() if isinstance(value, type) and issubclass(value, Exception)]

    assert set(declared) == set(all_error_types())
