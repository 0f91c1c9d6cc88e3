"""Make the map's label font: DejaVu Sans (Debian's fonts-dejavu-core), cut to the letters region names use.

    python -m scripts.make_map_font            # writes dashboard/assets/fonts/map-sans.woff2 and DEJAVU-LICENSE.txt

MapLibre draws text from glyphs it must be given; with no network it cannot fetch them from a glyph server. Its style
can instead name a font file ("font-faces"), whose letters it draws itself: the page's map names these files, served
by the app, and pictures carry them inline. The files are committed; this script says how they were made (fontTools'
subsetter, WOFF2 with brotli; run it again after adding a script's range below). Needs ``pip install fonttools brotli``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from fontTools import subset

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "dashboard" / "assets" / "fonts"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
LICENSE = Path("/usr/share/doc/fonts-dejavu-core/copyright")
FACES = {"map-sans.woff2": "DejaVuSans.ttf"}
# Latin (with the letters of Kazakh, Turkish, Central and Eastern European names), Cyrillic (Russian, Kazakh, Ukrainian,
# Kyrgyz...), Greek, punctuation, and the degree and dash signs labels use.
UNICODES = [
    *range(0x20, 0x7F),
    *range(0xA0, 0x250),  # Latin-1 Supplement, Latin Extended-A and -B
    *range(0x370, 0x400),  # Greek
    *range(0x400, 0x530),  # Cyrillic and Cyrillic Supplement
    *range(0x1E00, 0x1F00),  # Latin Extended Additional
    *range(0x2000, 0x2070),  # General Punctuation
    0x20AC,
    0x2116,
]


def main() -> None:
    missing = [name for name in FACES.values() if not (DEJAVU / name).is_file()]
    if missing:
        sys.exit(f"make_map_font: {DEJAVU} has no {', '.join(missing)}; install Debian's fonts-dejavu-core")
    OUT.mkdir(parents=True, exist_ok=True)
    for out, source in FACES.items():
        options = subset.Options()
        options.flavor = "woff2"
        options.layout_features = ["kern", "liga"]
        options.name_IDs = ["*"]  # keep the font's names, with its copyright and licence notice
        font = subset.load_font(str(DEJAVU / source), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=UNICODES)
        subsetter.subset(font)
        subset.save_font(font, str(OUT / out), options)
        print(f"{out}: {(OUT / out).stat().st_size:,} bytes from {source}")
    shutil.copyfile(LICENSE, OUT / "DEJAVU-LICENSE.txt")


if __name__ == "__main__":
    main()
