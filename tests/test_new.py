"""`playbook new`: the scaffold validates with the real `playbook validate`, its test passes
with the real `playbook test`, and nothing is ever overwritten."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import PLAYBOOK

from playbook_engine.authoring.scaffold import check_name, create, scaffold
from playbook_engine.authoring.testing.collect import collect
from playbook_engine.authoring.testing.run import run_suites
from playbook_engine.diagnostics import InputError
from playbook_engine.pipeline import load_library

REPO = Path(__file__).resolve().parent.parent


def playbook(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """The installed `playbook` command, run for real."""
    env = {k: v for k, v in os.environ.items() if k != "PLAYBOOK_LIBRARY"}
    return subprocess.run(
        [*PLAYBOOK, *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=env
    )


@pytest.fixture
def bundled(tmp_path: Path) -> Path:
    root = tmp_path / "playbooks"
    shutil.copytree(REPO / "playbooks", root)
    return root


def test_new_playbook_validates_and_its_test_passes(bundled: Path) -> None:
    result = playbook("new", "cache-outage", "--owner", "dba", cwd=bundled.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "created playbooks/cache-outage.yaml\ncreated playbooks/tests/cache-outage.yaml\n"
    )
    text = (bundled / "cache-outage.yaml").read_text()
    # Real ids of the policy: the team, its on-call rota and its chat channel, a role.
    assert "  owner: dba\n" in text
    assert "targets: [dba-primary]" in text
    assert "channel: dba-chat" in text
    assert "owner: incident-commander" in text
    validate = playbook("validate", str(bundled))
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "no problems" in validate.stdout
    tested = playbook("test", str(bundled / "tests" / "cache-outage.yaml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    suite = (bundled / "tests" / "cache-outage.yaml").read_text()
    assert "playbooksInclude: [cache-outage]" in suite
    assert "include: [cache-outage-assess, cache-outage-mitigate]" in suite


def test_new_refuses_to_overwrite(bundled: Path) -> None:
    (bundled / "tests").mkdir(exist_ok=True)
    existing = bundled / "tests" / "cache.yaml"
    existing.write_text("mine\n")
    result = playbook("new", "cache", "--library", str(bundled))
    assert result.returncode == 2
    assert "NW102 file exists already; refusing to overwrite it" in result.stderr
    assert existing.read_text() == "mine\n"
    assert not (bundled / "cache.yaml").exists()  # all or nothing


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad_Name"], "NW101 invalid playbook name 'Bad_Name'"),
        (["--", "-leading-dash"], "NW101 invalid playbook name '-leading-dash'"),
        (["ok", "--owner", "nobody"], "NW103 unknown team 'nobody'"),
    ],
)
def test_new_rejects_bad_input(bundled: Path, args: list[str], message: str) -> None:
    result = playbook("new", "--library", str(bundled), *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert sorted(p.name for p in bundled.glob("*.yaml")) == sorted(
        p.name for p in (REPO / "playbooks").glob("*.yaml")
    )


def test_new_on_a_library_with_errors_reports_them(bundled: Path) -> None:
    policy = bundled / "policy.yaml"
    policy.write_text(policy.read_text().replace("id: sre-primary", "id: sre-first"))
    result = playbook("new", "cache", "--library", str(bundled))
    assert result.returncode == 2
    assert "PB303" in result.stderr
    assert not (bundled / "cache.yaml").exists()


@pytest.mark.parametrize("name", ["true", "123", "x" * 63])
def test_names_yaml_would_misread_still_validate_and_pass(tmp_path: Path, name: str) -> None:
    root = tmp_path / "lib"
    shutil.copytree(REPO / "tests" / "data" / "libraries" / "basic", root)
    create(scaffold(root, name, None))
    loaded = load_library(root)
    assert loaded.ok, loaded.diagnostics
    assert not [d for d in loaded.diagnostics if d.span.path.endswith(f"{name}.yaml")]
    collection = collect([root])
    assert collection.ok, collection.diagnostics
    results = run_suites(collection.suites)
    assert [r.case.suite for r in results] == [name] and all(r.passed for r in results)


def test_suite_id_taken_by_another_suite_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    shutil.copytree(REPO / "tests" / "data" / "libraries" / "basic", root)
    create(scaffold(root, "first", None))
    renamed = root / "tests" / "other-name.yaml"
    (root / "tests" / "first.yaml").rename(renamed)
    (root / "first.yaml").unlink()
    with pytest.raises(InputError) as caught:
        scaffold(root, "first", None)
    assert [d.code for d in caught.value.diagnostics] == ["NW102"]
    assert "a test suite with id 'first' exists already" in caught.value.diagnostics[0].message


def test_an_existing_playbook_id_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    shutil.copytree(REPO / "tests" / "data" / "libraries" / "basic", root)
    with pytest.raises(InputError) as caught:
        scaffold(root, "payments", None)
    (problem,) = caught.value.diagnostics
    assert (problem.code, problem.message) == (
        "NW102",
        "a playbook with id 'payments' exists already",
    )


def test_check_name() -> None:
    assert check_name("cache-outage") == []
    assert [d.code for d in check_name("")] == ["NW101"]
    assert [d.code for d in check_name("x" * 64)] == ["NW101"]
    assert [d.code for d in check_name("../escape")] == ["NW101"]


def test_an_invalid_name_gets_its_kebab_case_suggested() -> None:
    assert check_name("Kafka_Lag")[0].hint.startswith("did you mean 'kafka-lag'? ")
    assert check_name("DB Failover!")[0].hint.startswith("did you mean 'db-failover'? ")
    assert not check_name("___")[0].hint.startswith("did you mean")


def test_the_schema_line_points_at_schemas_that_exist(bundled: Path) -> None:
    assert playbook("new", "no-schemas", cwd=bundled.parent).returncode == 0
    assert not (bundled / "no-schemas.yaml").read_text().startswith("# yaml-language-server")
    assert playbook("schema", "--output", str(bundled.parent / "schemas")).returncode == 0
    assert playbook("new", "with-schemas", cwd=bundled.parent).returncode == 0
    first = (bundled / "with-schemas.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schemas/playbook.schema.json"
    suite = (bundled / "tests" / "with-schemas.yaml").read_text().splitlines()[0]
    assert suite == "# yaml-language-server: $schema=../../schemas/testsuite.schema.json"


def test_scaffolded_files_are_ordinary_files(bundled: Path) -> None:
    import stat

    old = os.umask(0o022)
    try:
        assert playbook("new", "perm-check", cwd=bundled.parent).returncode == 0
    finally:
        os.umask(old)
    for path in (bundled / "perm-check.yaml", bundled / "tests" / "perm-check.yaml"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
