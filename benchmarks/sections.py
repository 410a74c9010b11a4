"""Pages written by more than one benchmark script: each script owns a section
between `<!-- name -->` and `<!-- /name -->` and rewrites only that."""

import os


def write_section(path, name, text, title=None):
    """Replace section `name` of the markdown page `path` with `text`, or
    append it (creating the page, headed `title`, if missing)."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{start}\n{text.strip()}\n{end}"
    page = open(path).read() if os.path.exists(path) else (f"# {title}\n" if title else "")
    if start in page and end in page:
        before, rest = page.split(start, 1)
        page = before + block + rest.split(end, 1)[1]
    else:
        page = page.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w") as handle:
        handle.write(page)
