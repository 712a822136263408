"""The repository itself: nothing half-merged lands."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_no_merge_conflict_markers_in_tracked_files():
    try:
        files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    marker = re.compile(r"^(<{7}|={7}|>{7})( |$)", re.M)
    offenders = [name for name in files
                 if (ROOT / name).is_file() and marker.search((ROOT / name).read_text(errors="ignore"))]
    assert not offenders, f"merge conflict markers in {offenders}"
