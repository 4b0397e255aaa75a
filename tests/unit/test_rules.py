"""Rule files: Prometheus' format loads; every problem names file and line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from slawatch.config.located import InputError
from slawatch.rules.files import load_rules

REPO = Path(__file__).resolve().parents[2]
DEFAULT = timedelta(seconds=15)


def write(tmp_path: Path, text: str, name: str = "r.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_rules([str(path)], DEFAULT)
    return [str(p).replace(str(path), "r.yaml") for p in info.value.problems]


def test_example_rules_load() -> None:
    rules = load_rules([str(REPO / "rules" / "*.yaml")], DEFAULT)
    names = {r.name for g in rules.groups for r in g.rules}
    assert {"ServiceDown", "HighErrorRatio", "HighLatencyP99", "DiskSpaceLow"} <= names


def test_group_fields_and_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
groups:
  - name: g1
    interval: 30s
    rules:
      - alert: A
        expr: up == 0
        for: 1m
        keep_firing_for: 5m
        labels: {priority: P0, port: 8080, page: true}
        annotations: {summary: "{{ $labels.instance }} is down"}
      - record: job:up:sum
        expr: sum by (job) (up)
  - name: g2
    rules:
      - alert: B
        expr: vector(1)
""",
    )
    rules = load_rules([str(path)], DEFAULT)
    g1, g2 = rules.groups
    assert (g1.interval, g2.interval) == (timedelta(seconds=30), DEFAULT)
    (a,) = g1.rules  # the recording rule is skipped
    assert a.for_ == timedelta(minutes=1) and a.keep_firing_for == timedelta(minutes=5)
    assert a.labels == {"priority": "P0", "port": "8080", "page": "true"}
    assert a.line == 6


@pytest.mark.parametrize(
    "text, expected",
    [
        ("groups:\n  - name: g\n    rules: [\n", "r.yaml:4: invalid YAML"),
        ("groups:\n  - name: g\n    rules:\n      - alert: A\n        for: 1m\n", "r.yaml:4: groups.0.rules.0.expr: Field required"),
        ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 5 min\n", "r.yaml:6: groups.0.rules.0.for: not a valid duration string"),
        ("groups:\n  - name: g\n    rules: []\n  - name: g\n    rules: []\n", "r.yaml:4: groups.1.name: duplicate group name 'g'"),
        ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        severity: page\n", "r.yaml:6: groups.0.rules.0.severity: unknown field"),
        ("groups:\n  - name: g\n    intervall: 1m\n    rules: []\n", "r.yaml:3: groups.0.intervall: unknown field"),
        ("groups:\n  - name: g\n    rules:\n      - expr: up\n", "r.yaml:4: groups.0.rules.0: one of 'record' or 'alert' must be set"),
        ("groups:\n  - name: g\n    rules:\n      - record: x\n        expr: up\n        for: 1m\n", "r.yaml:6: groups.0.rules.0.for: invalid field 'for' in recording rule"),
        ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels: {bad-name: x}\n", "r.yaml:6: groups.0.rules.0.labels.bad-name: invalid label name"),
        ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n          summary: '{{ $labels.x '\n", "r.yaml:7: groups.0.rules.0.annotations.summary: template error"),
        ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: ''\n", "r.yaml:5: groups.0.rules.0.expr: field 'expr' must be set"),
        ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        expr: down\n", "r.yaml:6: groups.0.rules.0.expr: duplicate key 'expr'"),
    ],
    ids=["bad yaml", "missing expr", "bad duration", "duplicate group", "unknown rule field", "unknown group field",
         "neither alert nor record", "for on recording rule", "bad label name", "bad template", "empty expr",
         "duplicate key"],
)
def test_problems_name_file_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(tmp_path, text)
    assert any(p.startswith(expected) for p in found), found


def test_all_problems_of_all_files_are_reported(tmp_path: Path) -> None:
    write(tmp_path, "groups:\n  - name: g\n    rules:\n      - alert: A\n", "a.yaml")
    write(tmp_path, "groups:\n  - name: g\n    interval: x\n    rules: []\n", "b.yaml")
    with pytest.raises(InputError) as info:
        load_rules([str(tmp_path / "*.yaml")], DEFAULT)
    files = sorted({Path(p.file).name for p in info.value.problems})
    assert files == ["a.yaml", "b.yaml"]


def test_same_alert_name_twice_in_a_group_keeps_separate_state_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "groups:\n  - name: g\n    rules:\n"
        "      - {alert: DiskFull, expr: a > 80, labels: {severity: warning}}\n"
        "      - {alert: DiskFull, expr: a > 95, labels: {severity: critical}}\n",
    )
    (group,) = load_rules([str(path)], DEFAULT).groups
    assert [r.key for r in group.rules] == ["DiskFull", "DiskFull#1"]


def test_group_by_extension_lives_in_an_annotation(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "groups:\n  - name: g\n    rules:\n"
        "      - alert: A\n        expr: up == 0\n"
        "        annotations: {slawatch_group_by: 'service, cluster', summary: s}\n",
    )
    (rule,) = load_rules([str(path)], DEFAULT).groups[0].rules
    assert rule.group_by == ("cluster", "service")
    assert rule.annotations == {"summary": "s"}


def test_a_path_matching_no_file_is_a_warning(tmp_path: Path) -> None:
    rules = load_rules([str(tmp_path / "none-*.yaml")], DEFAULT)
    assert rules.groups == () and "no rule file matches" in str(rules.warnings[0])


def test_a_constant_regexp_go_rejects_is_a_template_error_at_its_line(tmp_path: Path) -> None:
    """Prometheus would load it and fail every render; slawatch check names file and line."""
    found = problems(
        tmp_path,
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n"
        "          ok: '{{ reReplaceAll \"(a+)+$\" \"x\" $labels.x }}'\n"
        "          summary: '{{ reReplaceAll \"(\" \"x\" $labels.x }}'\n",
    )
    assert found == ["r.yaml:8: groups.0.rules.0.annotations.summary: template error: 1:17: "
                     "reReplaceAll: error parsing regexp: missing closing ): `(`"]


def test_query_is_a_template_error_while_rules_render_without_a_query_function(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n"
        "          summary: '{{ query \"up\" | first | value }}'\n",
    )
    assert found == ['r.yaml:7: groups.0.rules.0.annotations.summary: template error: 1:4: function "query" '
                     "needs a query function, which slawatch does not pass when it renders this template"]


GROUP = "groups:\n  - name: api\n    rules:\n      - {alert: A, expr: up == 0}\n"


def keys(patterns: list[Path | str], base_dir: Path | None) -> list[str]:
    return [g.key for g in load_rules([str(p) for p in patterns], DEFAULT, base_dir).groups]


def test_group_keys_are_relative_to_the_config_folder(tmp_path: Path) -> None:
    for mount in ("etc-slawatch", "config"):
        (tmp_path / mount / "rules").mkdir(parents=True)
        write(tmp_path / mount / "rules", GROUP, "api.yaml")
        assert keys([tmp_path / mount / "rules" / "*.yaml"], tmp_path / mount) == ["rules/api.yaml;api"]


def test_files_outside_the_config_folder_are_named_from_their_rules_path(tmp_path: Path) -> None:
    for release in ("r1", "r2"):
        (tmp_path / release / "team").mkdir(parents=True)
        write(tmp_path / release / "team", GROUP, "api.yaml")
        assert keys([tmp_path / release / "*" / "api.yaml"], tmp_path / "elsewhere") == ["team/api.yaml;api"]
        assert keys([tmp_path / release / "team" / "api.yaml"], None) == ["api.yaml;api"]


def test_files_that_would_share_a_relative_name_keep_their_absolute_paths(tmp_path: Path) -> None:
    for team in ("a", "b"):
        (tmp_path / team).mkdir()
        write(tmp_path / team, GROUP, "rules.yaml")
    found = keys([tmp_path / "a" / "rules.yaml", tmp_path / "b" / "rules.yaml"], tmp_path / "elsewhere")
    assert found == [f"{tmp_path / 'a' / 'rules.yaml'};api", f"{tmp_path / 'b' / 'rules.yaml'};api"]
    assert keys([tmp_path / "*" / "rules.yaml"], tmp_path) == ["a/rules.yaml;api", "b/rules.yaml;api"]


def test_label_and_annotation_values_keep_their_text_as_in_prometheus(tmp_path: Path) -> None:
    """Go's yaml.v3 gives Prometheus the scalar's text for a string; YAML 1.1 would not."""
    path = write(
        tmp_path,
        "groups:\n  - name: 010\n    interval: 30s\n    limit: 10\n    rules:\n"
        "      - alert: yes\n        expr: 1\n        for: 5m\n        keep_firing_for: 90\n"
        "        labels: {a: yes, b: 010, c: 1.10, d: 1:30, e: 0x1F, f: on, g: 2026-12-24, h: ~, i: '~', j: 1e3}\n"
        "        annotations:\n          summary: no\n          count: 007\n          empty:\n",
    )
    (group,) = load_rules([str(path)], DEFAULT).groups
    (rule,) = group.rules
    assert (group.name, group.interval, group.limit) == ("010", timedelta(seconds=30), 10)
    assert (rule.name, rule.expr, rule.for_, rule.keep_firing_for) == ("yes", "1", timedelta(minutes=5), timedelta(seconds=90))
    assert rule.labels == {
        "a": "yes", "b": "010", "c": "1.10", "d": "1:30", "e": "0x1F", "f": "on", "g": "2026-12-24",
        "h": "", "i": "~", "j": "1e3",
    }
    assert rule.annotations == {"summary": "no", "count": "007", "empty": ""}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("groups:\n  - name: g\n    rules:\n      - &r {alert: A, expr: up}\n      - *r\n",
         "r.yaml:5: YAML aliases are not allowed (*r)"),
        ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels:\n          [a]: b\n",
         "r.yaml:7: a mapping key must be a scalar, not a sequence"),
        ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels: {a: [1]}\n",
         "r.yaml:6: groups.0.rules.0.labels.a: Input should be a valid string"),
    ],
    ids=["alias", "list as key", "list as label value"],
)
def test_yaml_that_prometheus_would_not_read_as_text_is_a_problem(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(tmp_path, text)
    assert any(p.startswith(expected) for p in found), found
