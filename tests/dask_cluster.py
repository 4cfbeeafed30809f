"""A real Dask cluster on loopback for tests: a ``dask scheduler`` and named workers.

Each worker runs without a nanny (killing its process kills the worker) with one thread
and its own ``--local-directory``, in the environment the test gives it (the index
credentials, for instance). Used by tests/e2e/test_dask_builds.py.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.devpi_fixtures import free_port

DASK = Path(sys.executable).parent / "dask"


@dataclass
class Cluster:
    """A scheduler and named workers on loopback; :meth:`stop` ends them all."""

    root: Path
    env: dict[str, str]
    address: str = ""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start_scheduler(self) -> None:
        port = free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        # One task per single-thread worker at a time: two ready builds go to two workers.
        env = {**self.env, "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0"}
        self._spawn("scheduler", [str(DASK), "scheduler", "--host", "127.0.0.1",
                                  "--port", str(port), "--no-dashboard"], env)  # fmt: skip

    def start_worker(self, name: str) -> None:
        local = self.local_directory(name)
        local.mkdir(parents=True, exist_ok=True)
        # --no-nanny: killing the worker's process kills the worker (a nanny would
        # restart it), so its task must go to the other one.
        self._spawn(name, [str(DASK), "worker", self.address, "--name", name, "--nthreads", "1",
                           "--no-nanny", "--no-dashboard", "--local-directory", str(local)],
                    self.env)  # fmt: skip

    def local_directory(self, name: str) -> Path:
        return self.root / name

    def wait_for_workers(self, count: int) -> None:
        import distributed

        client_type: Any = distributed.Client  # untyped in distributed
        with client_type(self.address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(count, timeout=120)

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self) -> None:
        for name in [*sorted(set(self.processes) - {"scheduler"}), "scheduler"]:
            process = self.processes.pop(name, None)
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        log = (self.root / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.root
        )
