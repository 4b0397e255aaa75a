"""`slawatch check`: file:line problems and exit codes, as CI pipelines use it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def check(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slawatch", "check", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_example_rules_pass(tmp_path: Path) -> None:
    result = check(cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "OK: 2 rule file(s)" in result.stdout


def test_broken_rule_file_prints_file_line_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    bad = tmp_path / "rules" / "bad.yaml"
    bad.write_text("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        for: 1 minute\n")
    result = check(cwd=tmp_path)
    assert result.returncode == 1
    assert f"{bad}:6: groups.0.rules.0.for: not a valid duration string" in result.stderr


def test_hostile_yaml_is_reported_with_file_and_line_and_exits_1(tmp_path: Path) -> None:
    """Invalid UTF-8, an alias bomb, a list as a key and an oversized file: all four, one run."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "a-utf8.yaml").write_bytes(b"groups:\n  - name: g\n    rules:\n      - alert: \xff\n        expr: up\n")
    (rules / "b-bomb.yaml").write_text("a: &a [lol, lol]\nb: &b [*a, *a]\nc: [*b, *b]\n")
    (rules / "c-key.yaml").write_text("groups:\n  - name: g\n    rules:\n      - alert: A\n        [expr]: up\n")
    (rules / "d-big.yaml").write_bytes(b"#" * (10 * 1024 * 1024 + 1))
    result = check(cwd=tmp_path)
    assert result.returncode == 1
    assert f"{rules / 'a-utf8.yaml'}:4: invalid UTF-8: byte 0xff at offset 46" in result.stderr
    assert f"{rules / 'b-bomb.yaml'}:2: YAML aliases are not allowed (*a)" in result.stderr
    assert f"{rules / 'c-key.yaml'}:5: a mapping key must be a scalar, not a sequence" in result.stderr
    assert f"{rules / 'd-big.yaml'}: file is larger than the 10 MiB limit" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_config_key_exits_1(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("rules:\n  evaluation_interval: 15s\n  pathz: []\n")
    result = check("--config", str(config))
    assert result.returncode == 1
    assert f"{config}:3: rules.pathz: unknown field" in result.stderr


def test_prometheus_flag_reports_promql_syntax_errors_per_rule(tmp_path: Path, prometheus_factory) -> None:  # type: ignore[no-untyped-def]
    prom = prometheus_factory()
    rules = tmp_path / "r.yaml"
    rules.write_text(
        "groups:\n  - name: g\n    rules:\n"
        "      - alert: Good\n        expr: up == 0\n"
        "      - alert: Broken\n        expr: sum(rate(x[5m]) > \n"
    )
    config = tmp_path / "c.yaml"
    config.write_text(f"prometheus: {{url: '{prom.url}'}}\nrules: {{paths: ['{rules}']}}\n")
    result = check("--config", str(config), "--prometheus")
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if ": expr: " in line]
    assert len(lines) == 1 and lines[0].startswith(f"{rules}:6: g/Broken: expr: ") and "parse error" in lines[0]
    assert check("--config", str(config)).returncode == 0  # without --prometheus the YAML is fine


def test_invalid_priority_is_an_error_and_a_defaulted_priority_a_warning(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    path = tmp_path / "rules" / "p.yaml"
    path.write_text(
        "groups:\n  - name: g\n    rules:\n"
        "      - {alert: Defaulted, expr: up == 0, labels: {severity: page}}\n"
        "      - {alert: Invalid, expr: up == 0, labels: {priority: P5}}\n"
        "      - {alert: Mapped, expr: up == 0, labels: {severity: critical}}\n"
    )
    result = check(cwd=tmp_path)
    assert result.returncode == 1
    assert f"{path}:5: g/Invalid: labels: invalid priority 'P5'" in result.stderr
    assert f"{path}:4: warning: g/Defaulted: labels: no priority label" in result.stderr
    assert "Mapped" not in result.stderr
