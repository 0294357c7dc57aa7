"""Reading a log folder from disk: the only file I/O of the package besides its CLI."""

from __future__ import annotations

from pathlib import Path


def read_log_folder(path: str | Path) -> dict[str, str]:
    """Every file under `path` -> its text, keyed by its path relative to `path` (POSIX).

    Subfolders (one per node's log volume, say) are read too; `collect` matches logs by
    their base name and reads every `index*.tsv` it is given. Bytes that are not UTF-8
    are replaced, so a binary file is garbage to the parsers rather than a crash here.
    """
    root = Path(path)
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a log folder")
    return {
        file.relative_to(root).as_posix(): file.read_text(encoding="utf-8", errors="replace")
        for file in sorted(root.rglob("*"))
        if file.is_file()
    }
