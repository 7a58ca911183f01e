from __future__ import annotations

import pytest

from tests.server.ids import MALFORMED_IDS, VALID_IDS
from toolkit.server.space_id import SPACE_ID_RULE, InvalidSpaceId, MemorySpaceId


def test_there_are_at_least_twenty_malformed_ids() -> None:
    assert len(set(MALFORMED_IDS)) >= 20


@pytest.mark.parametrize("value", MALFORMED_IDS)
def test_malformed_id_is_refused_with_the_rule(value: str) -> None:
    with pytest.raises(InvalidSpaceId) as caught:
        MemorySpaceId(value)
    assert SPACE_ID_RULE in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("value", VALID_IDS)
def test_valid_id_is_kept_untouched(value: str) -> None:
    space = MemorySpaceId(value)
    assert space == value
    assert isinstance(space, MemorySpaceId)
    assert MemorySpaceId(space) is space


def test_a_space_id_hashes_like_its_text() -> None:
    assert {MemorySpaceId("team-a"): 1}.get("team-a") == 1
