"""Measurements that need a fresh process: a model alone with its own oneDNN
caches (latency), or a peak memory no earlier model has raised."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_json(module, *args, env=None):
    """Run `python -m module *args` from the repository root; returns its last
    line of output, parsed as JSON. `env`: variables added to this process's."""
    command = [sys.executable, "-m", module] + [str(arg) for arg in args]
    environment = dict(os.environ, **(env or {}))
    output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT,
                            env=environment).stdout
    return json.loads(output.strip().splitlines()[-1])
