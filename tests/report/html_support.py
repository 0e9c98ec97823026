"""What the HTML tests share: the pages they render, a hostile scenario, and a small DOM
(the standard library's parser) to look at a page without a browser."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from support import REPO

SEED = REPO / "scenarios" / "i386-regs-caller-window.yaml"

#: Scenario text a page must show as text, never run or turn into elements. The glob passes
#: the schema (no space, no digit first) and fails with EINVAL, as the step expects.
HOSTILE_DESCRIPTION = (
    '</script><script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    " & 'quotes' </style><b>bold</b>"
)
HOSTILE_GLOB = "<img/src=x/onerror=window.__pwned=3>"
HOSTILE_XFAIL = "<iframe src=javascript:window.__pwned=4></iframe>"
HOSTILE = f"""\
ftscen: 1
description: |-
  {HOSTILE_DESCRIPTION}
xfail: |-
  {HOSTILE_XFAIL}
functions:
  - name: f
ops:
  - name: t
    filter: [f]
timeline:
  - register: t
  - set_filter: {{ops: t, filter: ["{HOSTILE_GLOB}"]}}
    expect: EINVAL
  - {{call: f, id: c1}}
expect:
  - {{call: c1, called: []}}
"""
#: a file name that is markup too (Linux allows it)
HOSTILE_FILE = "<svg onload=window.__pwned=5>.yaml"


def write_hostile(folder: Path) -> Path:
    path = folder / HOSTILE_FILE
    path.write_text(HOSTILE, encoding="utf-8")
    return path


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    text: str = ""

    def all_text(self) -> str:
        return self.text + "".join(c.all_text() for c in self.children)

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        """Descendants with this tag (any if None) whose attributes hold these values
        (``class_`` matches one word of ``class``)."""
        out = []
        for c in self.children:
            if _matches(c, tag, attrs):
                out.append(c)
            out.extend(c.find_all(tag, **attrs))
        return out


def _matches(node: Node, tag: str | None, attrs: dict[str, str]) -> bool:
    if tag is not None and node.tag != tag:
        return False
    for key, want in attrs.items():
        if key == "class_":
            if want not in node.attrs.get("class", "").split():
                return False
        elif node.attrs.get(key.replace("_", "-")) != want:
            return False
    return True


_VOID = {"meta", "br", "img", "input", "link", "hr"}


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(Node("#text", {}, text=data))


def parse(page: str) -> Node:
    p = _Parser()
    p.feed(page)
    p.close()
    return p.root
