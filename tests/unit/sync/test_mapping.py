"""From a directory entry to a person's fields: each flavour's defaults, ids, DNs, the values a
directory may hold and what becomes a warning instead of a failed run."""

from __future__ import annotations

import uuid

import pytest

from watchword.sync.mapping import (
    check_mapping,
    decode_id,
    effective_mapping,
    later_marker,
    normalise_dn,
    read_person,
)

AD = effective_mapping("active_directory", {})
LDAP = effective_mapping("openldap", {})


def entry(**attributes) -> dict:
    return {name: [value.encode() if isinstance(value, str) else value] for name, value in attributes.items()}


def test_object_guid_is_read_in_its_usual_text_form():
    guid = uuid.UUID("5797cbea-db10-44f2-bb72-401eeed1327f")

    assert decode_id(guid.bytes_le, "objectGUID") == "5797cbea-db10-44f2-bb72-401eeed1327f"
    assert decode_id(b"short", "objectGUID") is None
    assert decode_id(b"E0C6BD94-7F4A-1041-87DA-B52A62400AD0", "entryUUID") == "e0c6bd94-7f4a-1041-87da-b52a62400ad0"
    assert decode_id(b"\xff\xfe", "entryUUID") is None


def test_dns_compare_whatever_their_case_and_spacing():
    assert normalise_dn("CN=Adele Vance, OU=London ,DC=Example,DC=org") == "cn=adele vance,ou=london,dc=example,dc=org"


def test_an_active_directory_person():
    guid = uuid.uuid4()
    person = read_person("CN=Adele,OU=Staff,DC=corp", {
        "objectGUID": [guid.bytes_le], **entry(userPrincipalName="Adele.Vance@Corp.Example", displayName="Adele Vance",
                                               mail="adele@corp.example", telephoneNumber="+44 20 7946 0958 x12",
                                               mobile="07400 123456", userAccountControl="514", uSNChanged="4711")},
        AD, upn_domain="", region="GB")

    assert person.external_id == str(guid) and person.dn == "cn=adele,ou=staff,dc=corp"
    assert person.fields == {"upn": "adele.vance@corp.example", "display_name": "Adele Vance",
                             "email": "adele@corp.example", "office_phone": "+442079460958x12",
                             "mobile_phone": "+447400123456"}
    assert person.disabled is True  # 514 = NORMAL_ACCOUNT | ACCOUNTDISABLE
    assert person.change == "4711" and person.warnings == []


def test_an_ldap_uid_gets_the_sign_in_domain_and_cn_stands_in_for_a_display_name():
    person = read_person("uid=ben,ou=people,dc=x", entry(entryUUID="abc-1", uid="ben", cn="Ben Walters"), LDAP,
                         upn_domain="example.org", region="GB")

    assert person.fields["upn"] == "ben@example.org" and person.fields["display_name"] == "Ben Walters"
    assert person.disabled is False


@pytest.mark.parametrize("value, disabled", [("000001010000Z", True), ("FALSE", False), ("TRUE", True)])
def test_a_present_disabled_marker_disables_unless_it_says_false(value, disabled):
    mapping = {**LDAP, "disabled": "nsAccountLock"}
    person = read_person("uid=c,dc=x", entry(entryUUID="c-1", uid="c", nsAccountLock=value), mapping,
                         upn_domain="example.org", region="GB")

    assert person.disabled is disabled


def test_values_that_cannot_be_used_become_warnings_and_the_person_is_kept():
    person = read_person("uid=d,dc=x", entry(entryUUID="d-1", uid="d", mail="not-an-address",
                                             telephoneNumber="12345", mobile="+44 20 7946 0958 x12",
                                             displayName="x" * 300), LDAP, upn_domain="example.org", region="GB")

    assert person.fields["email"] == "" and person.fields["office_phone"] == "" and person.fields["mobile_phone"] == ""
    assert len(person.fields["display_name"]) == 256
    messages = [w.message for w in person.warnings]
    assert any("e-mail address is not valid" in m for m in messages)
    assert any("office phone is not a valid phone number" in m for m in messages)
    assert any("Only an office phone can have an extension" in m for m in messages)
    assert any("shortened" in m for m in messages)
    assert all(w.person == "d@example.org" for w in person.warnings)


@pytest.mark.parametrize("attributes, words", [
    ({"uid": "e"}, "no usable immutable id"),
    ({"entryUUID": "e-1"}, "no sign-in name"),
    ({"entryUUID": "e-1", "uid": "e"}, "not like name@example.org"),
    ({"entryUUID": "e-1", "uid": "e" * 250 + "@example.org"}, "longer than 254"),
])
def test_entries_without_an_id_or_a_usable_sign_in_name_are_skipped_with_a_warning(attributes, words):
    person = read_person("uid=e,dc=x", entry(**attributes), LDAP, upn_domain="", region="GB")

    assert person.fields == {} and words in person.warnings[0].message


def test_control_characters_never_reach_a_name():
    person = read_person("uid=f,dc=x", entry(entryUUID="f-1", uid="f", displayName="Fiona\x00\nSmith\u2028"), LDAP,
                         upn_domain="example.org", region="GB")

    assert person.fields["display_name"] == "Fiona Smith"


def test_change_markers_compare_as_numbers_or_as_csns():
    assert later_marker("999", "1000") == "1000"
    assert later_marker("20261128074133.663006Z#000000#000#000000", "20261128074133.100000Z#000000#000#000000") \
        == "20261128074133.663006Z#000000#000#000000"
    assert later_marker("", "5") == "5"


@pytest.mark.parametrize("mapping, words", [
    ({"shoe_size": "x"}, "Unknown mapping name"),
    ({"office_phone": "tele phone"}, "not an LDAP attribute name"),
    ({"id": ""}, "cannot be switched off"),
    ({"mobile_phone": 5}, "must be an attribute name"),
    ("upn=mail", "pairs of name: attribute"),
])
def test_bad_mappings_are_refused_naming_the_key(mapping, words):
    with pytest.raises(ValueError, match=words):
        check_mapping(mapping)


def test_a_mapping_override_switches_an_attribute_off_or_renames_it():
    mapping = effective_mapping("openldap", check_mapping({"mobile_phone": "", "upn": "mail"}))

    assert mapping["mobile_phone"] == "" and mapping["upn"] == "mail" and mapping["id"] == "entryUUID"


def test_attribute_names_are_found_whatever_their_case_and_ranged_parts_too():
    from watchword.sync.mapping import values_of

    assert values_of({"TelephoneNumber": [b"1"]}, "telephoneNumber") == [b"1"]
    assert values_of({"member;range=0-1499": [b"cn=a"]}, "member") == [b"cn=a"]
    assert values_of({"mail": [b"x"]}, "mobile") == [] and values_of({"mail": [b"x"]}, "") == []
