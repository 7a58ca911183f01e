"""buf's findings are the same whether it compiles the folders or reads the images the check
builds once (`toolkit.schema.buf.start_plan`), for every kind of module configuration."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.schema.conftest import CASES_ROOT, PROJECT_ROOT
from toolkit.documents.schema import LintFinding
from toolkit.schema import buf

# Cases whose buf findings differ in kind: renumbering, type, removal, rename, package, oneof,
# RPC streaming, proto2 features, reserved ranges.
CASES = (
    "fields_renumbered_for_new_field_1",
    "int32_to_string",
    "field_removed_unreserved",
    "field_renamed",
    "package_renamed",
    "field_moved_into_oneof",
    "rpc_streaming_changed",
    "field_required_added",
    "reserved_to_max",
    "comments_only",
)

LINT_EXCEPT = (
    "version: v2\nlint:\n  use: [STANDARD]\n  except: [FIELD_LOWER_SNAKE_CASE]\n"
    "  ignore: [b]\nbreaking:\n  use: [WIRE_JSON]\n  ignore: [b]\n"
)
LINT_V1 = "version: v1\nlint:\n  use: [BASIC]\n  ignore: [b]\nbreaking:\n  use: [WIRE]\n"
WORKSPACE = (
    "version: v2\nmodules:\n  - path: proto\n    lint:\n      use: [STANDARD]\n"
    "      except: [FIELD_LOWER_SNAKE_CASE]\n      ignore: [proto/b]\n"
    "breaking:\n  use: [WIRE_JSON]\n"
)
A_PROTO = (
    'syntax = "proto3";\npackage a.v1;\nmessage Foo {\n  string BadName = 1;\n  int32 x = 2;\n}\n'
    "message snake_case_name {\n  int32 y = 1;\n}\n"
)
B_PROTO = 'syntax = "proto3";\npackage b.v1;\nmessage bar_thing {\n  string BadName = 1;\n}\n'


def _key(finding: LintFinding) -> tuple[str, str, int, int, str]:
    return (finding.rule, finding.file, finding.line, finding.column, finding.message)


def _findings(run: buf.BufRun) -> list[tuple[str, str, int, int, str]] | str:
    try:
        return sorted(_key(f) for f in buf.collect(run))
    except buf.BufError as exc:
        return f"error: {exc}"


def _compare(module: Path, baseline: Path, tmp: Path, cache: Path) -> buf.BufPlan:
    images = tmp / "images"
    images.mkdir(exist_ok=True)
    plan = buf.start_plan(module, [(baseline, False)], cache, images)
    try:
        lint = _findings(plan.lint)
        assert lint == _findings(buf.start_lint(module, cache))
        (breaking,) = plan.breaking
        found = _findings(breaking)
        assert found == _findings(buf.start_breaking(module, baseline, cache))
        # Equal because buf judged both forms, not because both failed alike.
        assert not isinstance(lint, str), lint
        assert not isinstance(found, str), found
    finally:
        plan.stop()
    return plan


@pytest.mark.parametrize("case", CASES)
def test_findings_from_images_equal_findings_from_folders(
    case: str, tmp_path: Path, cache_dir: Path
) -> None:
    plan = _compare(
        CASES_ROOT / case / "current", CASES_ROOT / case / "baseline", tmp_path, cache_dir
    )
    assert plan.builds, "a module without buf.yaml is read from images"
    assert plan.lint.args[1].endswith(".binpb")


def _module(root: Path, config: str | None, *, renumber: bool = False) -> Path:
    for package, text in (("a", A_PROTO), ("b", B_PROTO)):
        target = root / package / "v1" / f"{package}.proto"
        target.parent.mkdir(parents=True)
        target.write_text(text.replace("= 1;", "= 3;") if renumber else text)
    if config is not None:
        (root / "buf.yaml").write_text(config)
    return root


@pytest.mark.parametrize(
    ("config", "broken"),
    [(LINT_EXCEPT, {"a/v1/a.proto"}), (LINT_V1, {"a/v1/a.proto", "b/v1/b.proto"})],
    ids=["v2-except-ignore", "v1-ignore"],
)
def test_a_modules_own_buf_yaml_applies_to_its_image(
    config: str, broken: set[str], tmp_path: Path, cache_dir: Path
) -> None:
    module = _module(tmp_path / "current", config, renumber=True)
    baseline = _module(tmp_path / "baseline", config)
    plan = _compare(module, baseline, tmp_path, cache_dir)
    assert plan.builds
    (breaking,) = plan.breaking
    files = {f.file for f in buf.collect(breaking)}
    assert files == broken  # both files renumbered; the v2 config's breaking ignores b


def test_a_workspace_is_read_from_its_folders(tmp_path: Path, cache_dir: Path) -> None:
    # An image of a v2 workspace names files relative to each module and drops the module's
    # own settings: buf is given the folders, as a user would run it.
    for side, renumber in (("current", True), ("baseline", False)):
        (tmp_path / side).mkdir()
        _module(tmp_path / side / "proto", None, renumber=renumber)
        (tmp_path / side / "buf.yaml").write_text(WORKSPACE)
    assert not buf.single_module(tmp_path / "current")
    plan = _compare(tmp_path / "current", tmp_path / "baseline", tmp_path, cache_dir)
    assert not plan.builds
    lint = buf.collect(plan.lint)
    assert {f.file for f in lint} == {"proto/a/v1/a.proto"}  # the module's ignore held


def test_the_image_form_would_have_changed_a_workspaces_findings(
    tmp_path: Path, cache_dir: Path
) -> None:
    # Why workspaces are excluded, shown: linting the workspace's image loses its settings.
    (tmp_path / "ws").mkdir()
    _module(tmp_path / "ws" / "proto", None)
    (tmp_path / "ws" / "buf.yaml").write_text(WORKSPACE)
    image = tmp_path / "ws.binpb"
    assert buf.collect(buf.start_build(tmp_path / "ws", image, cache_dir)) == []
    from_image = _findings(buf.start(["lint", str(image)], tmp_path / "ws", cache_dir))
    from_folder = _findings(buf.start_lint(tmp_path / "ws", cache_dir))
    assert from_image != from_folder


def test_a_failed_build_falls_back_to_the_folders(tmp_path: Path, cache_dir: Path) -> None:
    case = CASES_ROOT / "fields_renumbered_for_new_field_1"
    images = tmp_path / "not-a-folder"
    images.write_text("")  # buf cannot write its images under a file
    plan = buf.start_plan(case / "current", [(case / "baseline", False)], cache_dir, images)
    try:
        (breaking,) = plan.breaking
        expected = _findings(buf.start_breaking(case / "current", case / "baseline", cache_dir))
        assert _findings(breaking) == expected
        assert expected and not isinstance(expected, str)
        assert breaking.args[1] == "--against"  # the folder form ran
        assert _findings(plan.lint) == _findings(buf.start_lint(case / "current", cache_dir))
    finally:
        plan.stop()


def test_stopping_a_plan_ends_its_commands(tmp_path: Path, cache_dir: Path) -> None:
    case = CASES_ROOT / "int32_to_string"
    plan = buf.start_plan(case / "current", [(case / "baseline", False)], cache_dir, tmp_path)
    plan.stop()
    # Nothing of the plan is left running, and nothing waits: each command either never
    # started (its builds were stopped) or has ended (killed, or done before the stop).
    for run in (plan.lint, *plan.breaking, *plan.builds):
        try:
            returncode = run.outcome()[0]
        except buf.BufError as exc:
            assert "stopped before it started" in str(exc)
        else:
            assert returncode in (-9, 0, 100), (run.args, returncode)
    assert any(run.args[0] == "build" for run in plan.builds)


def test_an_image_baseline_is_read_as_it_is(tmp_path: Path, cache_dir: Path) -> None:
    case = CASES_ROOT / "int32_to_string"
    image = tmp_path / "baseline.binpb"
    assert buf.collect(buf.start_build(case / "baseline", image, cache_dir)) == []
    images = tmp_path / "images"
    images.mkdir()
    plan = buf.start_plan(case / "current", [(image, True)], cache_dir, images)
    try:
        (breaking,) = plan.breaking
        assert breaking.args[-1] == str(image.resolve())
        assert _findings(breaking) == _findings(
            buf.start_breaking(case / "current", image, cache_dir)
        )
    finally:
        plan.stop()
    assert len(plan.builds) == 1  # the current module only
    shutil.rmtree(images)


def test_the_projects_own_schema_reads_the_same_from_images(
    tmp_path: Path, cache_dir: Path
) -> None:
    # Imports of well-known types, a buf.yaml of its own, services and streams.
    plan = _compare(
        PROJECT_ROOT / "proto",
        PROJECT_ROOT / "fixtures" / "baseline" / "proto",
        tmp_path,
        cache_dir,
    )
    assert len(plan.builds) == 2
