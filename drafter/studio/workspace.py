"""The studio's workspace: one folder, and nothing outside it.

Every path the browser names is relative to the workspace and goes through
:meth:`Workspace.path`, which refuses anything that would leave it (``..``, an absolute path, a
symbolic link pointing out). Templates are a workspace's template folders and ``.docx`` files,
or a built-in template by name.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import DrafterError, OutputError, StudioError
from ..files import open_regular, safe_name, write_atomic
from ..loading import MAX_BYTES
from ..template import DOCX_NAME, LetterTemplate, builtin_templates_dir, find_template

UPLOADS = "uploads"  # where uploaded files go, inside the workspace
MAX_FILES = 2000  # files listed at most: a workspace is a folder of letters, not a disk
_SKIPPED = {".git", ".venv", "venv", "node_modules", "__pycache__", UPLOADS + ".tmp"}
_LETTER = re.compile(r"^recipient\s*:", re.MULTILINE)


@dataclass(frozen=True)
class Workspace:
    """The folder a studio works in: its letters, recipients files and templates."""

    root: Path

    @classmethod
    def at(cls, folder: Path) -> Workspace:
        """The workspace of an existing folder."""
        root = folder.resolve()
        if not root.is_dir():
            raise OutputError(f"{folder}: no such folder")
        return cls(root)

    def path(self, relative: str, *, must_exist: bool = True) -> Path:
        """The absolute path of ``relative`` (``letters/a.yaml``), refused when it leaves the
        workspace; ``must_exist``: also refused when there is no such file or folder."""
        if not relative or "\x00" in relative or Path(relative).is_absolute():
            raise StudioError(f"{relative!r}: not a path inside the workspace")
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root):
            raise StudioError(f"{relative}: outside the workspace")
        if must_exist and not path.exists():
            raise StudioError(f"{relative}: no such file in the workspace")
        return path

    def relative(self, path: Path) -> str:
        """How the page names a workspace path: relative, with forward slashes."""
        return path.resolve().relative_to(self.root).as_posix()

    def shown(self, text: str) -> str:
        """A message with the workspace's absolute path taken out of the places it names, so
        that it reads as the CLI's does when run in the workspace."""
        return text.replace(f"{self.root}{os.sep}", "")

    def files(self, *suffixes: str) -> list[str]:
        """The workspace's files with these suffixes, relative, sorted; hidden folders and
        virtual environments are skipped, and at most :data:`MAX_FILES` are listed."""
        found: list[str] = []
        for folder, subfolders, names in os.walk(self.root):
            subfolders[:] = sorted(d for d in subfolders
                                   if not d.startswith(".") and d not in _SKIPPED)
            for name in names:
                if (name.lower().endswith(suffixes) and not name.startswith((".", "~$"))
                        and os.path.isfile(os.path.join(folder, name))):  # no FIFO, no device
                    found.append(self.relative(Path(folder) / name))
                    if len(found) >= MAX_FILES:
                        return sorted(found)
        return sorted(found)

    def letters(self) -> list[str]:
        """The YAML files that hold a whole letter (they have a ``recipient:``)."""
        return [f for f in self.files(".yaml", ".yml") if self._is_letter(f)]

    def cases(self) -> list[str]:
        """The YAML files a merge can take as its case: those without a ``recipient:``."""
        return [f for f in self.files(".yaml", ".yml") if not self._is_letter(f)
                and Path(f).name != "sample.yaml"]

    def recipients(self) -> list[str]:
        """Recipients files: CSV, TSV, XLSX, and YAML lists of recipients."""
        return self.files(".csv", ".tsv", ".xlsx", ".xlsm") + [
            f for f in self.cases() if "recipients" in Path(f).name]

    def _is_letter(self, relative: str) -> bool:
        try:  # a regular file only: a FIFO named x.yaml would block the page for ever
            with open_regular(self.root / relative, MAX_BYTES) as f:
                head = f.read(200_000).decode("utf-8", errors="replace")
        except (DrafterError, OSError):
            return False
        return bool(_LETTER.search(head))

    def templates(self) -> list[str]:
        """Built-in template names, then the workspace's template folders and DOCX files."""
        builtin = sorted(p.name for p in builtin_templates_dir().iterdir()
                         if (p / DOCX_NAME).is_file())
        docx = self.files(".docx")
        folders = sorted({str(Path(f).parent.as_posix()) for f in docx
                          if Path(f).name == DOCX_NAME and Path(f).parent != Path(".")})
        loose = [f for f in docx if Path(f).parent.as_posix() not in folders]
        return builtin + folders + loose

    def template_spec(self, spec: str) -> str | Path:
        """What :func:`~drafter.template.find_template` takes for the page's name of a
        template: a built-in name as it is, a workspace path made absolute (and checked)."""
        if "/" not in spec and not spec.endswith(".docx") and (
                builtin_templates_dir() / spec / DOCX_NAME).is_file():
            return spec
        return self.path(spec)

    def template(self, spec: str) -> LetterTemplate:
        """A template by the page's name for it: a built-in name, or a workspace path."""
        return find_template(self.template_spec(spec))

    def upload(self, filename: str, data: bytes, suffixes: tuple[str, ...]) -> str:
        """Keep an uploaded file in the workspace's ``uploads/`` folder under a safe, unused
        name; returns its relative path. The file's content is checked by whoever reads it,
        through the same safe reading as any other file."""
        name = safe_name(Path(filename or "upload").name)
        stem, suffix = Path(name).stem or "upload", Path(name).suffix.lower()
        if suffix not in suffixes:
            raise OutputError(f"{filename}: expected a {' or '.join(suffixes)} file")
        folder = self.root / UPLOADS
        folder.mkdir(exist_ok=True)
        target, n = folder / f"{stem}{suffix}", 1
        while target.exists():
            n += 1
            target = folder / f"{stem}-{n}{suffix}"
        write_atomic(target, data)
        return self.relative(target)
