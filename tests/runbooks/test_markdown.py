from __future__ import annotations

from html.parser import HTMLParser

import pytest

from runbooks.markdown import checklist_items, render_markdown


class _Tags(HTMLParser):
    """Each start tag with its attributes and the text right after it (attribute order is not
    part of the behaviour)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None], str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs), ""))

    def handle_data(self, data: str) -> None:
        if self.tags and not self.tags[-1][2]:
            tag, attrs, _ = self.tags[-1]
            self.tags[-1] = (tag, attrs, data)


def tags(html: str, name: str) -> list[tuple[dict[str, str | None], str]]:
    parser = _Tags()
    parser.feed(html)
    return [(attrs, text) for tag, attrs, text in parser.tags if tag == name]


@pytest.mark.parametrize(
    ("markdown", "forbidden"),
    [
        ("Hello <script>alert('owned')</script> world", ["<script", "alert("]),
        ("<script>\nalert('owned')\n</script>\n\nAfter", ["<script", "alert("]),
        ("[click me](javascript:alert(1))", ["javascript:"]),
        ('<a href="JaVaScRiPt:alert(1)">x</a>', ["javascript", "alert"]),
        ("![pic](x.png)<img src=x onerror=alert(1)>", ["onerror", "alert"]),
        ('<p onclick="steal()">text</p>', ["onclick", "steal"]),
        (
            '<iframe src="https://evil.example.org/">inside</iframe>',
            ["<iframe", "evil.example.org", "inside"],
        ),
        ("<style>body{display:none}</style>", ["<style", "display:none"]),
        (
            '<form action="https://evil.example.org"><input type="password" name="pw"></form>',
            ["<form", "password"],
        ),
        ('<div style="position:fixed">overlay</div>', ["<div", "position:fixed"]),
        ("[data](data:text/html;base64,PHNjcmlwdD4=)", ["data:text"]),
    ],
)
def test_dangerous_html_is_removed(markdown, forbidden):
    html = render_markdown(markdown).lower()

    for fragment in forbidden:
        assert fragment.lower() not in html


def test_code_blocks_show_html_as_text():
    html = render_markdown("```html\n<script>alert('x')</script>\n```\n\nInline `<b>bold</b>` too.")

    assert "<pre><code>&lt;script&gt;alert('x')&lt;/script&gt;\n</code></pre>" in html
    assert "<code>&lt;b&gt;bold&lt;/b&gt;</code>" in html
    assert "<script" not in html


def test_tables_survive():
    html = render_markdown("| Host | Role |\n|------|------|\n| db-1 | primary |\n")

    assert "<table>" in html
    assert "<th>Host</th>" in html
    assert "<td>db-1</td>" in html


def test_safe_links_get_rel_noopener_and_images_keep_src_and_alt():
    html = render_markdown('[Grafana](https://grafana.example.org/d/1 "Dash") ![graph](https://x.org/g.png)')

    assert tags(html, "a") == [
        (
            {"href": "https://grafana.example.org/d/1", "title": "Dash", "rel": "noopener noreferrer"},
            "Grafana",
        )
    ]
    assert tags(html, "img")[0][0] == {"src": "https://x.org/g.png", "alt": "graph"}


def test_mailto_links_are_kept():
    assert (
        tags(render_markdown("[DBA](mailto:dba@example.org)"), "a")[0][0]["href"] == "mailto:dba@example.org"
    )


def test_headings_lists_quotes_and_emphasis_render():
    html = render_markdown("## Step\n\n> **Careful**, *really*\n\n1. one\n2. two\n\n---\n")

    for fragment in [
        "<h2>Step</h2>",
        "<blockquote>",
        "<strong>Careful</strong>",
        "<em>really</em>",
        "<ol>",
        "<hr>",
    ]:
        assert fragment in html


def test_task_list_items_render_as_disabled_checkboxes():
    html = render_markdown("- [ ] Check replica\n- [x] Page the DBA\n- plain item\n")

    assert tags(html, "input") == [
        ({"type": "checkbox", "disabled": "disabled"}, " Check replica"),
        ({"type": "checkbox", "disabled": "disabled", "checked": ""}, " Page the DBA"),
    ]
    assert "<li>plain item</li>" in html
    assert "[ ]" not in html


def test_raw_inputs_cannot_become_text_fields():
    html = render_markdown('<input type="text" name="token" value="x">')

    assert [attrs for attrs, _ in tags(html, "input")] == [{"type": "checkbox", "disabled": "disabled"}]


def test_checklist_items_in_order_skipping_fenced_code():
    text = (
        "# Runbook\n\n"
        "- [ ] Check the replica\n"
        "* [x] Page the DBA\n"
        "  - [ ] Nested step\n"
        "- not a step\n"
        "```\n- [ ] an example, not a step\n```\n"
        "~~~~\n```\n- [ ] still inside the tilde fence\n~~~~\n"
        "+ [X] Write it up\n"
    )

    assert checklist_items(text) == ["Check the replica", "Page the DBA", "Nested step", "Write it up"]


def test_checklist_items_ignore_empty_boxes():
    assert checklist_items("- [ ]\n- []  no\n- [ ] yes") == ["yes"]
