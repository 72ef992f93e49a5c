"""MkDocs hooks (mkdocs.yml): the site's changelog page is the repository's CHANGELOG.md.

Its links into docs/ are written as a reader of the repository follows them; on the site the
pages sit one level up, so the `docs/` prefix goes. A missing CHANGELOG fails the build.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def on_page_markdown(markdown: str, page: Any, config: Any, **_: Any) -> str:
    if page.file.src_uri != "changelog.md":
        return markdown
    changelog = Path(config["config_file_path"]).parent / "CHANGELOG.md"
    return changelog.read_text().replace("](docs/", "](")
