import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MemorySpace(_message.Message):
    __slots__ = ("id", "created_at", "persistence_path", "memory_count")
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    PERSISTENCE_PATH_FIELD_NUMBER: _ClassVar[int]
    MEMORY_COUNT_FIELD_NUMBER: _ClassVar[int]
    id: str
    created_at: _timestamp_pb2.Timestamp
    persistence_path: str
    memory_count: int
    def __init__(self, id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., persistence_path: _Optional[str] = ..., memory_count: _Optional[int] = ...) -> None: ...

class CreateSpaceRequest(_message.Message):
    __slots__ = ("memory_space_id",)
    MEMORY_SPACE_ID_FIELD_NUMBER: _ClassVar[int]
    memory_space_id: str
    def __init__(self, memory_space_id: _Optional[str] = ...) -> None: ...

class CreateSpaceResponse(_message.Message):
    __slots__ = ("space", "created")
    SPACE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    space: MemorySpace
    created: bool
    def __init__(self, space: _Optional[_Union[MemorySpace, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetSpaceRequest(_message.Message):
    __slots__ = ("memory_space_id",)
    MEMORY_SPACE_ID_FIELD_NUMBER: _ClassVar[int]
    memory_space_id: str
    def __init__(self, memory_space_id: _Optional[str] = ...) -> None: ...

class GetSpaceResponse(_message.Message):
    __slots__ = ("space",)
    SPACE_FIELD_NUMBER: _ClassVar[int]
    space: MemorySpace
    def __init__(self, space: _Optional[_Union[MemorySpace, _Mapping]] = ...) -> None: ...

class ListSpacesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSpacesResponse(_message.Message):
    __slots__ = ("spaces",)
    SPACES_FIELD_NUMBER: _ClassVar[int]
    spaces: _containers.RepeatedCompositeFieldContainer[MemorySpace]
    def __init__(self, spaces: _Optional[_Iterable[_Union[MemorySpace, _Mapping]]] = ...) -> None: ...

class DeleteSpaceRequest(_message.Message):
    __slots__ = ("memory_space_id",)
    MEMORY_SPACE_ID_FIELD_NUMBER: _ClassVar[int]
    memory_space_id: str
    def __init__(self, memory_space_id: _Optional[str] = ...) -> None: ...

class DeleteSpaceResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    def __init__(self, deleted: _Optional[bool] = ...) -> None: ...
