"""Version policy: the bump a set of changes requires, and whether the declared version meets it.

A change that breaks data or clients of the baseline (backward, wire or JSON) or generated
code needs a major bump, also when it is accepted; any other change a minor bump, a change to
comments only a patch (versions compared with `packaging.version`). The version is optional:
when neither schema declares one, the policy is reported as not checked.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf import descriptor_pb2
from packaging.version import Version

from toolkit.documents.schema import Bump, Change, VersionPolicy
from toolkit.schema.elements import WELL_KNOWN_PREFIX
from toolkit.schema.version import VersionDeclaration


def _without_source_info(files: descriptor_pb2.FileDescriptorSet) -> list[bytes]:
    stripped = []
    for file_proto in files.file:
        if file_proto.name.startswith(WELL_KNOWN_PREFIX):
            continue
        copy = descriptor_pb2.FileDescriptorProto()
        copy.CopyFrom(file_proto)
        copy.ClearField("source_code_info")
        stripped.append(copy.SerializeToString(deterministic=True))
    return sorted(stripped)


def _own_files(files: descriptor_pb2.FileDescriptorSet) -> list[bytes]:
    return sorted(
        f.SerializeToString(deterministic=True)
        for f in files.file
        if not f.name.startswith(WELL_KNOWN_PREFIX)
    )


def required_bump(
    changes: Sequence[Change],
    baseline: descriptor_pb2.FileDescriptorSet,
    current: descriptor_pb2.FileDescriptorSet,
) -> Bump:
    """An accepted incompatible change still needs a major bump: accepting it lets the check
    pass, it does not make the change compatible."""
    if any(
        "breaking" in (c.backward.wire, c.backward.json, c.source) and c.kind != "buf_finding"
        for c in changes
    ):
        return "major"
    if changes or _without_source_info(baseline) != _without_source_info(current):
        return "minor"
    if _own_files(baseline) != _own_files(current):
        return "patch"
    return "none"


def minimum_version(baseline: Version, bump: Bump) -> Version:
    major, minor, patch = (*baseline.release, 0, 0, 0)[:3]
    if bump == "major":
        return Version(f"{major + 1}.0.0")
    if bump == "minor":
        return Version(f"{major}.{minor + 1}.0")
    if bump == "patch":
        return Version(f"{major}.{minor}.{patch + 1}")
    return baseline


def version_policy(
    label: str,
    changes: Sequence[Change],
    baseline_files: descriptor_pb2.FileDescriptorSet,
    current_files: descriptor_pb2.FileDescriptorSet,
    baseline_version: Version | None,
    declared: VersionDeclaration | None,
    *,
    compatible: bool = True,
) -> VersionPolicy:
    bump = required_bump(changes, baseline_files, current_files)
    file, line = (declared.file, declared.line) if declared else (None, None)
    # The declaration's span on its line (GitHub's columns), only where the line is known.
    column = declared.column if declared and line is not None else None
    end_line = line if column is not None else None
    end_column = declared.end_column if declared and column is not None else None
    if baseline_version is None:
        reason = (
            "neither schema declares a version"
            if declared is None
            else ("the baseline declares no version")
        )
        return VersionPolicy(
            baseline=label,
            baseline_version=None,
            declared=str(declared.version) if declared else None,
            required_bump=bump,
            minimum_version="",
            satisfied=True,
            checked=False,
            description=f"not checked: {reason}",
            file=file,
            line=line,
            column=column,
            end_line=end_line,
            end_column=end_column,
        )
    minimum = minimum_version(baseline_version, bump)
    if declared is None:
        satisfied = bump == "none"
        text = (
            ""
            if satisfied
            else (f"the current schema declares no version; this change needs at least {minimum}")
        )
    else:
        satisfied = declared.version >= minimum
        text = ""
        if not satisfied:
            head = "the schema is compatible; its" if compatible else "its"
            text = f"{head} declared version {declared.version} is below the {minimum} this "
            text += f"change needs (a {bump} bump since {baseline_version})"
    return VersionPolicy(
        baseline=label,
        baseline_version=str(baseline_version),
        declared=str(declared.version) if declared else None,
        required_bump=bump,
        minimum_version=str(minimum),
        satisfied=satisfied,
        checked=True,
        description=text,
        file=file,
        line=line,
        column=column,
        end_line=end_line,
        end_column=end_column,
    )
