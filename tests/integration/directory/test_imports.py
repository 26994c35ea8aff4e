"""Bulk import from CSV: bad rows are reported by their line number in the file, good rows are
kept, and a file that is not a CSV Watchword can read is refused as a whole with a reason."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from watchword.directory.imports import CsvInvalid, import_users_csv
from watchword.directory.models import User

pytestmark = pytest.mark.django_db

HEADER = "upn,display_name,email,mobile_phone\n"


def csv_bytes(*lines: str, header: str = HEADER) -> bytes:
    return (header + "".join(line + "\n" for line in lines)).encode("utf-8")


def upns() -> set[str]:
    return set(User.objects.values_list("upn", flat=True))


def test_good_rows_are_imported_and_bad_rows_are_reported_by_line_number(megan):
    report = import_users_csv(csv_bytes(
        "adele.vance@contoso.example,Adele Vance,adele.vance@contoso.example,07400 123456",  # line 2
        "not-an-email,Somebody,,",  # line 3
        "lee.gu@contoso.example,Lee Gu,,+44 20 7946 095",  # line 4: a digit short
        "diego.siciliani@contoso.example,Diego Siciliani,,",  # line 5
    ), actor=megan)

    assert [(line, upn) for line, upn, _ in report.created] == [
        (2, "adele.vance@contoso.example"), (5, "diego.siciliani@contoso.example")]
    assert [line for line, _ in report.errors] == [3, 4]
    assert upns() == {megan.upn, "adele.vance@contoso.example", "diego.siciliani@contoso.example"}


def test_each_reported_row_says_what_is_wrong_with_it(megan):
    report = import_users_csv(csv_bytes(
        "not-an-email,Somebody,,",
        "lee.gu@contoso.example,Lee Gu,,+44 20 7946 095",
    ), actor=megan)

    assert report.errors == [
        (2, "A sign-in name looks like name@example.org."),
        (3, "Mobile phone: This number cannot exist. Check the digits and the country code."),
    ]


def test_imported_people_without_a_password_column_get_one_time_passwords(megan):
    report = import_users_csv(csv_bytes("adele.vance@contoso.example,Adele Vance,,"), actor=megan)

    [(_, upn, one_time)] = report.created
    adele = User.objects.get(upn=upn)
    assert one_time and adele.check_password(one_time)
    assert adele.must_change_password


def test_a_password_column_sets_the_password_and_a_weak_one_is_reported(megan):
    report = import_users_csv(csv_bytes(
        "adele.vance@contoso.example,Adele Vance,Harbour-Lantern-Quiet-42",
        "lee.gu@contoso.example,Lee Gu,password",
        header="upn,display_name,password\n",
    ), actor=megan)

    assert [(line, one_time) for line, _, one_time in report.created] == [(2, None)]
    assert [line for line, _ in report.errors] == [3]
    assert User.objects.get(upn="adele.vance@contoso.example").check_password("Harbour-Lantern-Quiet-42")


def test_a_line_with_more_values_than_columns_is_reported_and_the_others_are_kept(megan):
    report = import_users_csv(csv_bytes(
        "adele.vance@contoso.example,Adele Vance,,,surplus",
        "lee.gu@contoso.example,Lee Gu,,",
    ), actor=megan)

    assert report.errors == [(2, "This line has more values than there are columns.")]
    assert "adele.vance@contoso.example" not in upns()
    assert "lee.gu@contoso.example" in upns()


def test_a_line_with_fewer_values_leaves_the_missing_optional_fields_empty(megan):
    report = import_users_csv(csv_bytes("adele.vance@contoso.example,Adele Vance"), actor=megan)

    assert report.errors == []
    assert User.objects.get(upn="adele.vance@contoso.example").email == ""


def test_a_sign_in_name_repeated_in_the_file_is_reported_on_its_second_line(megan):
    report = import_users_csv(csv_bytes(
        "adele.vance@contoso.example,Adele Vance,,",
        "lee.gu@contoso.example,Lee Gu,,",
        "Adele.Vance@contoso.example,Adele Vance (again),,",
    ), actor=megan)

    assert report.errors == [(4, "A user with this sign-in name already exists.")]
    assert User.objects.get(upn="adele.vance@contoso.example").display_name == "Adele Vance"


def test_blank_lines_are_skipped_and_still_counted_in_line_numbers(megan):
    report = import_users_csv(csv_bytes(
        "adele.vance@contoso.example,Adele Vance,,",
        "",
        "not-an-email,Somebody,,",
    ), actor=megan)

    assert [line for line, _ in report.errors] == [4]


def test_a_file_saved_by_excel_as_csv_utf8_with_a_byte_order_mark_and_crlf_is_read(megan):
    data = "\ufeffUPN,Display_Name\r\nadele.vance@contoso.example,Adèle Vance\r\n".encode("utf-8")

    report = import_users_csv(data, actor=megan)

    assert report.errors == []
    assert User.objects.get(upn="adele.vance@contoso.example").display_name == "Adèle Vance"


def test_a_file_that_is_not_utf8_is_refused_as_a_whole(megan):
    data = "upn,display_name\nadele.vance@contoso.example,Adèle Vance\n".encode("latin-1")

    with pytest.raises(CsvInvalid, match="not UTF-8"):
        import_users_csv(data, actor=megan)

    assert upns() == {megan.upn}


def test_a_file_with_nul_characters_is_refused_as_not_text(megan):
    with pytest.raises(CsvInvalid, match="NUL"):
        import_users_csv(b"upn,display_name\nadele.vance@contoso.example,Adele\x00Vance\n", actor=megan)


def test_a_file_without_a_required_column_is_refused_naming_the_column(megan):
    with pytest.raises(CsvInvalid, match="Missing required column\\(s\\): display_name"):
        import_users_csv(b"upn,email\nadele.vance@contoso.example,adele.vance@contoso.example\n", actor=megan)

    assert upns() == {megan.upn}


def test_a_file_with_an_unknown_column_is_refused_naming_it_and_the_allowed_ones(megan):
    with pytest.raises(CsvInvalid) as raised:
        import_users_csv(b"upn,display_name,department\nadele.vance@contoso.example,Adele Vance,Sales\n",
                         actor=megan)

    assert "Unknown column(s): department" in raised.value.public_message
    assert "upn, display_name, email" in raised.value.public_message
    assert upns() == {megan.upn}


@pytest.mark.parametrize("data", [b"", b"\n\n", b"\xef\xbb\xbf"], ids=["empty", "blank lines", "only a BOM"])
def test_an_empty_file_is_refused_with_a_message_naming_the_columns(megan, data):
    with pytest.raises(CsvInvalid, match="The file is empty"):
        import_users_csv(data, actor=megan)


def test_an_authentication_administrator_cannot_import_admins_and_that_row_is_reported(alex):
    report = import_users_csv(csv_bytes(
        "adele.vance@contoso.example,Adele Vance,global_admin",
        "lee.gu@contoso.example,Lee Gu,user",
        header="upn,display_name,role\n",
    ), actor=alex)

    assert report.errors == [(2, "Only a Global Administrator can change admin roles.")]
    assert User.objects.get(upn="lee.gu@contoso.example").role == "user"
    assert not User.objects.filter(upn="adele.vance@contoso.example").exists()


def test_the_admin_page_sends_files_of_more_than_a_thousand_people_to_the_command_line(client, sign_in, megan):
    sign_in.password(client, megan.upn)
    rows = "".join(f"p{n}@contoso.example,Person {n}\n" for n in range(1001))
    upload = SimpleUploadedFile("people.csv", ("upn,display_name\n" + rows).encode(), content_type="text/csv")

    response = client.post("/admin/users/import", {"file": upload})

    assert response.status_code == 200
    assert "watchword user import FILE.csv" in response.content.decode()
    assert not User.objects.filter(upn="p0@contoso.example").exists()
