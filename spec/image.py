"""The tool image's name: `meshperf-tools:<hash12>`, the hash of its build inputs.

Every Pod and Job names the image by this tag, so a change to images/Dockerfile or
images/packages.txt changes every pod template (and so each Job's content hash): the Jobs
run again and the servers and viewers are made again on the new image. One function for
every runtime: the Kubernetes program (components/image.py builds and loads this tag), the
lab (its kubelet runs pods that name it) and the live cluster (it imports the image under it).

The only file reads in `spec`: the project's own two build inputs, not the user's stack.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

IMAGES = Path(__file__).resolve().parent.parent / "images"
# The build context: the Dockerfile and the package list it installs (components/image.py sends both).
BUILD_FILES = ("Dockerfile", "packages.txt")
REPOSITORY = "meshperf-tools"


def build_inputs(folder: Path | None = None) -> dict[str, str]:
    """The image's build context: file name -> text."""
    where = folder or IMAGES
    return {name: (where / name).read_text() for name in BUILD_FILES}


def inputs_hash(files: dict[str, str]) -> str:
    """12 hex digits of SHA-256 over the files, each by name and length, in name order."""
    digest = hashlib.sha256()
    for name in sorted(files):
        data = files[name].encode()
        digest.update(f"{name}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()[:12]


def tool_image(folder: Path | None = None) -> str:
    """The tool image's tag for the build inputs in `folder` (default: the project's images/)."""
    return f"{REPOSITORY}:{inputs_hash(build_inputs(folder))}"


if __name__ == "__main__":
    print(tool_image())
