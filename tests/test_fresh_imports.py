"""tests/fresh_imports.py: the modules a fresh interpreter loaded, whatever the code prints."""

from __future__ import annotations

import subprocess

import pytest
from fresh_imports import modules_loaded_by


def test_it_lists_what_the_code_imported_and_only_that():
    assert "wave" in modules_loaded_by("import wave")
    assert "wave" not in modules_loaded_by("print('wave')")  # printed output is not the list


def test_failing_code_raises_with_its_stderr():
    with pytest.raises(subprocess.CalledProcessError) as raised:
        modules_loaded_by("import fastscan_no_such_module")
    assert "No module named 'fastscan_no_such_module'" in raised.value.stderr
