"""deploy/prometheus-alerts.yml checked and unit-tested by the real `promtool` (Debian's `prometheus`
package, installed by `scripts/install-system-deps.sh test`).

`promtool check rules` validates the file (PromQL, durations, templates); `promtool test rules` runs
deploy/prometheus-alerts.test.yml, where every alert group has recorded series that make its alerts
fire and series that keep them quiet. A deliberately broken copy must fail the check, so a check
that passes means something.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus-alerts.yml"
RULE_TESTS = DEPLOY / "prometheus-alerts.test.yml"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool not found: `bash scripts/install-system-deps.sh test` installs it"
    return found


def run(promtool: str, *args: str, cwd: Path = DEPLOY) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def alert_names(rules_file: Path) -> dict[str, set[str]]:
    groups = yaml.safe_load(rules_file.read_text())["groups"]
    return {group["name"]: {rule["alert"] for rule in group["rules"]} for group in groups}


def test_the_alert_rules_pass_promtool_check(promtool: str) -> None:
    result = run(promtool, "check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    total = sum(len(names) for names in alert_names(RULES).values())
    assert f"SUCCESS: {total} rules found" in result.stdout + result.stderr


def test_the_alert_rules_pass_their_unit_tests(promtool: str) -> None:
    result = run(promtool, "test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_exercised_firing_and_quiet() -> None:
    """Each alert of each group appears in a case that expects it and in one that expects nothing."""
    tests = yaml.safe_load(RULE_TESTS.read_text())
    assert tests["rule_files"] == [RULES.name]
    firing = {
        case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"] if case["exp_alerts"]
    }
    quiet = {
        case["alertname"]
        for test in tests["tests"]
        for case in test["alert_rule_test"]
        if not case["exp_alerts"]
    }
    everything = set().union(*alert_names(RULES).values())
    assert everything - firing == set(), "alerts never seen firing"
    assert everything - quiet == set(), "alerts never seen quiet"


def test_a_broken_copy_fails_the_check(promtool: str, tmp_path: Path) -> None:
    text = RULES.read_text()
    broken_query = text.replace("> 0.01", "> > 0.01", 1)  # a PromQL syntax error
    assert broken_query != text
    (tmp_path / "broken-query.yml").write_text(broken_query)
    result = run(promtool, "check", "rules", "broken-query.yml", cwd=tmp_path)
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr

    broken_duration = text.replace("for: 10m", "for: ten minutes", 1)
    (tmp_path / "broken-duration.yml").write_text(broken_duration)
    assert run(promtool, "check", "rules", "broken-duration.yml", cwd=tmp_path).returncode != 0


def test_a_wrong_expectation_fails_the_unit_tests(promtool: str, tmp_path: Path) -> None:
    """The unit tests compare labels for real: expecting the wrong instance fails them."""
    shutil.copyfile(RULES, tmp_path / RULES.name)
    text = RULE_TESTS.read_text()
    wrong = text.replace("instance: ingester-b}", "instance: ingester-c}")
    assert wrong != text
    (tmp_path / RULE_TESTS.name).write_text(wrong)
    result = run(promtool, "test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert result.returncode != 0
    assert "OeeReadingsQuarantined" in result.stdout + result.stderr
