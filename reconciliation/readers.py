"""Reading another system's export row by row, in constant memory.

    source_rows_open(path, *, columns, optional=None) -> SourceFile  (a context manager; iterate
    it for SourceRow; `fields` says which hub fields the header has)

- CSV: the encoding is decided on the first chunk (1 MB): UTF-8 (with or without BOM), else
  GB18030 (a superset of GBK, so Chinese platforms' GBK exports read the same). The file is then
  decoded line by line as it is read; bytes that are not valid in that encoding later on stop
  the reading with an error naming the line. Comma- or tab-separated: the header line decides.
- XLSX: the first sheet, streamed (openpyxl read-only mode, values only). Old .xls is refused.
- Row 1 is the header, matched against the mapping's columns whatever their case, spacing, "-"
  or "_"; a missing column is an error naming it. `optional` columns ({hub field: the names it
  may have}, e.g. the quantity columns of reconciliation.defaults) are read when the header has
  one of their names, and are no error when it has none. Blank rows are skipped. Row numbers
  are the spreadsheet's (header = row 1).

Any problem with the file as a whole raises SourceFileError (a message for the operator).
"""

from __future__ import annotations

import codecs
import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _

from integrations.channels.csv_import import _header_key

FIRST_CHUNK = 1 << 20


class SourceFileError(Exception):
    """The file as a whole cannot be read: format, encoding, missing columns."""


@dataclass(frozen=True)
class SourceRow:
    row: int
    values: dict  # hub field -> the cell's value (str, number, date or None)


class SourceFile:
    def __init__(self, path: Path, *, columns: dict[str, str], optional: dict[str, tuple[str, ...]] | None = None):
        self.path = Path(path)
        self.columns = columns
        self.optional = optional or {}
        self.encoding = ""
        self._binary = None
        self._workbook = None
        self._size = 0

    # -- opening -------------------------------------------------------------------------------

    def __enter__(self) -> SourceFile:
        try:
            self._binary = self.path.open("rb")
            self._size = os.fstat(self._binary.fileno()).st_size
        except OSError as exc:
            raise SourceFileError(_("cannot read %(path)s: %(error)s") % {"path": self.path, "error": exc}) from None
        head = self._binary.read(FIRST_CHUNK)
        self._binary.seek(0)
        if not head.strip():
            raise SourceFileError(_("the file is empty"))
        if head.startswith(b"PK\x03\x04"):
            self.encoding = "xlsx"
            self._rows = self._xlsx_rows()
        elif head.startswith(b"\xd0\xcf\x11\xe0"):
            raise SourceFileError(_("this is an old Excel .xls file: save it as .xlsx or CSV"))
        else:
            self.encoding = _encoding_of(head, complete=len(head) < FIRST_CHUNK)
            self._rows = self._csv_rows()
        self._index = self._header()
        return self

    def __exit__(self, *exc) -> None:
        if self._workbook is not None:
            self._workbook.close()
        if self._binary is not None:
            self._binary.close()

    @property
    def progress(self) -> float:
        """How far the reading is, 0..1 (bytes for CSV; XLSX is compressed, so an estimate)."""
        if self._binary is None or not self._size or self._binary.closed:
            return 0.0
        try:
            return min(1.0, self._binary.tell() / self._size)
        except (OSError, ValueError):
            return 0.0

    def _csv_rows(self) -> Iterator[list]:
        lines = self._lines()
        first_line = next(lines, "")
        delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
        yield next(csv.reader([first_line], delimiter=delimiter), [])
        yield from csv.reader(lines, delimiter=delimiter)

    def _lines(self) -> Iterator[str]:
        """Decoded line by line, so bad bytes are named by their line. Neither UTF-8 nor GB18030
        uses the byte of a newline inside a character, so splitting before decoding is safe."""
        encoding = "utf-8" if self.encoding == "utf-8-sig" else self.encoding
        for number, raw in enumerate(self._binary, start=1):
            try:
                yield raw.decode(self.encoding if number == 1 else encoding)
            except UnicodeDecodeError:
                raise SourceFileError(
                    _("line %(line)s: bytes that are not valid %(encoding)s text")
                    % {"line": number, "encoding": self.encoding}
                ) from None

    def _xlsx_rows(self) -> Iterator[list]:
        import openpyxl

        try:
            self._workbook = openpyxl.load_workbook(self._binary, read_only=True, data_only=True)
            sheet = self._workbook.worksheets[0]
        except Exception as exc:  # a damaged or foreign zip: say so, do not crash
            raise SourceFileError(_("cannot read the workbook: %(error)s") % {"error": exc}) from None
        for values in sheet.iter_rows(values_only=True):
            yield list(values)

    def _header(self) -> dict[str, int]:
        header = next(self._rows, None)
        if not header:
            raise SourceFileError(_("the file is empty"))
        positions: dict[str, int] = {}
        for index, name in enumerate(header):
            key = _header_key(name)
            if key and key not in positions:
                positions[key] = index
        index, missing = {}, []
        for field, column in self.columns.items():
            position = positions.get(_header_key(column))
            if position is None:
                missing.append(f"{column} ({field})")
            else:
                index[field] = position
        if missing:
            found = ", ".join(str(h) for h in header if str(h or "").strip()) or _("nothing")
            raise SourceFileError(
                _("row 1: the header has no column %(missing)s. Found: %(found)s.")
                % {"missing": "; ".join(missing), "found": found}
            )
        taken = set(index.values())
        for field, names in self.optional.items():
            if field in index:
                continue
            position = next(
                (positions[k] for k in map(_header_key, names) if positions.get(k) not in (None, *taken)), None
            )
            if position is not None:
                index[field] = position
                taken.add(position)
        return index

    @property
    def fields(self) -> frozenset[str]:
        """The hub fields the header has (the mapping's, and the optional ones found)."""
        return frozenset(self._index)

    # -- rows ----------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[SourceRow]:
        number = 1
        rows = self._rows
        while True:
            try:
                values = next(rows)
            except StopIteration:
                return
            except csv.Error as exc:
                raise SourceFileError(_("row %(row)s: %(error)s") % {"row": number + 1, "error": exc}) from None
            number += 1
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            yield SourceRow(
                number,
                {field: (values[i] if i < len(values) else None) for field, i in self._index.items()},
            )


def _encoding_of(head: bytes, *, complete: bool) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            decoder.decode(head, final=complete)
        except UnicodeDecodeError:
            continue
        if encoding == "utf-8-sig" and not head.startswith(codecs.BOM_UTF8):
            return "utf-8"
        return encoding
    raise SourceFileError(_("the file is neither UTF-8 nor GBK text, nor an XLSX workbook"))


def source_rows_open(
    path: Path | str, *, columns: dict[str, str], optional: dict[str, tuple[str, ...]] | None = None
) -> SourceFile:
    return SourceFile(Path(path), columns=columns, optional=optional)
