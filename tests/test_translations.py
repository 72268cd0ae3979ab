"""The Chinese edition's gate (tools/translations.py): it fails where the catalogues lag behind the
English, and it holds each translation to the markup of its English, rule by rule.

The last tests change one English sentence in a temporary copy of the book and run the real
gate on it: it must fail, naming the sentence and the command that refreshes the catalogues;
after that command the sentence is fuzzy, and still fails the gate until someone translates it.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import translations  # noqa: E402
from translations import Message, check, glossary_names, problems, site_messages  # noqa: E402

GLOSSARY = glossary_names()


def issues(english: str, chinese: str) -> list[str]:
    return problems(Message("book/x", english, chinese, False), GLOSSARY)


# ---------------------------------------------------------------------------- the markup rules
def test_a_faithful_translation_passes():
    english = (
        "[Chapter 3](03_qkv_heads.ipynb) gives every {term}`token` a {term}`query` in each of 12 "
        "heads: `qkv` makes (4, 17, 2304), and $d_h$ = 64 {cite:p}`vaswani2017attention`."
    )
    chinese = (
        "[第 3 章](03_qkv_heads.ipynb)在 12 个头中给每个{term}`词元 <token>`"
        "一个{term}`查询 <query>`：`qkv` 得到 (4, 17, 2304)，$d_h$ = 64 "
        "{cite:p}`vaswani2017attention`。"
    )
    assert issues(english, chinese) == []


@pytest.mark.parametrize(
    "chinese, problem",
    [
        ("每个词元的形状是 (4, 17, 1024)，用 `x.view` 改变。", "inline code differ"),
        ("每个词元的形状是 (4, 17, 1024)，用 `x.reshape` 改变，见 $d$。", "maths differ"),
        ("每个词元的形状是 (4, 16, 1024)，用 `x.reshape` 改变。", "numbers differ"),
        (
            "每个[词元](02_tokens.ipynb)的形状是 (4, 17, 1024)，用 `x.reshape` 改变。",
            "links differ",
        ),
        ("每个词元的形状是 (4, 17, 1024)，用 `x.reshape` 改变 {cite:p}`x`。", "cross-references"),
    ],
)
def test_each_kind_of_markup_must_be_kept(chinese: str, problem: str):
    english = "Every token has the shape (4, 17, 1024); `x.reshape` changes it."
    found = issues(english, chinese)
    assert len(found) == 1 and found[0].startswith(problem), found


def test_a_glossary_term_keeps_its_target_and_shows_its_chinese_name():
    english = "Each {term}`patches <patch>` becomes a {term}`token`."
    assert issues(english, "每个{term}`图像块 <patch>`变成一个{term}`词元 <token>`。") == []
    lost = issues(english, "每个图像块变成一个{term}`词元 <token>`。")
    assert lost and lost[0].startswith("glossary terms differ: missing ['patch']"), lost
    shown_in_english = issues(english, "每个{term}`patch`变成一个{term}`词元 <token>`。")
    assert shown_in_english == [
        "the term {term}`patch` shows none of its glossary names ['图像块']"
    ], shown_in_english
    # an abbreviation may stand for its term; a term with no Chinese name keeps its English one
    assert (
        issues("A {term}`Vision Transformer` works.", "{term}`ViT <Vision Transformer>`可用。")
        == []
    )
    assert issues("Then a {term}`softmax` of the scores.", "然后对分数做 {term}`softmax`。") == []


def test_english_prose_must_get_some_chinese():
    found = issues("This sentence has English words.", "This sentence has English words.")
    assert found == ["no Chinese in a message of 5 English words"], found
    # a maths block, a bare identifier, a glossary name and a shape stay as they are
    assert (
        issues(
            "\nS = \\frac{Q K^\\top}{\\sqrt{d_h}} .\n", "\nS = \\frac{Q K^\\top}{\\sqrt{d_h}} .\n"
        )
        == []
    )
    assert issues("`state_dict`", "`state_dict`") == []
    assert issues("attention map", "attention map") == []
    assert issues("(4, 4, 4, 4) = (gh, gw, gh, gw)", "(4, 4, 4, 4) = (gh, gw, gh, gw)") == []


def test_placeholders_of_the_site_messages_are_kept():
    english = "Reading time: about {whole} min."
    assert issues(english, "阅读时间：约 {whole} 分钟。") == []
    assert issues(english, "阅读时间：约 {minutes} 分钟。")[0].startswith("placeholders differ")


def test_site_messages_are_the_toc_captions_and_the_chrome():
    messages = site_messages()
    assert {"Shape by shape", "Appendix", "Reference"} <= set(messages)
    assert "Search this book..." in messages and "Show code cell source" in messages
    assert len(messages) == len(set(messages))


# ---------------------------------------------------------------------------- the catalogue checks
def write_catalogue(path: Path, messages: dict[str, str], fuzzy=(), obsolete=()) -> None:
    catalogue = Catalog(locale="zh_CN")
    for english, chinese in messages.items():
        catalogue.add(english, chinese, flags=["fuzzy"] if english in fuzzy else [])
    for english in obsolete:
        catalogue.obsolete[english] = catalogue.add(english, "旧的翻译")
        del catalogue[english]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        write_po(file, catalogue, width=0)


def test_check_reports_each_way_of_lagging_behind(tmp_path: Path):
    pots, pos = tmp_path / "pot", tmp_path / "po"
    write_catalogue(pots / "book" / "a.pot", dict.fromkeys(["One.", "Two.", "Three.", "Four."], ""))
    write_catalogue(pots / "book" / "new.pot", {"New page.": ""})
    write_catalogue(
        pos / "book" / "a.po",
        {"One.": "一。", "Two.": "", "Three.": "三。", "Gone.": "没了。"},
        fuzzy=["Three."],
        obsolete=["Long gone."],
    )
    write_catalogue(pos / "book" / "old.po", {"Old page.": "旧页。"})
    report = check(pots, pos)
    assert sorted(report) == sorted(
        [
            "book/old: obsolete catalogue (no such page): " + str(pos / "book" / "old.po"),
            "book/new: no catalogue " + str(pos / "book" / "new.po"),
            "book/a: untranslated: 'Two.'",
            "book/a: fuzzy: 'Three.'",
            "book/a: untranslated (new English): 'Four.'",
            "book/a: obsolete (English gone): 'Gone.'",
            "book/a: obsolete (#~): 'Long gone.'",
        ]
    ), report


def test_the_real_catalogues_pass_the_markup_rules():
    """All of them, without a build (make check runs the whole gate against a fresh extraction)."""
    catalogues = sorted(translations.CATALOGUES.rglob("*.po"))
    assert len(catalogues) >= 24
    assert translations.lint(catalogues) == []


@pytest.mark.parametrize(
    "command, problem",
    [
        (["lint", "no_such.po"], "error: no_such.po: not a catalogue (a .po file that exists)"),
        (["lint", "README.md"], "error: README.md: not a catalogue (a .po file that exists)"),
        (
            ["check", "--catalogues", "no_such_folder"],
            "error: no_such_folder: no such folder of catalogues",
        ),
    ],
)
def test_a_wrong_argument_gets_one_error_line(command: list[str], problem: str):
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "translations.py"), *command],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stdout.strip(), done.stderr) == (2, problem, "")


# ---------------------------------------------------------------------------- the gate bites
@pytest.fixture(scope="module")
def book_copy(tmp_path_factory) -> Path:
    """The repository's files as they are now (those git tracks), in a temporary folder."""
    copy = tmp_path_factory.mktemp("book")
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    return copy


def gate(copy: Path, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(copy / "tools" / "translations.py"), *command],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=600,
    )


SENTENCE = "This chapter lets the tokens talk to each other."
CHANGED = "This chapter lets the tokens speak to one another."


def test_a_changed_english_sentence_fails_the_gate_until_it_is_translated(book_copy: Path):
    # (the copy as it is passes the gate: `make check` runs it on the same files; below, the gate
    # counts exactly the two messages of the changed sentence, so nothing else fails in the copy)
    twin = book_copy / "book" / "04_attention_scores.ipynb"
    text = twin.read_text(encoding="utf-8")
    assert text.count(SENTENCE) == 1
    twin.write_text(text.replace(SENTENCE, CHANGED), encoding="utf-8")

    failed = gate(book_copy, "check")
    assert failed.returncode == 1
    lines = failed.stdout.splitlines()
    paragraph = next(p for p in _paragraphs(twin) if CHANGED in p)
    assert lines[:3] == [
        "error: 2 messages of the Chinese edition lag behind the English:",
        f"  book/04_attention_scores: untranslated (new English): {translations._short(paragraph)}",
        "  book/04_attention_scores: obsolete (English gone): "
        + translations._short(paragraph.replace(CHANGED, SENTENCE)),
    ], failed.stdout
    assert "make translations" in lines[3], failed.stdout

    # the refresh keeps the old translation, marked fuzzy: the gate still fails, now on that
    refreshed = gate(book_copy, "update")
    assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    failed = gate(book_copy, "check")
    assert failed.returncode == 1
    fuzzy = translations._short(_message_with(CHANGED, book_copy))
    listed = [line for line in failed.stdout.splitlines() if line.startswith("  ")]
    assert listed == [f"  book/04_attention_scores: fuzzy: {fuzzy}"], failed.stdout

    # translate it, drop the flag: the gate passes again
    po = book_copy / "locales" / "zh_CN" / "LC_MESSAGES" / "book" / "04_attention_scores.po"
    with po.open("rb") as file:
        catalogue = read_po(file)
    for message in catalogue:
        if message.fuzzy and message.id:
            message.flags.discard("fuzzy")
    with po.open("wb") as file:
        write_po(file, catalogue, width=0)
    assert gate(book_copy, "check").returncode == 0


def _paragraphs(twin: Path) -> list[str]:
    """The paragraphs of a twin's markdown cells, each on one line, as gettext extracts them."""
    cells = json.loads(twin.read_text(encoding="utf-8"))["cells"]
    text = "".join("".join(c["source"]) + "\n\n" for c in cells if c["cell_type"] == "markdown")
    return [" ".join(p.split()) for p in text.split("\n\n")]


def _message_with(sentence: str, copy: Path) -> str:
    po = copy / "locales" / "zh_CN" / "LC_MESSAGES" / "book" / "04_attention_scores.po"
    with po.open("rb") as file:
        return next(m.id for m in read_po(file) if m.id and sentence in m.id)
