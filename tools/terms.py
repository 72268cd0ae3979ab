"""Glossary links: the first use of each glossary term in each chapter links to its entry.

    python tools/terms.py check    # fail, naming chapter, term and line, where a first use is plain
    python tools/terms.py link     # turn each such first use into {term}`...` (then read the diff)

The terms are those of the `{glossary}` in book/glossary.md: every line of an entry before its
indented definition (the English names, their abbreviations, the Chinese name). A *use* is a
match in a chapter's prose, whole words, any case, also with a plural "s" or "es": not in code
(`...` and fenced blocks), maths, links, headings, directive options or images. A link is
Sphinx's `{term}` role, ``{term}`patches <patch>```; its target may be any name of the entry.

Some glossary words are also everyday English ("the key idea", "a value of 0.5"). Their first
match counts only where it is the glossary's sense: `SENSE` holds a test for each such word.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "book" / "glossary.md"
ROLE = re.compile(r"\{term\}`(?P<body>[^`]+)`")
# Spans of prose that are not words of the text: inline code, roles, maths, links, html.
MASKS = (
    re.compile(r"\{[a-z:]+\}`[^`]*`"),  # roles, {term} included: handled on their own
    re.compile(r"``.*?``|`[^`]*`"),
    re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$"),
    re.compile(r"!?\[[^\]]*\]\([^)]*\)"),
    re.compile(r"<[^>\n]+>"),
)
# Fenced blocks whose content is not prose (code, maths, included files, figures).
NOT_PROSE_FENCES = re.compile(
    r"^(`{3,}|:{3,})\s*(\{(code-cell|code-block|code|literalinclude|math|figure|image|raw)\}|"
    r"[a-z]+\s*$|$)"
)
# Glossary words that are also plain English ("the key idea", "a value of 0.5", "the whole
# depth"): their use counts only where `SENSE` says it is the glossary's sense.
QKV = re.compile(r"\b(quer(?:y|ies)|keys?|values?)\b", re.IGNORECASE)


EVERYDAY = re.compile(r"(idea|point|step|difference|question|insight|fact|part|trick|role|of)\b")


def _with_the_other_two(context: str, start: int, word: str) -> bool:
    """A query, key or value in the attention sense: another of the three is at most nine words
    away ("queries, keys and values", "a *query* (what it looks for), a *key*"), and neither is
    followed by an everyday noun ("the key idea", "a value of 0.5")."""
    words = list(re.finditer(r"[\w']+", context))
    at = next(i for i, w in enumerate(words) if w.end() > start)

    def everyday(i: int) -> bool:
        return i + 1 < len(words) and EVERYDAY.match(words[i + 1].group(0)) is not None

    if everyday(at):
        return False
    for i in range(max(0, at - 9), min(len(words), at + 10)):
        other = QKV.fullmatch(words[i].group(0))
        if other and other.group(0).lower()[:3] != word.lower()[:3] and not everyday(i):
            return True
    return False


def _depth_of_a_model(context: str, start: int, word: str) -> bool:
    return not re.search(r"(stochastic|whole)\s+$", context[:start], re.IGNORECASE)


SENSE = {
    "query": _with_the_other_two,
    "key": _with_the_other_two,
    "value": _with_the_other_two,
    "depth": _depth_of_a_model,
}


@dataclass(frozen=True)
class Use:
    line: int  # 1-based, in the chapter file
    start: int  # column in that line
    end: int
    linked: bool
    text: str


def glossary_entries(path: Path = GLOSSARY) -> dict[str, list[str]]:
    """{first name of the entry: all its names}, from the `{glossary}` block."""
    text = path.read_text(encoding="utf-8")
    block = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    entries: dict[str, list[str]] = {}
    names: list[str] = []
    for line in block.splitlines():
        if not line.strip() or line.startswith(":"):
            names = [] if not line.strip() else names
            continue
        if line.startswith((" ", "\t")):
            if names:
                entries[names[0]] = names
            names = []
        else:
            names.append(line.strip())
    return entries


def _pattern(name: str) -> re.Pattern:
    words = r"\s+".join(re.escape(part) for part in name.split())
    plural = r"(?:e?s)?"
    if name.endswith("y") and not name.endswith(("ay", "ey", "oy", "uy")):
        words, plural = words[:-1], "(?:y|ies)"  # query, queries
    return re.compile(rf"(?<![\w\-`{{]){words}{plural}(?![\w\-])", re.IGNORECASE)


def _blank(text: str) -> str:
    return "\0" * len(text)


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line with non-prose spans blanked) for every line of prose in a chapter."""
    out, code, directives, front, in_code = [], None, [], False, False
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if number == 1 and stripped == "---":
            front = True
            continue
        if front:
            front = stripped != "---"
            continue
        if code is not None:  # inside code, maths or an included file: until its closing fence
            if stripped == code or (code == "$$" and stripped.endswith("$$")):
                code = None
            continue
        if stripped.startswith("$$") and not (len(stripped) > 2 and stripped.endswith("$$")):
            code = "$$"  # display maths over several lines, until a line that is "$$"
            continue
        fence = re.match(r"^(`{3,}|:{3,})(.*)$", stripped)
        if fence:
            marker, rest = fence.groups()
            if not rest.strip() and directives and directives[-1] == marker:
                directives.pop()  # the end of an exercise, a note, ...: its content was prose
            elif NOT_PROSE_FENCES.match(stripped):
                code = marker
            else:
                directives.append(marker)  # its title line is not linked; its content is prose
            continue
        if not stripped:
            in_code = False  # a paragraph ends; so does any inline code
            continue
        if stripped.startswith("#") or re.match(r"^(:\w[\w-]*:|\([\w-]+\)=|\$\$)", stripped):
            continue  # headings, directive options, labels, display maths
        masked = line
        if in_code:  # inline code that began on an earlier line ends at the first backtick
            close = masked.find("`")
            end = len(masked) if close < 0 else close + 1
            masked, in_code = _blank(masked[:end]) + masked[end:], close < 0
        for mask in MASKS:
            masked = mask.sub(lambda m: _blank(m.group(0)), masked)
        if "`" in masked:  # a backtick left open: inline code that runs on to the next line
            start = masked.index("`")
            masked, in_code = masked[:start] + _blank(masked[start:]), True
        out.append((number, masked))
    return out


def uses(text: str, entries: dict[str, list[str]]) -> dict[str, list[Use]]:
    """Every use of every entry in a chapter, linked or not, in reading order."""
    found: dict[str, list[Use]] = {entry: [] for entry in entries}
    alias = {name.lower(): entry for entry, names in entries.items() for name in names}
    lines = text.splitlines()
    prose = prose_lines(text)
    for index, (number, masked) in enumerate(prose):
        original = lines[number - 1]
        # the words around a match, across the line breaks of its paragraph (unmasked: a linked
        # "{term}`key <query>`" is a neighbour too)
        previous = index > 0 and prose[index - 1][0] == number - 1
        following = index + 1 < len(prose) and prose[index + 1][0] == number + 1
        before = lines[number - 2] + " " if previous else ""
        context = before + original + (" " + lines[number] if following else "")
        for role in ROLE.finditer(original):
            body = role.group("body")
            target = re.search(r"<([^>]+)>\s*$", body)
            name = (target.group(1) if target else body).strip().lower()
            if name in alias and masked[role.start()] == "\0":
                found[alias[name]].append(Use(number, role.start(), role.end(), True, body))
        for entry, names in entries.items():
            for name in names:
                sense = SENSE.get(name.lower())
                for match in _pattern(name).finditer(masked):
                    if sense is not None and not sense(context, len(before) + match.start(), match.group(0)):
                        continue
                    found[entry].append(Use(number, match.start(), match.end(), False, match.group(0)))
    # "token" inside "class token" is a use of "class token", not of "token"
    spans = [(use.line, use.start, use.end) for entry in found for use in found[entry]]
    for entry in found:
        found[entry] = sorted(
            (
                use
                for use in found[entry]
                if use.linked
                or not any(
                    line == use.line
                    and start <= use.start
                    and use.end <= end
                    and (start, end) != (use.start, use.end)
                    for line, start, end in spans
                )
            ),
            key=lambda use: (use.line, use.start),
        )
    return found


def first_plain_uses(text: str, entries: dict[str, list[str]]) -> list[tuple[str, Use]]:
    """The entries whose first use in `text` is not a link, with that use."""
    return [
        (entry, found[0]) for entry, found in uses(text, entries).items() if found and not found[0].linked
    ]


def link(text: str, entries: dict[str, list[str]]) -> str:
    """`text` with the first use of each entry made a {term} link (where it is not one already)."""
    lines = text.splitlines(keepends=True)
    # right to left in each line, the longer of two terms at one place first ("patch embedding")
    edits = sorted(
        first_plain_uses(text, entries),
        key=lambda e: (e[1].line, -e[1].start, -(e[1].end - e[1].start)),
    )
    taken: dict[int, list[tuple[int, int]]] = {}
    for entry, use in edits:
        spans = taken.setdefault(use.line, [])
        if any(use.start < end and start < use.end for start, end in spans):
            continue  # overlaps a longer term already linked on this line ("patch embedding")
        spans.append((use.start, use.end))
        line = lines[use.line - 1]
        word = line[use.start : use.end]
        role = f"{{term}}`{word}`" if word.lower() == entry.lower() else f"{{term}}`{word} <{entry}>`"
        lines[use.line - 1] = line[: use.start] + role + line[use.end :]
    return "".join(lines)


def chapters(root: Path = ROOT) -> list[Path]:
    return sorted((root / "chapters").glob("*.md"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["check", "link"])
    args = parser.parse_args(argv)
    entries = glossary_entries()
    problems = []
    for path in chapters():
        text = path.read_text(encoding="utf-8")
        if args.command == "link":
            for _ in range(3):  # a link can uncover the next use of a shorter, overlapping term
                text = link(text, entries)
            path.write_text(text, encoding="utf-8")
        for entry, use in first_plain_uses(text, entries):
            problems.append(
                f"{path.relative_to(ROOT)}:{use.line}: {use.text!r} ({entry}) is the "
                "chapter's first use of a glossary term and is not a {term} link"
            )
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(
            f"\nterms: {len(problems)} first uses without a glossary link; "
            "`python tools/terms.py link` adds them",
            file=sys.stderr,
        )
        return 1
    print(f"terms: the first use of every glossary term in {len(chapters())} chapters links to it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
