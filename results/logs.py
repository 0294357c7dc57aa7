"""Reading a log folder from disk: the only file I/O of the package besides its CLI."""

from __future__ import annotations

from pathlib import Path

from results.files import read_regular, regular_files


def read_log_folder(path: str | Path) -> dict[str, str]:
    """Every file under `path` -> its text, keyed by its path relative to `path` (POSIX).

    Subfolders (one per node's log volume, say) are read too; `collect` matches logs by
    their base name and reads every `index*.tsv` it is given. Bytes that are not UTF-8
    are replaced, so a binary file is garbage to the parsers rather than a crash here.
    Pods write this folder: symlinks and anything but regular files are never read
    (`results.files`), so a pod cannot make the collector quote a host file.
    """
    root = Path(path)
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a log folder")
    texts = {file.relative_to(root).as_posix(): read_regular(file) for file in regular_files(root)}
    return {name: text for name, text in texts.items() if text is not None}


def case_logs(root: Path, case_id: str) -> dict[str, str]:
    """A case's log files anywhere under `root` (`<case-id>.<ext>`), by base name, read as above."""
    texts = {p.name: read_regular(p) for p in regular_files(root) if p.name.startswith(f"{case_id}.")}
    return {name: text for name, text in texts.items() if text is not None}
