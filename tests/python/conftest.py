"""Shared fixtures of the Python module's tests: the example dump, the built CLI, CSV helpers.

Run by CTest (`make test`) with PYTHONPATH=<build>/python, EXITPLAN_BIN and EXITPLAN_SOURCE_DIR
set; by hand: PYTHONPATH=build/python /usr/bin/python3 -m pytest tests/python
"""
import csv
import io
import os
import pathlib
import subprocess

import numpy as np
import pytest

import exitplan

ROOT = pathlib.Path(os.environ.get("EXITPLAN_SOURCE_DIR", pathlib.Path(__file__).parents[2]))
EXAMPLE = ROOT / "data" / "example"
PROFILE = EXAMPLE / "profile.yaml"
BIN = pathlib.Path(os.environ.get("EXITPLAN_BIN", ROOT / "build" / "exitplan"))


def cli(*args, check=True):
    """Runs the built exitplan binary; returns its stdout."""
    p = subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True, cwd=ROOT)
    if check and p.returncode != 0:
        raise AssertionError(f"exitplan {' '.join(map(str, args))}: status {p.returncode}\n{p.stderr}")
    return p


def csv_rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def without(rows, *columns):
    return [{k: v for k, v in r.items() if k not in columns} for r in rows]


@pytest.fixture(scope="session")
def arrays():
    return {name: np.load(EXAMPLE / f"{name}.npy")
            for name in ("val_logits", "val_labels", "test_logits", "test_labels")}


@pytest.fixture(scope="session")
def dump(arrays):
    return exitplan.Dump.from_arrays(arrays["val_logits"], arrays["val_labels"],
                                     arrays["test_logits"], arrays["test_labels"], name="example")


@pytest.fixture(scope="session")
def file_dump():
    return exitplan.load_dump(str(EXAMPLE))


@pytest.fixture(scope="session")
def cpu():
    return exitplan.load_profile(str(PROFILE), target="cpu-1thread")


def pytest_collection_modifyitems(session, config, items):
    # Under CTest, a run that collects (almost) nothing must not pass: the suite has dozens.
    if "EXITPLAN_BIN" in os.environ and not config.option.keyword and len(items) < 20:
        raise pytest.UsageError(f"only {len(items)} Python tests collected (expected >= 20)")
