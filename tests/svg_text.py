"""The text gnuplot drew into an SVG figure, as the tests check it (Debian's python3, standard library).
    python3 tests/svg_text.py FIGURE.svg
Prints one line per text element, "text<TAB>anchor<TAB>its characters" (a subscript or superscript that
gnuplot's enhanced mode made of a character, as of the "_" in "belles_lettres", splits the characters into
separate pieces joined by "|"), then one line per plot of the first panel with a key entry,
"plot<TAB>key title<TAB>stroke colour<TAB>dash pattern"."""
import re
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()


def anchor_of(parents, el):
    for p in reversed(parents):
        if p.get("text-anchor"):
            return p.get("text-anchor")
    return ""


def walk(el, parents):
    if el.tag == NS + "text":
        pieces = [t.text or "" for t in el.iter(NS + "tspan")] or [el.text or ""]
        print(f"text\t{anchor_of(parents, el)}\t{'|'.join(pieces)}")
        return
    for c in el:
        walk(c, parents + [el])


walk(root, [])
seen = set()
for g in root.iter(NS + "g"):
    gid = g.get("id") or ""
    m = re.fullmatch(r"gnuplot_plot_(\d+)a?", gid)
    title = g.find(NS + "title")
    if not m or title is None or title.text == gid or gid in seen:
        continue
    seen.add(gid)
    path = next((p for p in g.iter(NS + "path") if p.get("stroke", "").startswith("rgb")), None)
    stroke = path.get("stroke").replace(" ", "") if path is not None else ""
    dash = (path.get("stroke-dasharray") or "").replace(" ", "") if path is not None else ""
    print(f"plot\t{title.text}\t{stroke}\t{dash}")
