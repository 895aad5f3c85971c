"""An empty DOCSBOT_ALLOWED_HOSTS is refused at start-up, naming the variable, not silently accepted."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("value", ["", " , "])
def test_it_refuses_an_empty_allowed_hosts_setting(value, tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "manage.py"), "check"], capture_output=True, text=True,
                            timeout=120, check=False, cwd=ROOT,
                            env={**os.environ, "DOCSBOT_ALLOWED_HOSTS": value, "DOCSBOT_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(
        "docsbot: configuration error: DOCSBOT_ALLOWED_HOSTS: set but empty")
