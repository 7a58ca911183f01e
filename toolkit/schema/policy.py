"""Version policy: the bump a set of changes requires, and whether the declared version meets it.

An incompatible change (wire, JSON or generated code) needs a major bump, an addition a
minor bump, a change to comments only a patch (versions compared with `packaging.version`).
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf import descriptor_pb2
from packaging.version import Version

from toolkit.documents.schema import Bump, Change, VersionPolicy
from toolkit.schema.elements import WELL_KNOWN_PREFIX


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
    """Accepted incompatible changes still change the schema: they need at least a minor bump."""
    if any((c.breaking or c.source == "breaking") and c.accepted is None for c in changes):
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
    baseline_version: Version,
    declared: Version,
) -> VersionPolicy:
    bump = required_bump(changes, baseline_files, current_files)
    minimum = minimum_version(baseline_version, bump)
    return VersionPolicy(
        baseline=label,
        baseline_version=str(baseline_version),
        declared=str(declared),
        required_bump=bump,
        minimum_version=str(minimum),
        satisfied=declared >= minimum,
    )
