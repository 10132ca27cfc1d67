"""Packs model_zoo/ and resources/ into the wheel as wnet_gui/_data/ (pyproject has the rest)."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithData(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "wnet_gui" / "_data"
        for name, patterns in (("model_zoo", ("*.json", "*.pt")), ("resources", ("*",))):
            source = ROOT / name
            if not source.is_dir():
                continue
            for pattern in patterns:
                for path in source.rglob(pattern):
                    if path.is_file() and not path.name.endswith(".tmp"):
                        dest = target / name / path.relative_to(source)
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(path, dest)


setup(cmdclass={"build_py": BuildPyWithData})
