"""The Chinese edition: one source (the English pages), its text in message catalogues.

    python tools/translations.py update   # extract the English text, refresh locales/zh_CN/ (sphinx-intl)
    python tools/translations.py check    # fail on any message untranslated, fuzzy, obsolete or
                                          # whose markup differs from the English (make check)
    python tools/translations.py lint F.po ...   # the markup rules only, on the files a translator edits
    python tools/translations.py build    # the Chinese site into _build/html/zh_CN/ (make book)

Sphinx's gettext builder extracts every paragraph, heading, caption, list item and glossary
entry of the built English pages (the executed twins' markdown cells included, never code or
outputs) into one template per page, `_build/gettext/book/<page>.pot`; `sphinx-intl update`
merges each template into `locales/zh_CN/LC_MESSAGES/book/<page>.po`, keeping every translation
whose English did not change, marking those whose English changed a little as fuzzy, and moving
those whose English is gone to the end as obsolete (`#~`). The Chinese site is then the same
build with `language = zh_CN`: the same twins, so every shape and number on it is the one nbval
checked, with the prose read from the catalogues.

`check` extracts the templates afresh into a temporary folder, so that it sees the English as it
is now, and fails, listing each message, where the catalogues lag behind. It also holds every
translation to the markup of its English: the same inline code, maths, links, citations and
cross-references, the same numbers, the same glossary terms (shown by their Chinese names), and
some Chinese in every message that has English prose.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LANGUAGE = "zh_CN"
LOCALES = ROOT / "locales"
CATALOGUES = LOCALES / LANGUAGE / "LC_MESSAGES"
GLOSSARY = ROOT / "book" / "glossary.md"
POT = ROOT / "_build" / "gettext"
SITE = ROOT / "_build" / "html" / LANGUAGE
REFRESH = "make translations  (python tools/translations.py update: extract, then sphinx-intl update)"

ROLE = re.compile(r"\{(?P<name>[a-z:]+)\}`(?P<body>[^`]*)`")
CODE = re.compile(r"``(?P<a>.+?)``|`(?P<b>[^`]+)`")
MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$", re.DOTALL)
LINK = re.compile(r"!?\[(?P<text>[^\]]*)\]\((?P<url>[^)\s]+)\)")
LATEX = re.compile(r"\\[A-Za-z]+")  # a LaTeX command, as in a maths block's message
SENTENCE = re.compile(r"[A-Za-z]{2,}(?: [A-Za-z]{2,}){3}")  # four words in a row
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
CJK = re.compile(r"[\u3400-\u9fff]")
WORD = re.compile(r"(?<![\w])[A-Za-z][a-z]{2,}(?![\w])")  # a word of prose, not a symbol (hd_h, gw)
EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.DOTALL)


# -- building --------------------------------------------------------------------------------


def sphinx(
    builder: str, outdir: Path, doctrees: Path, language: str | None = None, fresh: bool = False
) -> int:
    """Sphinx with the Jupyter Book configuration, as `jupyter-book build` runs it (-W, keep going)."""
    from jupyter_book.sphinx import build_sphinx

    overrides = {"external_toc_path": (ROOT / "_toc.yml").as_posix(), "latex_individualpages": False}
    if language:
        overrides["language"] = language
    return build_sphinx(
        ROOT,
        outdir,
        noconfig=True,
        path_config=ROOT / "_config.yml",
        confoverrides=overrides,
        builder=builder,
        doctreedir=doctrees,
        warningiserror=True,
        keep_going=True,
        freshenv=fresh,
        quiet=True,
    )


def extract(outdir: Path) -> None:
    """The message templates of the English site, one per page, into `outdir`, and the
    template of the site's own words (sphinx.pot)."""
    # every page read afresh: a template must never lag behind a change to the pages or to the
    # extensions that read them
    if sphinx("gettext", outdir, outdir / ".doctrees", fresh=True) != 0:
        sys.exit("error: the gettext build failed (its warnings are above)")
    write_site_template(outdir / "sphinx.pot")


def site_messages() -> list[str]:
    """The words of the site outside its pages: the table of contents' part captions,
    book/_ext/editions.py's CHROME (title, search box, language switch, theme strings), and the
    whole-model figures' words (tools/architecture.py)."""
    import yaml

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    sys.path.insert(0, str(ROOT / "tools"))
    from architecture import WORDS, stage_labels
    from editions import CHROME

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    captions = [part["caption"] for part in toc.get("parts", []) if part.get("caption")]
    return list(dict.fromkeys([*captions, *CHROME, *WORDS, *stage_labels()]))


def write_site_template(path: Path) -> None:
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    catalogue = Catalog(project="ViT, Shape by Shape", charset="utf-8")
    for message in site_messages():
        catalogue.add(message)
    with path.open("wb") as file:
        write_po(file, catalogue, width=0, omit_header=False)


# -- reading catalogues -----------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    page: str  # "book/04_attention_scores"
    id: str
    string: str
    fuzzy: bool


def read_catalogue(path: Path) -> tuple[list[Message], list[Message]]:
    """The messages of a .po or .pot file, and its obsolete ones (`#~`)."""
    from babel.messages.pofile import read_po

    page = "/".join(path.with_suffix("").parts[-2:])  # "book/04_attention_scores"
    with path.open("rb") as file:
        catalogue = read_po(file)

    def message(m) -> Message:
        return Message(page, m.id, m.string or "", m.fuzzy)

    live = [message(m) for m in catalogue if m.id]
    return live, [message(m) for m in catalogue.obsolete.values()]


# -- the markup rules -------------------------------------------------------------------------


def glossary_names() -> dict[str, tuple[list[str], list[str]]]:
    """Each glossary name -> (the entry's Chinese names, its other names) (book/glossary.md)."""
    body = GLOSSARY.read_text(encoding="utf-8").split("```{glossary}", 1)[1].split("\n```", 1)[0]
    entries, names = [], []
    for line in body.splitlines():
        if line.strip() and not line.startswith((" ", ":")):
            names.append(line.strip())
        elif names:
            entries.append(names)
            names = []
    if names:
        entries.append(names)
    table = {}
    for entry in entries:
        chinese = [name for name in entry if CJK.search(name)]
        for name in entry:
            table[name.lower()] = (chinese, [other for other in entry if not CJK.search(other)])
    return table


def _role_key(name: str, body: str) -> tuple[str, str]:
    match = EXPLICIT.match(body)
    return name, (match["target"] if match else body).strip()


def _parts(text: str) -> dict[str, Counter]:
    """What a translation must keep of its English: roles, code, maths, links, numbers."""
    roles = [(m["name"], m["body"]) for m in ROLE.finditer(text)]
    rest = ROLE.sub(" ", text)
    code = [m["a"] or m["b"] for m in CODE.finditer(rest)]
    rest = CODE.sub(" ", rest)
    maths = MATH.findall(rest)
    rest = MATH.sub(" ", rest)
    links = [m["url"] for m in LINK.finditer(rest)]
    rest = LINK.sub(lambda m: " " + m["text"] + " ", rest)
    placeholders = [] if LATEX.search(text) else PLACEHOLDER.findall(rest)  # not a LaTeX group
    rest = PLACEHOLDER.sub(" ", rest)
    return {
        "cross-references": Counter(_role_key(n, b) for n, b in roles if n != "term"),
        "glossary terms": Counter(_role_key(n, b)[1].lower() for n, b in roles if n == "term"),
        "inline code": Counter(code),
        "maths": Counter(m.strip() for m in maths),
        "links": Counter(links),
        "placeholders": Counter(placeholders),
        "numbers": Counter(n.replace(",", "") for n in NUMBER.findall(rest)),
        "prose": Counter(WORD.findall(re.sub(r"https?://\S+", " ", rest))),
    }


def _shown(body: str) -> str:
    """What a role shows: its text where it has an explicit target (`text <target>`)."""
    explicit = EXPLICIT.match(body)
    return explicit["text"] if explicit else body


def problems(message: Message, glossary: dict) -> list[str]:
    """What is wrong with one translated message's markup (an empty list: nothing)."""
    english, chinese = _parts(message.id), _parts(message.string)
    found = []
    kinds = ("cross-references", "glossary terms", "inline code", "maths", "links", "placeholders", "numbers")
    for kind in kinds:
        if english[kind] != chinese[kind]:
            lost = sorted((english[kind] - chinese[kind]).elements(), key=str)
            added = sorted((chinese[kind] - english[kind]).elements(), key=str)
            found.append(f"{kind} differ: missing {lost}, extra {added}")
    for match in ROLE.finditer(message.string):
        if match["name"] != "term":
            continue
        explicit = EXPLICIT.match(match["body"])
        shown = explicit["text"] if explicit else match["body"]
        target = (explicit["target"] if explicit else match["body"]).strip().lower()
        chinese_names, other_names = glossary.get(target, ([], []))
        allowed = chinese_names or other_names
        # an abbreviation (ViT, MLP, LayerNorm, CLS token) may stand for the term in Chinese too
        allowed = allowed + [n for n in other_names if n != other_names[0] and re.search("[A-Z]", n)]
        if allowed and not any(name.lower() in shown.lower() for name in allowed):
            found.append(f"the term {match[0]} shows none of its glossary names {allowed}")
    # a maths block (its LaTeX, no prose) stays as it is
    formula = LATEX.search(message.id) and not SENTENCE.search(LATEX.sub(" ", message.id))
    english_words = 0 if formula else sum(english["prose"].values())
    shown = CODE.sub(" ", ROLE.sub(lambda m: _shown(m["body"]), message.string))
    if english_words >= 3 and not CJK.search(shown):
        if message.id.strip().lower() not in glossary:
            found.append(f"no Chinese in a message of {english_words} English words")
    return found


# -- the gate ---------------------------------------------------------------------------------


def check(templates: Path, catalogues: Path = CATALOGUES) -> list[str]:
    """Every problem of the catalogues against freshly extracted templates, one line each."""
    glossary = glossary_names()
    report = []
    pots = sorted(templates.rglob("*.pot"))
    pages = {pot.relative_to(templates).with_suffix("").as_posix() for pot in pots}
    for po in sorted(catalogues.rglob("*.po")):
        page = po.relative_to(catalogues).with_suffix("").as_posix()
        if page not in pages:
            report.append(f"{page}: obsolete catalogue (no such page): {_path(po)}")
    for pot in pots:
        page = pot.relative_to(templates).with_suffix("").as_posix()
        po = catalogues / f"{page}.po"
        if not po.exists():
            report.append(f"{page}: no catalogue {_path(po)}")
            continue
        wanted, _ = read_catalogue(pot)
        have, obsolete = read_catalogue(po)
        by_id = {m.id: m for m in have}
        wanted_ids = {m.id for m in wanted}
        for m in wanted:
            got = by_id.get(m.id)
            if got is None:
                report.append(f"{page}: untranslated (new English): {_short(m.id)}")
            elif got.fuzzy:
                report.append(f"{page}: fuzzy: {_short(m.id)}")
            elif not got.string:
                report.append(f"{page}: untranslated: {_short(m.id)}")
            else:
                report += [f"{page}: {p}: {_short(m.id)}" for p in problems(got, glossary)]
        for m in have:
            if m.id not in wanted_ids:
                report.append(f"{page}: obsolete (English gone): {_short(m.id)}")
        report += [f"{page}: obsolete (#~): {_short(m.id)}" for m in obsolete]
    return report


def _path(path: Path) -> str:
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def _short(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= width else text[: width - 1] + "…")


def lint(paths: list[Path]) -> list[str]:
    glossary = glossary_names()
    report = []
    for path in paths:
        messages, _ = read_catalogue(path)
        for m in messages:
            if m.string and not m.fuzzy:
                report += [f"{path.name}: {p}: {_short(m.id)}" for p in problems(m, glossary)]
            elif not m.string:
                report.append(f"{path.name}: untranslated: {_short(m.id)}")
    return report


# -- commands ---------------------------------------------------------------------------------


def cmd_update(_args) -> int:
    extract(POT)
    sphinx_intl = Path(sys.executable).with_name("sphinx-intl")
    subprocess.run(
        [sphinx_intl, "update", "-p", POT, "-l", LANGUAGE, "-d", LOCALES, "-w", "0", "-j", "1"],
        check=True,
    )
    return 0


def cmd_check(args) -> int:
    if not args.catalogues.is_dir():
        print(f"error: {args.catalogues}: no such folder of catalogues")
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        with contextlib.redirect_stdout(io.StringIO()):
            extract(Path(tmp))
        report = check(Path(tmp), args.catalogues)
    if report:
        print(f"error: {len(report)} messages of the Chinese edition lag behind the English:")
        print("\n".join(f"  {line}" for line in report))
        print(f"refresh the catalogues with: {REFRESH}; then translate each message listed and")
        print("remove its fuzzy flag; delete the obsolete ones (locales/README.md says how)")
        return 1
    print(f"translations: every message of {LANGUAGE} is translated and current")
    return 0


def cmd_lint(args) -> int:
    for path in args.files:
        if path.suffix != ".po" or not path.is_file():
            print(f"error: {path}: not a catalogue (a .po file that exists)")
            return 2
    report = lint(args.files)
    print("\n".join(report) if report else f"{len(args.files)} catalogues: no problems")
    return 1 if report else 0


def cmd_build(_args) -> int:
    # read afresh, as `jupyter-book build --all` writes afresh: the site's words (sphinx.po) and
    # the part captions are read with the pages, and a page whose catalogue did not change would
    # otherwise keep them as they were
    if sphinx("html", SITE, ROOT / "_build" / f".doctrees-{LANGUAGE}", LANGUAGE, fresh=True) != 0:
        print("error: the Chinese build failed (its warnings are above)")
        return 1
    # as jupyter-book does for the English site: the folder's index leads to the first page
    (SITE / "index.html").write_text(
        '<meta http-equiv="Refresh" content="0; url=book/index.html" />\n', encoding="utf-8"
    )
    print(f"site: {SITE.relative_to(ROOT)}/index.html")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("update").set_defaults(run=cmd_update)
    checking = sub.add_parser("check")
    checking.add_argument("--catalogues", type=Path, default=CATALOGUES)
    checking.set_defaults(run=cmd_check)
    linting = sub.add_parser("lint")
    linting.add_argument("files", nargs="+", type=Path)
    linting.set_defaults(run=cmd_lint)
    sub.add_parser("build").set_defaults(run=cmd_build)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
