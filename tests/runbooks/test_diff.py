from __future__ import annotations

from runbooks.diff import DiffRow, side_by_side, unified_diff

OLD = "# Lag\n\n- [ ] Check replica\n- [ ] Restart\n"
NEW = "# Lag\n\n- [ ] Check the replica\n- [ ] Restart\n- [ ] Page the DBA\n"


def test_unified_diff_marks_changed_lines_with_labels():
    diff = unified_diff(OLD, NEW, old_label="Revision 1", new_label="Revision 2")

    assert diff.splitlines() == [
        "--- Revision 1",
        "+++ Revision 2",
        "@@ -1,4 +1,5 @@",
        " # Lag",
        " ",
        "-- [ ] Check replica",
        "+- [ ] Check the replica",
        " - [ ] Restart",
        "+- [ ] Page the DBA",
    ]


def test_unified_diff_of_equal_texts_is_empty():
    assert unified_diff(OLD, OLD, old_label="a", new_label="b") == ""


def test_unified_diff_ends_every_line_even_without_a_final_newline():
    assert unified_diff("a", "b", old_label="x", new_label="y").endswith("-a\n+b\n")


def test_side_by_side_aligns_lines_with_their_numbers():
    assert side_by_side(OLD, NEW) == [
        DiffRow("equal", 1, "# Lag", 1, "# Lag"),
        DiffRow("equal", 2, "", 2, ""),
        DiffRow("replace", 3, "- [ ] Check replica", 3, "- [ ] Check the replica"),
        DiffRow("equal", 4, "- [ ] Restart", 4, "- [ ] Restart"),
        DiffRow("insert", None, "", 5, "- [ ] Page the DBA"),
    ]


def test_side_by_side_pads_an_uneven_replacement_and_shows_deletions():
    rows = side_by_side("a\nb\nc\nd", "a\nX\nd")

    assert rows == [
        DiffRow("equal", 1, "a", 1, "a"),
        DiffRow("replace", 2, "b", 2, "X"),
        DiffRow("delete", 3, "c", None, ""),
        DiffRow("equal", 4, "d", 3, "d"),
    ]
