"""Bulk import of people from CSV: every row validated on its own; bad rows are reported by line
number and good rows are kept (each row is its own transaction, so no row is half-written)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from watchword.core.errors import WatchwordError
from watchword.directory.services import create_user

COLUMNS = ("upn", "display_name", "email", "office_phone", "mobile_phone", "role", "password")
REQUIRED = ("upn", "display_name")
MAX_ROWS = 50_000
# Every imported person costs one Argon2id hash (~15 ms): the admin page takes what finishes well
# inside a request's time limit; larger files go through `watchword user import`, which shows progress.
MAX_ROWS_WEB = 1_000
WEB_ADVICE = "import it with the command 'watchword user import FILE.csv', or split it into smaller files"
MAX_BYTES = 20 * 1024 * 1024


class CsvInvalid(WatchwordError):
    code = "csv_invalid"
    message = "The file is not a CSV file Watchword can read."


@dataclass
class ImportReport:
    created: list[tuple[int, str, str | None]] = field(default_factory=list)  # line, upn, one-time password
    errors: list[tuple[int, str]] = field(default_factory=list)  # line, message


def read_rows(data: bytes, *, max_rows: int = MAX_ROWS,
              too_large_advice: str = "split it into smaller files") -> tuple[list[str], list[tuple[int, dict]]]:
    if len(data) > MAX_BYTES:
        raise CsvInvalid(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CsvInvalid("The file is not UTF-8 text. Save it as 'CSV UTF-8' and try again.") from None
    if "\x00" in text:
        raise CsvInvalid("The file contains NUL characters; it is not a CSV text file.")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise CsvInvalid(f"The header line could not be read: {exc}.") from None
    if not header:
        raise CsvInvalid("The file is empty. The first line must name the columns, e.g. upn,display_name,email.")
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise CsvInvalid(f"Unknown column(s): {', '.join(unknown)}. Allowed: {', '.join(COLUMNS)}.")
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise CsvInvalid(f"Missing required column(s): {', '.join(missing)}.")
    reader.fieldnames = header
    rows = []
    try:
        for record in reader:
            if len(rows) >= max_rows:
                raise CsvInvalid(f"The file has more than {max_rows:,} rows; {too_large_advice}.")
            if None in record:
                rows.append((reader.line_num, {"__error__": "This line has more values than there are columns."}))
                continue
            if not any((value or "").strip() for value in record.values()):
                continue  # blank line
            rows.append((reader.line_num, {k: (v or "") for k, v in record.items()}))
    except csv.Error as exc:
        raise CsvInvalid(f"Line {reader.line_num}: {exc}.") from None
    return header, rows


def import_users_csv(data: bytes, *, actor, request=None, progress=None, max_rows: int = MAX_ROWS,
                     too_large_advice: str = "split it into smaller files") -> ImportReport:
    _, rows = read_rows(data, max_rows=max_rows, too_large_advice=too_large_advice)
    report = ImportReport()
    for index, (line, record) in enumerate(rows, 1):
        if "__error__" in record:
            report.errors.append((line, record["__error__"]))
            continue
        password = record.pop("password", "") or None
        try:
            created = create_user(record, actor=actor, request=request, password=password)
        except WatchwordError as exc:
            report.errors.append((line, exc.public_message))
        else:
            report.created.append((line, created.user.upn, created.one_time_password))
        if progress:
            progress(index, len(rows))
    return report
