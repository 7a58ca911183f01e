import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StreamEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STREAM_EVENT_TYPE_UNSPECIFIED: _ClassVar[StreamEventType]
    STREAM_EVENT_TYPE_REMEMBERED: _ClassVar[StreamEventType]
    STREAM_EVENT_TYPE_FORGOTTEN: _ClassVar[StreamEventType]
    STREAM_EVENT_TYPE_EXPERIENCED: _ClassVar[StreamEventType]
STREAM_EVENT_TYPE_UNSPECIFIED: StreamEventType
STREAM_EVENT_TYPE_REMEMBERED: StreamEventType
STREAM_EVENT_TYPE_FORGOTTEN: StreamEventType
STREAM_EVENT_TYPE_EXPERIENCED: StreamEventType

class Memory(_message.Message):
    __slots__ = ("id", "content", "confidence", "embedding", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    content: str
    confidence: float
    embedding: _containers.RepeatedScalarFieldContainer[float]
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., content: _Optional[str] = ..., confidence: _Optional[float] = ..., embedding: _Optional[_Iterable[float]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Episode(_message.Message):
    __slots__ = ("id", "what", "when", "where", "who")
    ID_FIELD_NUMBER: _ClassVar[int]
    WHAT_FIELD_NUMBER: _ClassVar[int]
    WHEN_FIELD_NUMBER: _ClassVar[int]
    WHERE_FIELD_NUMBER: _ClassVar[int]
    WHO_FIELD_NUMBER: _ClassVar[int]
    id: str
    what: str
    when: _timestamp_pb2.Timestamp
    where: str
    who: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., what: _Optional[str] = ..., when: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., where: _Optional[str] = ..., who: _Optional[_Iterable[str]] = ...) -> None: ...

class Cue(_message.Message):
    __slots__ = ("id", "content_contains", "threshold")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_CONTAINS_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    id: str
    content_contains: str
    threshold: float
    def __init__(self, id: _Optional[str] = ..., content_contains: _Optional[str] = ..., threshold: _Optional[float] = ...) -> None: ...

class RememberRequest(_message.Message):
    __slots__ = ("memory", "episode", "auto_link")
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    EPISODE_FIELD_NUMBER: _ClassVar[int]
    AUTO_LINK_FIELD_NUMBER: _ClassVar[int]
    memory: Memory
    episode: Episode
    auto_link: bool
    def __init__(self, memory: _Optional[_Union[Memory, _Mapping]] = ..., episode: _Optional[_Union[Episode, _Mapping]] = ..., auto_link: _Optional[bool] = ...) -> None: ...

class RememberResponse(_message.Message):
    __slots__ = ("memory_id", "confidence")
    MEMORY_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    memory_id: str
    confidence: float
    def __init__(self, memory_id: _Optional[str] = ..., confidence: _Optional[float] = ...) -> None: ...

class RecallRequest(_message.Message):
    __slots__ = ("cue", "max_results")
    CUE_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    cue: Cue
    max_results: int
    def __init__(self, cue: _Optional[_Union[Cue, _Mapping]] = ..., max_results: _Optional[int] = ...) -> None: ...

class RecallResponse(_message.Message):
    __slots__ = ("memories", "total_matched")
    MEMORIES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MATCHED_FIELD_NUMBER: _ClassVar[int]
    memories: _containers.RepeatedCompositeFieldContainer[Memory]
    total_matched: int
    def __init__(self, memories: _Optional[_Iterable[_Union[Memory, _Mapping]]] = ..., total_matched: _Optional[int] = ...) -> None: ...

class ForgetRequest(_message.Message):
    __slots__ = ("memory_id", "pattern", "soft_delete")
    MEMORY_ID_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    SOFT_DELETE_FIELD_NUMBER: _ClassVar[int]
    memory_id: str
    pattern: Cue
    soft_delete: bool
    def __init__(self, memory_id: _Optional[str] = ..., pattern: _Optional[_Union[Cue, _Mapping]] = ..., soft_delete: _Optional[bool] = ...) -> None: ...

class ForgetResponse(_message.Message):
    __slots__ = ("memories_affected",)
    MEMORIES_AFFECTED_FIELD_NUMBER: _ClassVar[int]
    memories_affected: int
    def __init__(self, memories_affected: _Optional[int] = ...) -> None: ...

class ExperienceRequest(_message.Message):
    __slots__ = ("episode",)
    EPISODE_FIELD_NUMBER: _ClassVar[int]
    episode: Episode
    def __init__(self, episode: _Optional[_Union[Episode, _Mapping]] = ...) -> None: ...

class ExperienceResponse(_message.Message):
    __slots__ = ("episode_id",)
    EPISODE_ID_FIELD_NUMBER: _ClassVar[int]
    episode_id: str
    def __init__(self, episode_id: _Optional[str] = ...) -> None: ...

class IntrospectRequest(_message.Message):
    __slots__ = ("include_metrics",)
    INCLUDE_METRICS_FIELD_NUMBER: _ClassVar[int]
    include_metrics: bool
    def __init__(self, include_metrics: _Optional[bool] = ...) -> None: ...

class IntrospectResponse(_message.Message):
    __slots__ = ("server_version", "schema_version", "memory_count")
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    MEMORY_COUNT_FIELD_NUMBER: _ClassVar[int]
    server_version: str
    schema_version: str
    memory_count: int
    def __init__(self, server_version: _Optional[str] = ..., schema_version: _Optional[str] = ..., memory_count: _Optional[int] = ...) -> None: ...

class StreamRequest(_message.Message):
    __slots__ = ("event_types",)
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    event_types: _containers.RepeatedScalarFieldContainer[StreamEventType]
    def __init__(self, event_types: _Optional[_Iterable[_Union[StreamEventType, str]]] = ...) -> None: ...

class StreamResponse(_message.Message):
    __slots__ = ("event_type", "memory", "timestamp", "sequence")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    event_type: StreamEventType
    memory: Memory
    timestamp: _timestamp_pb2.Timestamp
    sequence: int
    def __init__(self, event_type: _Optional[_Union[StreamEventType, str]] = ..., memory: _Optional[_Union[Memory, _Mapping]] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sequence: _Optional[int] = ...) -> None: ...

class StreamingRememberRequest(_message.Message):
    __slots__ = ("memory",)
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    memory: Memory
    def __init__(self, memory: _Optional[_Union[Memory, _Mapping]] = ...) -> None: ...

class StreamingRememberResponse(_message.Message):
    __slots__ = ("memory_ids", "count")
    MEMORY_IDS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    memory_ids: _containers.RepeatedScalarFieldContainer[str]
    count: int
    def __init__(self, memory_ids: _Optional[_Iterable[str]] = ..., count: _Optional[int] = ...) -> None: ...

class MemoryFlowRequest(_message.Message):
    __slots__ = ("remember", "recall")
    REMEMBER_FIELD_NUMBER: _ClassVar[int]
    RECALL_FIELD_NUMBER: _ClassVar[int]
    remember: RememberRequest
    recall: RecallRequest
    def __init__(self, remember: _Optional[_Union[RememberRequest, _Mapping]] = ..., recall: _Optional[_Union[RecallRequest, _Mapping]] = ...) -> None: ...

class MemoryFlowResponse(_message.Message):
    __slots__ = ("remember", "recall")
    REMEMBER_FIELD_NUMBER: _ClassVar[int]
    RECALL_FIELD_NUMBER: _ClassVar[int]
    remember: RememberResponse
    recall: RecallResponse
    def __init__(self, remember: _Optional[_Union[RememberResponse, _Mapping]] = ..., recall: _Optional[_Union[RecallResponse, _Mapping]] = ...) -> None: ...
