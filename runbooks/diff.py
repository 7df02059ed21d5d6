"""Differences between two revisions' text, line by line: a unified diff (for the API, e-mail and
narrow screens) and rows for a side-by-side table."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from itertools import zip_longest
from typing import Literal

DiffKind = Literal["equal", "insert", "delete", "replace"]


@dataclass(frozen=True)
class DiffRow:
    """One row of a side-by-side diff. A side with no line (an insert's old side, a delete's new
    side) has number None and empty text; line numbers start at 1."""

    kind: DiffKind
    old_number: int | None
    old_text: str
    new_number: int | None
    new_text: str


def unified_diff(old: str, new: str, *, old_label: str, new_label: str) -> str:
    """A unified diff with three lines of context; empty when the texts are the same."""
    return "".join(
        line if line.endswith("\n") else line + "\n"
        for line in difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=old_label,
            tofile=new_label,
        )
    )


def side_by_side(old: str, new: str) -> list[DiffRow]:
    """Every line of both texts, aligned: unchanged lines side by side, changed blocks paired line
    for line (the longer side's extra lines face a blank)."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for tag, old_start, old_end, new_start, new_end in matcher.get_opcodes():
        old_numbers = range(old_start + 1, old_end + 1)
        new_numbers = range(new_start + 1, new_end + 1)
        if tag == "equal":
            rows.extend(
                DiffRow("equal", o, old_lines[o - 1], n, new_lines[n - 1])
                for o, n in zip(old_numbers, new_numbers, strict=True)
            )
        elif tag == "delete":
            rows.extend(DiffRow("delete", o, old_lines[o - 1], None, "") for o in old_numbers)
        elif tag == "insert":
            rows.extend(DiffRow("insert", None, "", n, new_lines[n - 1]) for n in new_numbers)
        else:
            for o, n in zip_longest(old_numbers, new_numbers):
                if o is None:
                    rows.append(DiffRow("insert", None, "", n, new_lines[n - 1]))
                elif n is None:
                    rows.append(DiffRow("delete", o, old_lines[o - 1], None, ""))
                else:
                    rows.append(DiffRow("replace", o, old_lines[o - 1], n, new_lines[n - 1]))
    return rows
