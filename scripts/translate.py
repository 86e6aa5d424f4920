"""Fill the zh_Hans catalog from a {msgid or (msgctxt, msgid) or (msgid, msgid_plural): text}
table in a Python file, clear fuzzy flags on what it fills, and list what is still missing.

    .venv/bin/python scripts/translate.py TABLE.py
"""

import runpy
import sys

import polib

PO = "locale/zh_Hans/LC_MESSAGES/django.po"


def main(table_path: str) -> int:
    table = runpy.run_path(table_path)["T"]
    po = polib.pofile(PO)
    for entry in po:
        keys = [(entry.msgctxt, entry.msgid)] if entry.msgctxt else [entry.msgid]
        if entry.msgid_plural:
            keys.insert(0, (entry.msgid, entry.msgid_plural))
        text = next((table[k] for k in keys if k in table), None)
        if text is None:
            continue
        if entry.msgid_plural:
            entry.msgstr_plural = {0: text}
        else:
            entry.msgstr = text
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
        entry.previous_msgid = entry.previous_msgid_plural = entry.previous_msgctxt = None
    po.save(PO)
    missing = [e for e in po if not e.translated() or "fuzzy" in e.flags]
    for entry in missing:
        print("MISSING:", entry.msgctxt or "", repr(entry.msgid))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
