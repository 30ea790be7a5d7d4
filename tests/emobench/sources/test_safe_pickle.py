"""The restricted unpickler: plain data loads, code never runs."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from emollm_plugin.emobench.sources.base import SourceError
from emollm_plugin.emobench.sources.safe_pickle import UnsafePickleError, load_restricted

PLAIN = {
    "train": [1, 2, 3],
    "dev": (4, 5),
    "test": {6, 7},
    10837: {"punchline_sentence": "so I said", "context_sentences": ["a", "b"], "x": frozenset({1.5})},
    "flags": [True, False, None],
    "bytes": b"\x00\x01",
}


class _Exploit:
    """Pickles into "call os.system(command)" when loaded by pickle.load."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_plain_containers_load_with_every_protocol(tmp_path, protocol):
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps(PLAIN, protocol=protocol))
    assert load_restricted(path) == PLAIN


def test_a_pickle_that_would_run_a_command_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "humor_label_sdk.pkl"
    path.write_bytes(pickle.dumps({1: _Exploit(f"touch {marker}")}))
    for allow_numpy in (False, True):
        with pytest.raises(UnsafePickleError) as info:
            load_restricted(path, allow_numpy=allow_numpy)
        message = str(info.value)
        assert str(path) in message and "system" in message and "download it again" in message
    assert not marker.exists(), "the command must never run"


def test_other_globals_are_refused_too(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(SourceError("x")))  # an arbitrary class instance
    with pytest.raises(UnsafePickleError, match="SourceError"):
        load_restricted(path)


def test_numpy_only_when_allowed_and_never_as_a_carrier(tmp_path):
    path = tmp_path / "intervals.pkl"
    data = {7: {"punchline_intervals": np.array([[0.0, 0.4], [0.4, 0.9]]), "label": np.int64(1)}}
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(UnsafePickleError, match="numpy"):
        load_restricted(path)
    loaded = load_restricted(path, allow_numpy=True)
    np.testing.assert_array_equal(loaded[7]["punchline_intervals"], data[7]["punchline_intervals"])
    assert loaded[7]["label"] == 1

    marker = tmp_path / "pwned"
    carrier = np.array([_Exploit(f"touch {marker}")], dtype=object)
    path.write_bytes(pickle.dumps(carrier))
    with pytest.raises(UnsafePickleError, match="system"):
        load_restricted(path, allow_numpy=True)
    assert not marker.exists()


def test_python2_style_bytes_fall_back_to_latin1(tmp_path):
    # Python 2 pickles store str as bytes (SHORT_BINSTRING); non-ASCII needs the Latin-1 retry.
    path = tmp_path / "py2.pkl"
    payload = "café".encode("latin1")
    body = b"\x80\x02]q\x00U" + bytes([len(payload)]) + payload + b"q\x01a."
    path.write_bytes(body)
    assert load_restricted(path) == ["café"]


def test_a_truncated_file_is_a_clear_error(tmp_path):
    path = tmp_path / "data_folds.pkl"
    path.write_bytes(pickle.dumps({"train": [1, 2, 3]})[:-3])
    with pytest.raises(SourceError, match="data_folds.pkl: not a readable pickle"):
        load_restricted(path)
