"""versions.yaml pins, the versions-key resolver script, and container image resolution."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT_ROOT, UPSTREAM_SKILL_NAMES, SkillWriter
from packaging.requirements import Requirement

from tao_automl.errors import SkillError
from tao_automl.images import find_model_skill, image_links, resolve_image
from tao_automl.versions import UnknownVersionsKeyError, VersionsFileNotFoundError, leaf_keys, load_versions, resolve

RESOLVE_KEY = PROJECT_ROOT / "scripts" / "resolve_versions_key.py"
RESOLVE_IMAGE = PROJECT_ROOT / "scripts" / "resolve_tao_image.py"
PLATFORM_WHEEL_KEYS = ("tao_automl_brev", "tao_automl_slurm", "tao_automl_kubernetes", "tao_automl_docker")


def run(script: Path, *args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, cwd=cwd, env=env)


# ---- versions.yaml ----------------------------------------------------------------------------------


def test_upstream_versions_keys_resolve_to_the_pinned_images(upstream_skill_dir: Path) -> None:
    links = image_links(upstream_skill_dir / "references" / "skill_info.yaml")
    assert links, "every upstream skill links its image line to versions.yaml"
    for image, key in links.values():
        assert key is not None and key.startswith("images.tao_toolkit.")
        assert resolve(key) == image


def test_images_are_pinned_tags() -> None:
    data, _ = load_versions()
    assert set(data["images"]["tao_toolkit"]) == {"pyt", "deploy", "tf2"}
    for key in leaf_keys(data["images"], "images."):
        image = resolve(key)
        assert image.startswith("nvcr.io/nvidia/tao/tao-toolkit:") and not image.endswith(":latest")


def test_wheels_install_this_checkout_with_existing_extras() -> None:
    extras = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    data, _ = load_versions()
    assert set(PLATFORM_WHEEL_KEYS) | {"tao_automl_all"} <= set(data["wheels"])
    for key in data["wheels"]:
        requirement = Requirement(resolve(f"wheels.{key}"))
        assert requirement.name == "tao-automl"
        assert requirement.extras <= set(extras), f"{key} names an extra pyproject.toml does not define"
        assert requirement.url == PROJECT_ROOT.as_uri()
    for platform in ("docker", "slurm", "kubernetes", "brev"):
        assert Requirement(resolve(f"wheels.tao_automl_{platform}")).extras == {platform}
    assert Requirement(resolve("wheels.tao_automl_local")).extras == set()
    assert Requirement(resolve("wheels.tao_automl_all")).extras == {"all"}
    assert set(extras["all"][0].split("[")[1].rstrip("]").split(",")) == set(extras) - {"all", "dev"}


def test_a_comma_extra_is_added_to_the_install_spec() -> None:
    assert Requirement(resolve("wheels.tao_automl_docker,llm")).extras == {"docker", "llm"}
    assert Requirement(resolve("wheels.tao_automl_local,llm")).extras == {"llm"}
    assert Requirement(resolve("wheels.tao_automl_all, llm")).extras == {"all", "llm"}
    with pytest.raises(UnknownVersionsKeyError, match="applies to install specs"):
        resolve("images.tao_toolkit.pyt,llm")
    with pytest.raises(UnknownVersionsKeyError, match="bad extra"):
        resolve("wheels.tao_automl_docker,ll m;")


def test_every_platform_skill_wheel_key_resolves() -> None:
    infos = sorted((PROJECT_ROOT / "skills" / "platform").glob("*/references/skill_info.yaml"))
    assert infos
    for info in infos:
        key = yaml.safe_load(info.read_text()).get("wheel_key")
        assert key, f"{info} has no wheel_key"
        assert resolve(f"wheels.{key}").startswith("tao-automl")


def test_unknown_and_group_keys_are_errors() -> None:
    with pytest.raises(UnknownVersionsKeyError) as info:
        resolve("images.tao_toolkit.pty")
    assert "images.tao_toolkit.pyt" in (info.value.hint or "")
    with pytest.raises(UnknownVersionsKeyError, match="group"):
        resolve("wheels")
    with pytest.raises(VersionsFileNotFoundError):
        resolve("images.tao_toolkit.pyt", "/nonexistent/versions.yaml")


def test_script_prints_leaves_with_exit_codes(tmp_path: Path) -> None:
    for cwd in (PROJECT_ROOT, tmp_path):
        proc = run(RESOLVE_KEY, "images.tao_toolkit.pyt", cwd=cwd)
        assert (proc.returncode, proc.stdout) == (0, "nvcr.io/nvidia/tao/tao-toolkit:7.1.0-pyt\n")
    wheel = run(RESOLVE_KEY, "wheels.tao_automl_slurm", cwd=tmp_path)
    assert wheel.stdout.strip() == f"tao-automl[slurm] @ {PROJECT_ROOT.as_uri()}"
    bad = run(RESOLVE_KEY, "wheels.tao_automl_slrum", cwd=tmp_path)
    assert bad.returncode == 1 and "did you mean wheels.tao_automl_slurm" in bad.stderr
    missing = run(RESOLVE_KEY, "images.tao_toolkit.pyt", "--file", str(tmp_path / "none.yaml"), cwd=tmp_path)
    assert missing.returncode == 2 and "versions.yaml not found" in missing.stderr


def test_skill_bank_path_wins_and_works_without_pyyaml(tmp_path: Path) -> None:
    bank = tmp_path / "bank"
    bank.mkdir()
    (bank / "versions.yaml").write_text(
        "# a skill bank's own pins\nimages:\n  tao_toolkit:\n    pyt: 'registry.local/tao:9-pyt'  # mirrored\n"
        'wheels:\n  tao_automl_brev: "tao-automl @ {skill_bank_uri}"\n'
    )
    env = {"PATH": "/usr/bin:/bin", "TAO_SKILL_BANK_PATH": str(bank)}
    assert run(RESOLVE_KEY, "images.tao_toolkit.pyt", cwd=tmp_path, env=env).stdout == "registry.local/tao:9-pyt\n"
    code = (
        "import sys; sys.modules['yaml'] = None; sys.argv[1:] = ['wheels.tao_automl_brev']; "
        f"sys.path.insert(0, {str(PROJECT_ROOT)!r}); import runpy; "
        f"runpy.run_path({str(RESOLVE_KEY)!r}, run_name='__main__')"
    )
    # A bank that is no source tree (an installed wheel's copy) cannot be pip-installed from: the spec names
    # the installed version instead.
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert (proc.returncode, proc.stdout) == (0, f"tao-automl=={version('tao-automl')}\n"), proc.stderr
    (bank / "pyproject.toml").write_text("[project]\nname = 'tao-automl'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert (proc.returncode, proc.stdout) == (0, f"tao-automl @ {bank.as_uri()}\n"), proc.stderr


# ---- image resolution ----------------------------------------------------------------------------------------


def test_aliases_find_the_same_skill(upstream_skills_dir: Path) -> None:
    roots = [upstream_skills_dir]
    rtdetr = upstream_skills_dir / "tao-train-rtdetr"
    for alias in (rtdetr, str(rtdetr), "tao-train-rtdetr", "rtdetr", "RTDETR"):
        assert find_model_skill(alias, roots) == rtdetr.resolve()
    assert find_model_skill("classification_pyt", roots).name == "tao-train-image-classification"
    assert find_model_skill("digits_cnn").name == "digits-cnn"  # this project's skills/models/
    with pytest.raises(SkillError) as info:
        find_model_skill("rtdtr", roots)
    assert info.value.field == "model" and "rtdetr" in (info.value.hint or "")


def test_action_image_beats_model_image(upstream_skills_dir: Path) -> None:
    roots = [upstream_skills_dir]
    train = resolve_image("classification_pyt", "train", roots=roots)
    assert (train.image, train.source, train.versions_key) == (
        "nvcr.io/nvidia/tao/tao-toolkit:7.1.0-pyt",
        "model",
        "images.tao_toolkit.pyt",
    )
    engine = resolve_image("classification_pyt", "gen_trt_engine", roots=roots)
    assert (engine.image, engine.source, engine.versions_key) == (
        "nvcr.io/nvidia/tao/tao-toolkit:7.1.0-deploy",
        "action",
        "images.tao_toolkit.deploy",
    )
    assert train.confirmation_required and engine.confirmation_required and not train.notes
    with pytest.raises(SkillError, match="no action 'fly'"):
        resolve_image("rtdetr", "fly", roots=roots)


def test_versions_key_is_the_fallback_and_drift_is_noted(tao_skill_writer: SkillWriter, tmp_path: Path) -> None:
    skill = tao_skill_writer(name="tf2-net")
    info = skill / "references" / "skill_info.yaml"
    text = info.read_text().replace(
        "container_image: example.invalid/tao:latest", "container_image: null  # versions-key: images.tao_toolkit.tf2"
    )
    info.write_text(text)
    found = resolve_image(skill, "train")
    assert (found.image, found.source, found.versions_key) == (
        resolve("images.tao_toolkit.tf2"),
        "versions_key",
        "images.tao_toolkit.tf2",
    )

    info.write_text(text.replace("null  # versions-key", "nvcr.io/nvidia/tao/tao-toolkit:6.0.0-tf2  # versions-key"))
    drifted = resolve_image("tf2-net", "train", roots=[tmp_path])
    assert drifted.source == "model" and drifted.image.endswith("6.0.0-tf2")
    assert any("versions.yaml" in note for note in drifted.notes)

    info.write_text(text.replace("images.tao_toolkit.tf2", "images.tao_toolkit.tf3"))
    with pytest.raises(SkillError, match=r"images\.tao_toolkit\.tf3"):
        resolve_image(skill, "train")


def test_a_skill_without_image_runs_without_one() -> None:
    found = resolve_image("digits-cnn", "train")
    assert (found.image, found.source) == (None, "none") and found.confirmation_required


@pytest.mark.parametrize("name", UPSTREAM_SKILL_NAMES)
def test_image_script_json_from_anywhere(name: str, upstream_skills_dir: Path, tmp_path: Path) -> None:
    arch = yaml.safe_load((upstream_skills_dir / name / "references" / "skill_info.yaml").read_text())["network_arch"]
    proc = run(
        RESOLVE_IMAGE,
        "--model",
        arch,
        "--action",
        "train",
        "--json",
        "--skill-root",
        str(upstream_skills_dir),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["image"] == "nvcr.io/nvidia/tao/tao-toolkit:7.1.0-pyt" and found["confirmation_required"] is True
    assert found["skill_dir"] == str((upstream_skills_dir / name).resolve())


def test_image_script_text_and_errors(upstream_skills_dir: Path, tmp_path: Path) -> None:
    root = str(upstream_skills_dir)
    text = run(RESOLVE_IMAGE, "--model", "tao-train-rtdetr", "--skill-root", root, cwd=PROJECT_ROOT)
    assert "source: model (versions-key images.tao_toolkit.pyt)" in text.stdout
    assert "confirm this image with the user" in text.stdout
    bad = run(RESOLVE_IMAGE, "--model", "nope-net", cwd=tmp_path)
    assert bad.returncode == 1 and "no model skill called 'nope-net'" in bad.stderr
