"""Populated instances of a message for the wire replay: every field, every oneof arm, nested
and repeated values, and edge values (empty, non-ASCII, extreme integers, invalid UTF-8 bytes).

Sample k picks arm k // VARIANTS of each oneof and value variant k % VARIANTS. String and
integer values carry the field's name or number, so a value that lands in another field can
be traced back to where it was written. The strings-only variant leaves numbers unset: a
nested message of only text encodes as valid UTF-8, so a renumbered field shows what it does
to a reader that takes those bytes for a string (a space id made of garbage).
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor, OneofDescriptor
from google.protobuf.message import Message

F = FieldDescriptor
VARIANTS = 4  # typical, edge, extreme, strings only
STRINGS_ONLY = 3
MAX_DEPTH = 3

INT_RANGES = {
    F.TYPE_INT32: (-(2**31), 2**31 - 1),
    F.TYPE_SINT32: (-(2**31), 2**31 - 1),
    F.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    F.TYPE_INT64: (-(2**63), 2**63 - 1),
    F.TYPE_SINT64: (-(2**63), 2**63 - 1),
    F.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    F.TYPE_UINT32: (0, 2**32 - 1),
    F.TYPE_FIXED32: (0, 2**32 - 1),
    F.TYPE_UINT64: (0, 2**64 - 1),
    F.TYPE_FIXED64: (0, 2**64 - 1),
}
FLOAT_EDGES = {F.TYPE_FLOAT: 3.4e38, F.TYPE_DOUBLE: 1.7e308}


def real_oneofs(descriptor: Descriptor) -> list[OneofDescriptor]:
    """Oneofs written in the schema (proto3 `optional` adds synthetic one-field oneofs)."""
    return [
        oneof
        for oneof in descriptor.oneofs
        if not (len(oneof.fields) == 1 and oneof.name == f"_{oneof.fields[0].name}")
    ]


def sample_count(descriptor: Descriptor) -> int:
    arms = max((len(oneof.fields) for oneof in real_oneofs(descriptor)), default=1)
    return VARIANTS * arms


def scalar_value(field: FieldDescriptor, variant: int) -> Any:
    kind = field.type
    variant = 0 if variant == STRINGS_ONLY else variant
    if kind in INT_RANGES:
        low, high = INT_RANGES[kind]
        # The edge of an unsigned type is its top bit alone: beyond 32 bits it does not
        # survive a 32-bit reader, where all-ones would read back as the same bits (-1).
        extreme = low if low < 0 else (high + 1) // 2
        return [min(field.number * 1000 + 7, high), extreme, high][variant]
    if kind == F.TYPE_BOOL:
        return True
    if kind in FLOAT_EDGES:
        edge = FLOAT_EDGES[kind]
        return [1.5 + field.number, -edge, edge][variant]
    if kind == F.TYPE_STRING:
        return [f"{field.name}-{field.number}", f"{field.name}-Grüße-東京-🙂", ""][variant]
    if kind == F.TYPE_BYTES:
        return [field.name.encode(), b"\xff\xfe\x80" + field.name.encode(), b""][variant]
    if kind == F.TYPE_ENUM:
        values = list(field.enum_type.values)
        nonzero = [v for v in values if v.number != 0] or values
        return [nonzero[0], nonzero[-1], values[-1]][variant].number
    raise ValueError(f"unsupported field type {kind} of {field.full_name}")


def _is_message(field: FieldDescriptor) -> bool:
    """A message field, delimited-encoded ones (proto2 groups, editions) included."""
    return field.type in (F.TYPE_MESSAGE, F.TYPE_GROUP)


def _is_map(field: FieldDescriptor) -> bool:
    return bool(
        field.type == F.TYPE_MESSAGE
        and field.is_repeated
        and field.message_type.GetOptions().map_entry
    )


def _set_field(
    message: Message,
    field: FieldDescriptor,
    sample: int,
    depth: int,
    stack: tuple[str, ...],
    max_depth: int,
) -> None:
    variant = sample % VARIANTS
    holder: Any = message.Extensions if field.is_extension else None
    key: Any = field if field.is_extension else field.name

    def get() -> Any:
        return holder[key] if holder is not None else getattr(message, key)

    if _is_message(field):
        if depth >= max_depth or (field.message_type.full_name in stack and not _is_map(field)):
            return
        if _is_map(field):
            _populate_map(message, field, sample, depth, stack, max_depth)
        elif field.is_repeated:
            container = get()
            # The edge variant writes one element: a list of one reads back as a single value.
            for offset in range(1 if variant == 1 else 2):
                populate(container.add(), sample + offset, depth + 1, stack, max_depth)
        else:
            child = get()
            child.SetInParent()
            populate(child, sample, depth + 1, stack, max_depth)
    elif variant == STRINGS_ONLY and field.type not in (F.TYPE_STRING, F.TYPE_BYTES):
        return
    elif field.is_repeated:
        values = [scalar_value(field, variant), scalar_value(field, (variant + 1) % STRINGS_ONLY)]
        get().extend(values[:1] if variant == 1 else values)
    elif holder is not None:
        holder[key] = scalar_value(field, variant)
    else:
        setattr(message, key, scalar_value(field, variant))


def populate(
    message: Message,
    sample: int,
    depth: int = 0,
    stack: tuple[str, ...] = (),
    max_depth: int = MAX_DEPTH,
) -> None:
    """Set every field of `message` (one arm per oneof) for sample number `sample`, and the
    extensions its pool knows; nested messages down to `max_depth` levels."""
    descriptor = message.DESCRIPTOR
    arm = sample // VARIANTS
    skipped = {
        field.name
        for oneof in real_oneofs(descriptor)
        for i, field in enumerate(oneof.fields)
        if i != arm % len(oneof.fields)
    }
    stack = (*stack, descriptor.full_name)
    for field in descriptor.fields:
        if field.name not in skipped:
            _set_field(message, field, sample, depth, stack, max_depth)
    if descriptor.extension_ranges:
        for extension in descriptor.file.pool.FindAllExtensions(descriptor):
            _set_field(message, extension, sample, depth, stack, max_depth)


def _populate_map(
    message: Message,
    field: FieldDescriptor,
    sample: int,
    depth: int,
    stack: tuple[str, ...],
    max_depth: int,
) -> None:
    entry = field.message_type
    key_field, value_field = entry.fields_by_name["key"], entry.fields_by_name["value"]
    container = getattr(message, field.name)
    for offset in range(2):
        key = scalar_value(key_field, (sample + offset) % STRINGS_ONLY)
        if _is_message(value_field):
            if value_field.message_type.full_name not in stack:
                populate(container[key], sample + offset, depth + 1, stack, max_depth)
            else:
                container[key].SetInParent()
        else:
            container[key] = scalar_value(value_field, (sample + offset) % STRINGS_ONLY)


def build_samples(cls: type[Message], max_depth: int = MAX_DEPTH) -> list[Message]:
    samples = []
    for sample in range(sample_count(cls.DESCRIPTOR)):
        message = cls()
        populate(message, sample, max_depth=max_depth)
        samples.append(message)
    return samples
