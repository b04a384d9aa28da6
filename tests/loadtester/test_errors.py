"""Every error the load tester raises on purpose has one root, LoadtesterError."""

from __future__ import annotations

import pytest

from loadtester.errors import LoadtesterError
from loadtester.gates import GateStoreError
from loadtester.payload import PayloadError, decode_payload
from loadtester.settings import SettingsError, parse_settings
from loadtester.tasks import TaskRequestError


@pytest.mark.parametrize("error", [PayloadError, TaskRequestError, GateStoreError, SettingsError])
def test_every_error_is_a_loadtester_error(error: type[Exception]) -> None:
    assert issubclass(error, LoadtesterError)


def test_raised_errors_can_be_caught_at_the_root() -> None:
    with pytest.raises(LoadtesterError):
        decode_payload(b"[]")
    with pytest.raises(LoadtesterError):
        parse_settings(["-port=x"], {})


def test_value_errors_stay_value_errors() -> None:
    assert issubclass(PayloadError, ValueError)
    assert issubclass(SettingsError, ValueError)
