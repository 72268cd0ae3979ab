"""How small the text of each figure is: measured when a chapter is executed, read by the site tests.

`make execute` runs `PRELUDE` in the kernel before a chapter's first cell (and drops it from the
twin again, so the twin still equals the chapter). From then on, every matplotlib figure the
chapter displays is drawn with each piece of text it actually draws (tick labels, legends, titles,
numbers written into cells) recorded, and its PNG carries one more text chunk:

    vit:smallest-text-px   the height of the smallest font drawn, in pixels of the PNG, and the
                           text itself, e.g. "13.9 CLS"

The site shows a PNG scaled to its column; the browser tests multiply this number by the scale at
which each figure is displayed and refuse any figure whose smallest text is under 9 CSS px
(tests/website). The PNG is otherwise byte for byte what the inline backend made: a reader who
runs a chapter in JupyterLab, without the prelude, gets the same picture.

`smallest_text_px(png_bytes)` reads the chunk back (None when a PNG has none).
"""

from __future__ import annotations

import struct
import zlib

KEY = "vit:smallest-text-px"

# Runs in the chapter's kernel. It only wraps the PNG formatter of matplotlib figures that the
# inline backend registers; nothing is drawn differently, and its names are deleted afterwards.
PRELUDE = """
def _vit_install_text_record(key):
    import base64
    import struct
    import zlib

    import matplotlib.text
    import matplotlib_inline.backend_inline  # noqa: F401  (registers the figure formatters)
    from matplotlib.figure import Figure

    formatter = get_ipython().display_formatter.formatters["image/png"]
    draw_png = formatter.lookup_by_type(Figure)
    original_draw = matplotlib.text.Text.draw

    def png_with_record(fig):
        drawn = []

        def draw(text, renderer, *args, **kwargs):
            if text.get_visible() and text.get_text().strip():
                drawn.append((text.get_fontsize(), text.get_text().strip()))
            return original_draw(text, renderer, *args, **kwargs)

        matplotlib.text.Text.draw = draw
        try:
            data = draw_png(fig)
        finally:
            matplotlib.text.Text.draw = original_draw
        if not data or not drawn:
            return data
        points, words = min(drawn)
        record = f"{points * fig.dpi / 72:.2f} {words[:40]}".encode("latin-1", "replace")
        png = base64.b64decode(data) if isinstance(data, str) else data
        chunk = key + b"\\0" + record
        packed = struct.pack(">I", len(chunk)) + b"tEXt" + chunk
        packed += struct.pack(">I", zlib.crc32(b"tEXt" + chunk) & 0xFFFFFFFF)
        png = png[:33] + packed + png[33:]  # right after the 8-byte signature and IHDR (25)
        return base64.b64encode(png).decode("ascii") if isinstance(data, str) else png

    formatter.for_type(Figure, png_with_record)


_vit_install_text_record(KEY_BYTES)
del _vit_install_text_record
""".replace("KEY_BYTES", repr(KEY.encode()))


def text_chunks(png: bytes) -> dict[str, str]:
    """The tEXt chunks of a PNG file, as a dict."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    chunks, at = {}, 8
    while at + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[at : at + 8])
        body = png[at + 8 : at + 8 + length]
        crc = struct.unpack(">I", png[at + 8 + length : at + 12 + length])[0]
        if kind == b"tEXt" and zlib.crc32(kind + body) & 0xFFFFFFFF == crc:
            key, _, value = body.partition(b"\0")
            chunks[key.decode("latin-1")] = value.decode("latin-1")
        if kind == b"IEND":
            break
        at += 12 + length
    return chunks


def smallest_text_px(png: bytes) -> tuple[float, str] | None:
    """(pixels, text) of the smallest text drawn in the figure, or None without a record."""
    value = text_chunks(png).get(KEY)
    if value is None:
        return None
    size, _, words = value.partition(" ")
    return float(size), words
