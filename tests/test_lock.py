"""The lock (resources/requirements.lock) agrees with pyproject.toml, and this environment runs exactly it.

bootstrap.sh installs with the lock as constraints, so a fresh clone gets the versions the suite last passed with.
These tests catch a dependency added to or re-ranged in pyproject.toml without refreshing the lock, and (in CI's
fresh .venv) prove that the lock was what got installed.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "resources" / "requirements.lock"
REFRESH = ("refresh it with `bash resources/bootstrap.sh lock NAME` (keeps the other pins) or "
           "`bash resources/bootstrap.sh lock` (everything afresh), then run the suite")

Lock = dict[NormalizedName, Version]


def read_lock(text: str, source: str = "lock") -> Lock:
    """Parse `name==version` lines (comments and blank lines allowed); anything else is refused by line number."""
    pins: Lock = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, separator, version = line.partition("==")
        try:
            if not separator or not name.strip():
                raise InvalidVersion(line)
            pins[canonicalize_name(name.strip())] = Version(version.strip())
        except InvalidVersion:
            raise ValueError(f"{source}:{number}: {line!r} is not an exact pin (name==version); {REFRESH}") from None
    return pins


def declared_requirements(pyproject: dict) -> list[Requirement]:
    """The project's dependencies plus its `test` extra: what bootstrap.sh installs."""
    project = pyproject["project"]
    return [Requirement(text) for text in project["dependencies"] + project["optional-dependencies"]["test"]]


def lock_problems(requirements: list[Requirement], pins: Lock) -> list[str]:
    """Every requirement that applies here must be pinned, at a version its specifier admits."""
    environment = {**default_environment(), "extra": ""}
    problems = []
    for requirement in requirements:
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned is None:
            problems.append(f"{requirement} is in pyproject.toml but not in the lock")
        elif not requirement.specifier.contains(pinned, prereleases=True):
            problems.append(f"{requirement} is in pyproject.toml but the lock pins {requirement.name}=={pinned}")
    return problems


def environment_problems(installed: Lock, pins: Lock) -> list[str]:
    """The running environment must hold exactly the locked distributions at the locked versions."""
    problems = []
    for name in sorted(pins.keys() | installed.keys()):
        locked, running = pins.get(name), installed.get(name)
        if running is None:
            problems.append(f"{name}=={locked} is locked but not installed")
        elif locked is None:
            problems.append(f"{name}=={running} is installed but not in the lock")
        elif running != locked:
            problems.append(f"{name}=={running} is installed but the lock pins {name}=={locked}")
    return problems


def installed_distributions(exclude: str) -> Lock:
    """Name -> version of what this interpreter imports (the first of duplicates on sys.path wins, as for import)."""
    found: Lock = {}
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        if name and canonicalize_name(name) != canonicalize_name(exclude):
            found.setdefault(canonicalize_name(name), Version(distribution.version))
    return found


def fail_on(problems: list[str], advice: str) -> None:
    if problems:
        pytest.fail("\n".join(problems) + "\n" + advice, pytrace=False)


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def pins() -> Lock:
    return read_lock(LOCK.read_text(), source=str(LOCK.relative_to(ROOT)))


def test_the_lock_pins_every_dependency_within_its_range(pyproject: dict, pins: Lock) -> None:
    fail_on(lock_problems(declared_requirements(pyproject), pins),
            f"The lock ({LOCK.relative_to(ROOT)}) no longer matches pyproject.toml: {REFRESH}.")


def test_this_environment_runs_exactly_the_locked_versions(pyproject: dict, pins: Lock) -> None:
    fail_on(environment_problems(installed_distributions(exclude=pyproject["project"]["name"]), pins),
            f"This environment is not the locked set-up ({LOCK.relative_to(ROOT)}): install from the lock with "
            "`bash resources/bootstrap.sh test` (or `rm -r .venv` first, for a clean one); if the lock is what is "
            f"wrong, {REFRESH}.")


def test_a_dependency_missing_from_the_lock_is_named() -> None:
    pins = read_lock("numpy==2.0.0\n")
    assert lock_problems([Requirement("numpy>=1.26"), Requirement("ray>=2.40")], pins) == [
        "ray>=2.40 is in pyproject.toml but not in the lock"]


def test_a_pin_outside_the_dependency_range_is_named() -> None:
    pins = read_lock("# header\n\nPyYAML==5.4\ntorch==2.14.1\n")
    assert lock_problems([Requirement("pyyaml>=6"), Requirement("torch==2.14.1")], pins) == [
        "pyyaml>=6 is in pyproject.toml but the lock pins pyyaml==5.4"]


def test_a_dependency_for_another_platform_needs_no_pin() -> None:
    assert lock_problems([Requirement('pywin32>=300; sys_platform == "win32"')], read_lock("")) == []


def test_an_environment_that_differs_from_the_lock_is_named() -> None:
    pins = read_lock("numpy==2.0.0\nscipy==1.17.1\ntimm==1.0.31\n")
    installed = read_lock("numpy==2.1.0\nscipy==1.17.1\nray==2.40.0\n")
    assert environment_problems(installed, pins) == [
        "numpy==2.1.0 is installed but the lock pins numpy==2.0.0",
        "ray==2.40.0 is installed but not in the lock",
        "timm==1.0.31 is locked but not installed",
    ]


@pytest.mark.parametrize("line", ["numpy>=2", "numpy", "-e .", "numpy @ file:///tmp/numpy.whl", "==1.0"])
def test_a_lock_line_that_is_not_an_exact_pin_is_refused(line: str) -> None:
    with pytest.raises(ValueError, match=r"^requirements\.lock:2: .* is not an exact pin"):
        read_lock(f"# header\n{line}\n", source="requirements.lock")
