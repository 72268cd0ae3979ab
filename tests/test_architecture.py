"""The whole-model figure, the shape map and the landing page's chapter list follow the stage "
"table."""

import re
import sys

import pytest

from conftest import ROOT
from vit_lib import Stage

sys.path.insert(0, str(ROOT / "tools"))
import architecture  # noqa: E402

INDEX = (ROOT / "book" / "index.md").read_text()
STAGE_CHAPTERS = sorted({stage.chapter for stage in Stage})


def test_the_stored_figures_are_what_the_table_and_the_model_draw():
    assert architecture.main(["--check"]) == 0


def test_the_check_refuses_a_figure_drawn_by_hand(tmp_path, monkeypatch, capsys):
    for path, text in architecture.figures().items():
        (tmp_path / path.name).write_text(text)
    hand = tmp_path / "05_merge_heads.svg"
    hand.write_text(hand.read_text().replace("(4, 17, 768)", "(4, 17, 1024)"))
    monkeypatch.setattr(architecture, "OUT", tmp_path)
    assert architecture.main(["--check"]) == 1
    assert "05_merge_heads.svg is not what tools/architecture.py draws" in capsys.readouterr().out


def test_every_traced_row_is_in_the_picture_with_its_live_shape():
    svg = architecture.render(None)
    rows = architecture.traced_rows()
    assert {row.stage for row in rows} == set(Stage)
    for row in rows:
        assert f">{row.label}</text>" in svg and f">{row.shape}</text>" in svg, row


@pytest.mark.parametrize("chapter", STAGE_CHAPTERS)
def test_each_stage_chapter_opens_with_its_picture(chapter):
    text = (ROOT / "chapters" / f"{chapter}.md").read_text()
    title = re.search(r"^# .*\n\n(.*)\n", text, re.MULTILINE)
    assert title and title[1] == architecture.opening(chapter), (
        f"{chapter}: first line after the title"
    )
    assert f'fill="{architecture.ACCENT_BG}"' in architecture.render(
        chapter
    )  # its stages highlighted


def test_the_shape_map_rows_link_to_the_sections_that_build_them():
    for stage in Stage:
        row = re.search(rf"^\| {stage.number} \| {{ref}}`[^`<]+<([^>]+)>`", INDEX, re.MULTILINE)
        assert row and row[1] == stage.anchor, (
            f"shape-map row {stage.number} does not link {stage.anchor}"
        )
        chapter = (ROOT / "chapters" / f"{stage.chapter}.md").read_text()
        assert f"\n({stage.anchor})=\n## " in chapter, (
            f"{stage.chapter} does not label a section {stage.anchor}"
        )


def test_the_chapter_list_names_each_chapters_stages():
    for chapter in STAGE_CHAPTERS:
        numbers = sorted(stage.number for stage in Stage if stage.chapter == chapter)
        named = f"stages {numbers[0]}–{numbers[-1]}" if len(numbers) > 1 else f"stage {numbers[0]}"
        assert re.search(rf"\]\({chapter}\.ipynb\) — {named}\b", INDEX), (chapter, named)
