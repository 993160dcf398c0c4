#!/usr/bin/env python3
"""Checks the relative links of the documentation: every [text](path#anchor) in the Markdown files given (default:
README.md, docs/*.md, spec/*.md, samples/README.md, Sources/*/README.md, tools/python/README.md) must name a file or
folder that exists, and its #anchor a heading of that Markdown file (GitHub's anchors: lower case, punctuation but
hyphens and underscores dropped, spaces as hyphens, -1, -2, ... for repeats). External links (http:, https:,
mailto:) are not checked. Prints one line per broken link and exits 1 when there is one; run from anywhere:

    python3 tools/check_doc_links.py [FILE.md ...]
"""
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINK = re.compile(r"\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)")


def prose_lines(path):
    """The file's lines outside fenced code blocks, with inline code spans blanked."""
    inside = False
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if FENCE.match(line.lstrip()):
                inside = not inside
                continue
            if not inside:
                yield number, line


def anchors(path):
    """GitHub's anchors for the headings of a Markdown file."""
    seen = {}
    result = set()
    for _, line in prose_lines(path):
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(2))
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else "%s-%d" % (slug, count))
    return result


def check(path, cache):
    broken = []
    for number, line in prose_lines(path):
        line = re.sub(r"`[^`]*`", lambda m: "x" * len(m.group(0)) if "](" not in m.group(0) else m.group(0), line)
        for target in LINK.findall(line):
            if re.match(r"^[a-z]+:", target):
                continue
            file_part, _, anchor = target.partition("#")
            resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            where = "%s:%d: %s" % (os.path.relpath(path, ROOT), number, target)
            if not os.path.exists(resolved):
                broken.append("%s: no such file" % where)
                continue
            if anchor:
                if not resolved.endswith(".md") or os.path.isdir(resolved):
                    broken.append("%s: an anchor into a file that is not Markdown" % where)
                    continue
                if resolved not in cache:
                    cache[resolved] = anchors(resolved)
                if anchor not in cache[resolved]:
                    broken.append("%s: no heading with anchor #%s" % (where, anchor))
    return broken


def main(argv):
    if argv:
        files = [os.path.abspath(a) for a in argv]
    else:
        patterns = ["README.md", "docs/*.md", "spec/*.md", "spec/vectors/README.md", "samples/README.md",
                    "Sources/*/README.md", "tools/python/README.md"]
        files = sorted(set(f for p in patterns for f in glob.glob(os.path.join(ROOT, p))))
    cache = {}
    broken = [line for f in files for line in check(f, cache)]
    for line in broken:
        print(line)
    print("check_doc_links: %d files, %d broken links" % (len(files), len(broken)), file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
