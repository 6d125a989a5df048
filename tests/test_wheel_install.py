"""The project as a wheel, installed into a fresh venv outside the checkout: it must work on its own.

The wheel is built from this checkout, installed into a new venv in a temporary directory, and used
from a directory that is not the checkout, with no ``TAO_SKILL_BANK_PATH`` and no ``PYTHONPATH``:
``tao-automl demo`` and ``tao-automl run --skill digits-cnn`` run real AutoML passes on the skills
the wheel carries, ``tao-automl-mcp`` lists its tools and finds the packaged model skill, and the
packaged ``resolve_versions_key.py`` prints an install spec. A second venv installs this checkout
with a platform extra, exactly as the spec that ``wheels.tao_automl_docker`` resolves to.

Dependencies are not downloaded again: the fresh venvs see this project's ``.venv`` site-packages
through a ``.pth`` file that points at a view of it without this project (its editable finder
would otherwise shadow the wheel). A check of the wheel's and the extra's declared requirements
against what is visible then proves them met, and nothing from the checkout is imported.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from importlib.metadata import version
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from tao_automl.versions import resolve

ROOT = Path(__file__).resolve().parents[1]
#: Run in a fresh venv: tao-automl's requirements (for the extras in argv) that what it sees does not meet.
#: (``pip check`` would judge every visible distribution, and this .venv holds a model-file wheel installed
#: without its CLI on purpose.)
UNMET = """
import importlib.metadata as m, json, sys
from packaging.requirements import Requirement
seen, unmet = set(), []

def walk(name, extras):
    for extra in {"", *extras}:
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        for text in m.distribution(name).requires or []:
            req = Requirement(text)
            if req.marker and not req.marker.evaluate({"extra": extra}):
                continue
            try:
                have = m.version(req.name)
            except m.PackageNotFoundError:
                unmet.append(text)
                continue
            if not req.specifier.contains(have, prereleases=True):
                unmet.append(f"{text} (have {have})")
            else:
                walk(req.name, set(req.extras))

walk("tao-automl", set(sys.argv[1:]))
print(json.dumps(sorted(set(unmet))))
"""
DIRECT_URL = "import importlib.metadata as m; print(m.distribution('tao-automl').read_text('direct_url.json'))"
#: Not part of the source: environments, caches, build output, workspaces.
SKIP = (".git", ".venv*", "node_modules", "build", "*.egg-info", "__pycache__", "dist", "demo_workspace",
        "automl_workspace", ".pytest_cache", ".ruff_cache", ".hypothesis")  # fmt: skip
OWN = ("tao_automl", "server", "__editable__", "__editable___tao_automl")


def _source_copy(tmp: Path) -> Path:
    """The checkout's files (symlinks kept) in ``tmp``: pip builds in the source tree, and its ``build/``
    must neither land in the checkout nor carry stale files from an earlier build into this wheel."""
    src = tmp / "src"
    skip = shutil.ignore_patterns(*SKIP)
    shutil.copytree(ROOT, src, symlinks=True, ignore=skip)
    return src


def _deps_view(tmp: Path) -> Path:
    """Every distribution of this venv except this project, as symlinks in one directory."""
    site = Path(sysconfig.get_paths()["purelib"])
    view = tmp / "deps"
    view.mkdir()
    for entry in site.iterdir():
        if entry.name.startswith(OWN) or entry.suffix == ".pth":
            continue
        (view / entry.name).symlink_to(entry)
    return view


def _fresh_venv(path: Path, deps: Path) -> Path:
    """A venv with no pip and no packages of its own, that sees ``deps``; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(purelib) / "deps.pth").write_text(f"{deps}\n")
    return python


def _pip(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """This venv's pip, acting on ``python``'s environment (pip --python)."""
    return subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _unmet(python: Path, cwd: Path, *extras: str) -> list[str]:
    out = subprocess.run([str(python), "-c", UNMET, *extras], cwd=cwd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _clean_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TAO_SKILL_BANK_PATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(venv, its python, a working directory outside the checkout) with the freshly built wheel installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    dist = tmp / "dist"
    src = _source_copy(tmp)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-w", str(dist), "-q"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("tao_automl-*.whl")
    venv = tmp / "venv"
    python = _fresh_venv(venv, _deps_view(tmp))
    install = _pip(python, "install", "--no-deps", "--no-index", str(wheel), cwd=tmp)
    assert install.returncode == 0, install.stderr
    work = tmp / "work"
    work.mkdir()
    return venv, python, work


def test_the_wheel_carries_the_skill_bank_and_imports_nothing_from_the_checkout(
    installed: tuple[Path, Path, Path],
) -> None:
    venv, python, work = installed
    code = (
        "import json, tao_automl, server; from tao_automl.versions import BUNDLED_BANK, find_versions_file; "
        "from tao_automl.images import find_model_skill; "
        "print(json.dumps([tao_automl.__file__, server.__file__, str(find_versions_file()), "
        "str(find_model_skill('digits-cnn')), sorted(p.name for p in (BUNDLED_BANK / 'skills' / 'platform').iterdir()),"
        " (BUNDLED_BANK / 'SKILL.md').is_file(), sorted(p.name for p in (BUNDLED_BANK / 'references').iterdir())]))"
    )
    out = subprocess.run([str(python), "-c", code], cwd=work, env=_clean_env(venv), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    package, server, versions, digits, platforms, skill_md, references = json.loads(out.stdout)
    for path in (package, server, versions, digits):
        assert Path(path).is_relative_to(venv) and not Path(path).is_relative_to(ROOT), path
    assert {"local", "docker", "slurm", "kubernetes", "brev"} <= set(platforms)
    assert skill_md and "automl-runner-configuration.md" in references
    assert (Path(digits) / "scripts" / "train.py").is_file()
    assert _unmet(python, work) == []
    key = subprocess.run(
        [
            str(python),
            str(Path(versions).parent / "scripts" / "resolve_versions_key.py"),
            "wheels.tao_automl_docker,llm",
        ],
        cwd=work,
        env=_clean_env(venv),
        capture_output=True,
        text=True,
    )
    expected = f"tao-automl[docker,llm]=={version('tao-automl')}"
    assert key.returncode == 0 and key.stdout.strip() == expected, key.stdout + key.stderr


def test_demo_and_run_work_from_the_installed_wheel(installed: tuple[Path, Path, Path]) -> None:
    venv, _, work = installed
    fast = ["--max-recommendations", "1", "--max-concurrent", "1", "--set", "train.num_epochs=1",
            "--set", "dataset.train_fraction=0.3", "--quiet"]  # fmt: skip
    demo = subprocess.run(
        [str(venv / "bin" / "tao-automl"), "demo", *fast, "--workspace", "demo_ws", "--json"],
        cwd=work,
        env=_clean_env(venv),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert demo.returncode == 0, demo.stderr[-3000:]
    result = json.loads(demo.stdout)
    assert result["progress"]["completed"] == 1 and result["best"]["metric_value"] > 0
    assert result["final_evaluation"]["status"] == "measured"
    run = subprocess.run(
        [str(venv / "bin" / "tao-automl"), "run", "--skill", "digits-cnn", "--algorithm", "random", *fast,
         "--workspace", "run_ws", "--json", "--setting", "run_baseline=false",
         "--setting", "run_final_evaluation=false"],
        cwd=work, env=_clean_env(venv), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout)["progress"]["completed"] == 1
    specs = list((work / "run_ws").rglob("spec.yaml"))
    assert specs and all(not p.resolve().is_relative_to(ROOT) for p in specs)


@pytest.mark.asyncio
async def test_the_mcp_server_of_the_wheel_lists_its_tools_and_finds_packaged_skills(
    installed: tuple[Path, Path, Path],
) -> None:
    venv, _, work = installed
    params = StdioServerParameters(
        command=str(venv / "bin" / "tao-automl-mcp"),
        env={**_clean_env(venv), "TAO_AUTOML_MCP_STATE": str(work / "state")},
        cwd=str(work),
    )
    async with Client(params) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert {"preflight_check", "launch_automl", "summarize_results"} <= tools
        pf = await client.call_tool("preflight_check", {"model_skill": "digits-cnn", "results_root": str(work / "r")})
        assert not pf.is_error, pf.content
        assert pf.structured_content["model"]["metric"] == "val_accuracy"
        assert Path(pf.structured_content["model"]["skill_dir"]).is_relative_to(venv)


def test_a_platform_extra_installs_as_versions_yaml_spells_it(tmp_path: Path) -> None:
    """``pip install "$(resolve_versions_key.py wheels.tao_automl_docker)"`` into a fresh venv: this checkout with
    the docker extra (built with build isolation, as a user's pip builds it); its requirements are then met."""
    src = _source_copy(tmp_path)
    spec = resolve("wheels.tao_automl_docker", src / "versions.yaml")
    assert spec == f"tao-automl[docker] @ {src.as_uri()}"
    python = _fresh_venv(tmp_path / "venv", _deps_view(tmp_path))
    install = _pip(python, "install", "--no-cache-dir", spec, cwd=tmp_path)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    assert _unmet(python, tmp_path, "docker") == []
    shown = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m; print(m.distribution('tao-automl').read_text('direct_url.json'))",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert json.loads(shown.stdout)["url"] == src.as_uri()
    needs = subprocess.run(
        [str(python), "-c", "import docker, tao_sdk.platforms.docker, boto3; print('ok')"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert needs.stdout.strip() == "ok", needs.stderr
