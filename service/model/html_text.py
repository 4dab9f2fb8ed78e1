"""Comment text from HTML, read by a real HTML parser (the standard library's), for the surfaces whose callers send
markup (Perspective's ``type: HTML`` entries, Coral's comment bodies) and for the plain reading of a comment that
holds markup a page would render (service/model/obfuscation.py, ``as_displayed``).

Inline elements join their text as written, so ``pa<b>the</b>tic mo<i>r</i>on`` reads "pathetic moron" (a regex that
turns tags into spaces read "pa the tic mo r on" and scored it clean); block elements and line breaks separate
words; script, style and template contents are not text at all. Entities are decoded by the parser.
"""

from __future__ import annotations

from html.parser import HTMLParser

# Elements that start a new line of text (their words never run into their neighbours').
BLOCKS = frozenset((
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure", "footer",
    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
))  # fmt: skip
INVISIBLE = frozenset(("script", "style", "template", "head", "title"))


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0  # depth inside invisible elements

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in INVISIBLE:
            self.hidden += 1
        elif tag in BLOCKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in INVISIBLE:
            self.hidden = max(0, self.hidden - 1)
        elif tag in BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """The visible text of an HTML fragment, block elements on lines of their own, trimmed."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)
