"""The locked requirement sets (requirements*.txt, written by scripts/lock.sh) read back, and an environment checked
against one.

``scripts/setup_env.sh`` installs a locked set with ``pip install --no-deps --require-hashes``: nothing is resolved at
install time. It then runs ``python -m demo.lockfile FILE`` in the new environment, which lists what differs from the
set (a package missing or at another version is an error; one the set does not hold is printed for removal), so the
environment is exactly the set. The unit tests read the locks with the same parser. Imports only the standard
library and ``packaging`` (which every locked set holds).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.specifiers import Specifier
from packaging.utils import canonicalize_name

# Never removed from an environment: the installer's own tools (pip is locked, but a venv starts with its own),
# and what a set installs apart from its file (the CPU build of torch, see requirements/cpu.in).
KEEP = frozenset({"pip", "setuptools", "wheel"})


@dataclass(frozen=True)
class Pin:
    """One line of a locked set: a package at one exact version, for the environments its marker allows."""
    name: str      # canonical (lower case, dashes)
    version: str
    marker: Marker | None
    hashes: tuple[str, ...]

    def applies(self, environment: dict[str, str] | None = None) -> bool:
        """Whether this line is installed in the environment (the running one by default)."""
        return self.marker is None or self.marker.evaluate(environment)


def logical_lines(text: str) -> list[str]:
    """The file's requirement lines, continuations joined and comments dropped."""
    out, current = [], ""
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            out.append(current.strip())
        current = ""
    if current.strip():
        out.append(current.strip())
    return out


def read_lock(path: Path) -> list[Pin]:
    """Every pin of a locked set; a line that is not ``name==version`` (an option, a range) raises ValueError."""
    pins = []
    for line in logical_lines(path.read_text()):
        hashes = tuple(re.findall(r"--hash=(\S+)", line))
        spec = re.sub(r"--hash=\S+", "", line).strip()
        if spec.startswith("-"):
            raise ValueError(f"{path.name}: an option in a locked set: {spec}")
        req = Requirement(spec)
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator != "==" or "*" in specs[0].version:
            raise ValueError(f"{path.name}: not pinned to one exact version: {spec}")
        pins.append(Pin(canonicalize_name(req.name), specs[0].version, req.marker, hashes))
    return pins


def read_inputs(path: Path) -> dict[str, Requirement]:
    """The requirements an input file (requirements/*.in) asks for, with the files it includes (``-r``)."""
    out: dict[str, Requirement] = {}
    for line in logical_lines(path.read_text()):
        if line.startswith(("-r ", "--requirement ")):
            out.update(read_inputs(path.parent / line.split(None, 1)[1]))
            continue
        req = Requirement(line)
        out[canonicalize_name(req.name)] = req
    return out


def against_inputs(inputs: dict[str, Requirement], pins: dict[str, str], left_out: frozenset[str] = frozenset()
                   ) -> list[str]:
    """How a locked set (name -> version) disagrees with its inputs: an input it lacks or holds outside the input's
    range, or one it holds though the set leaves it out on purpose (scripts/lock.sh's ``--no-emit-package``)."""
    out = []
    for name, req in inputs.items():
        if name in left_out:
            if name in pins:
                out.append(f"holds {name}, which it leaves out on purpose")
        elif name not in pins:
            out.append(f"lacks {name} ({req})")
        elif not req.specifier.contains(pins[name], prereleases=True):
            out.append(f"has {name}=={pins[name]}, outside the input's range {req}")
    return out


def linux_x86_64(python: str) -> dict[str, str]:
    """The marker environment of CPython ``python`` ("3.12", or "3.11.7") on Linux x86-64: the sets' target."""
    full = python if python.count(".") >= 2 else f"{python}.0"
    return {**cast("dict[str, str]", default_environment()), "sys_platform": "linux", "platform_system": "Linux",
            "os_name": "posix", "platform_machine": "x86_64", "implementation_name": "cpython",
            "platform_python_implementation": "CPython", "python_version": ".".join(full.split(".")[:2]),
            "python_full_version": full}


def covers(universal: list[Pin], target: list[Pin], environment: dict[str, str]) -> list[str]:
    """What a universal lock, read for ``environment``, lacks or holds at another version, of a resolution made for
    that environment alone (``target``). uv's universal resolution reads one wheel's metadata for every platform,
    and a package whose wheels declare different requirements can leave one out (intel-openmp's Linux wheel
    requires intel-cmplr-lib-ur; the universal CPU set had it not, 2026-12-06)."""
    have = {p.name: p.version for p in universal if p.applies(environment)}
    out = []
    for pin in target:
        if not pin.applies(environment):
            continue
        if pin.name not in have:
            out.append(f"lacks {pin.name}=={pin.version}")
        elif have[pin.name] != pin.version:
            out.append(f"has {pin.name}=={have[pin.name]} where the resolution for this target has {pin.version}")
    return out


def installed() -> dict[str, str]:
    """Every distribution of the running environment: canonical name -> version."""
    out: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            out[canonicalize_name(name)] = dist.version
    return out


def differences(pins: list[Pin], have: dict[str, str], keep: frozenset[str] = KEEP,
                environment: dict[str, str] | None = None) -> tuple[list[str], list[str]]:
    """(problems, extras): a pinned package missing or at another version, and the installed packages the set does
    not hold. A local build of a pinned version (``0.32.0+cu129`` for ``0.32.0``) counts as that version, as
    pip's ``==`` does."""
    problems, wanted = [], set()
    for pin in pins:
        if not pin.applies(environment):
            continue
        wanted.add(pin.name)
        version = have.get(pin.name)
        if version is None:
            problems.append(f"{pin.name}=={pin.version} is not installed")
        elif not Specifier(f"=={pin.version}").contains(version, prereleases=True):
            problems.append(f"{pin.name} is {version}, the set has {pin.version}")
    extras = sorted(name for name in have if name not in wanted and name not in keep)
    return problems, extras


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lock", type=Path)
    parser.add_argument("--keep", action="append", default=[], help="a package installed apart (torch on CPU)")
    parser.add_argument("--covers", type=Path, help="instead: check that the lock holds this resolution's pins")
    parser.add_argument("--python", default="3.11", help="with --covers: the target CPython, on Linux x86-64")
    args = parser.parse_args(argv)
    if args.covers:
        gaps = covers(read_lock(args.lock), read_lock(args.covers), linux_x86_64(args.python))
        for gap in gaps:
            print(f"lock: {args.lock.name} for CPython {args.python} on Linux x86-64 {gap}", file=sys.stderr)
        return 1 if gaps else 0
    problems, extras = differences(read_lock(args.lock), installed(),
                                   KEEP | {canonicalize_name(k) for k in args.keep})
    for problem in problems:
        print(f"setup: {args.lock.name}: {problem}", file=sys.stderr)
    print(" ".join(extras))  # for the set-up to remove
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
