"""`lakehouse up/down/status/env` as a user runs them: separate processes, a real emulator."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from lakehouse.local.aws.embedded import MARKER


def _cli(*args: str, home: Path, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAKEHOUSE_"))}
    env.update({"LAKEHOUSE_HOME": str(home), "LAKEHOUSE_STAGE": "clitest", "COLUMNS": "200",
                "LAKEHOUSE_MOTO_PERSIST": "true"})  # the journal's path names the home: _our_emulators finds it
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "lakehouse.local.cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def _our_emulators(home: Path) -> list[int]:
    """Live emulator processes of ``home`` (their command line names its journal): emulators other tests start
    meanwhile, on the other test process, are not counted."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        command = " ".join(proc.info["cmdline"] or [])
        try:
            if MARKER in command and str(home) in command and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)
        except psutil.NoSuchProcess:
            continue
    return found


def test_up_env_status_down_round_trip(tmp_path: Path) -> None:
    up = _cli("up", "--shards", "1", home=tmp_path)
    assert up.returncode == 0, up.stderr
    assert "started" in up.stdout and "customer-lakehouse-clitest-events" in up.stdout
    state = json.loads((tmp_path / "run" / "aws.json").read_text())
    try:
        assert state["pid"] in _our_emulators(tmp_path)

        again = _cli("up", home=tmp_path)
        assert "already running" in again.stdout and "created" not in again.stdout

        exports = _cli("env", home=tmp_path).stdout
        assert f"export AWS_ENDPOINT_URL={state['endpoint']}" in exports

        status = _cli("status", home=tmp_path).stdout
        assert state["endpoint"] in status and "customer_lakehouse_clitest" in status
    finally:
        down = _cli("down", home=tmp_path)
    assert down.returncode == 0 and f"pid {state['pid']}" in down.stdout and "kept no journal" not in down.stdout
    assert _our_emulators(tmp_path) == []
    assert "no embedded AWS" in _cli("down", home=tmp_path).stdout


def test_down_says_an_emulator_without_a_journal_loses_its_state(tmp_path: Path) -> None:
    """Seen failing before: `down --help` said the state comes back on the next `up`, and `down` said nothing,
    for an emulator started without a journal (a review)."""
    home = tmp_path / "home"
    up = _cli("up", "--no-persist", "--shards", "1", home=home)
    assert up.returncode == 0, up.stderr
    down = _cli("down", home=home)
    assert down.returncode == 0 and "kept no journal: its streams, tables and buckets are gone" in " ".join(
        down.stdout.split())
    assert "only when it kept a journal" in " ".join(_cli("down", "--help", home=home).stdout.split())


def test_status_names_a_crashed_emulator_and_up_brings_it_back_with_its_state(tmp_path: Path) -> None:
    """Seen failing before ``status`` read the recorded state: after the SIGKILL it printed "endpoint: AWS (no
    endpoint override)", as if the home had never had an emulator. The other steps' faults were a review's."""
    assert _cli("up", "--shards", "1", home=tmp_path).returncode == 0
    state = json.loads((tmp_path / "run" / "aws.json").read_text())
    try:
        os.kill(state["pid"], signal.SIGKILL)
        psutil.Process(state["pid"]).wait(10)
        status = _cli("status", home=tmp_path)
        assert status.returncode == 0, status.stderr
        said = " ".join(status.stdout.split())  # Rich wraps long lines
        assert f"started at {state['endpoint']} (pid {state['pid']}) is not running" in said
        assert "`lakehouse up` starts it again, with the state its journal kept" in said
        # a command needing AWS refuses rather than talk to AWS itself (seen: keys list tried kinesis.amazonaws.com)
        keys = _cli("keys", "list", home=tmp_path)
        assert keys.returncode == 2 and "is not running: `lakehouse up` starts it again" in " ".join(
            keys.stderr.split()), keys.stderr
        # plain `up`, without --persist, brings the journal back (seen: it started empty beside the journal)
        again = _cli("up", home=tmp_path, env_extra={"LAKEHOUSE_MOTO_PERSIST": "false"})
        assert again.returncode == 0, again.stderr
        restarted = json.loads((tmp_path / "run" / "aws.json").read_text())
        assert restarted["endpoint"] == state["endpoint"] and restarted["pid"] != state["pid"]
        assert "created" not in again.stdout  # every resource came back with the journal
        assert "not running" not in _cli("status", home=tmp_path).stdout
        # a clean stop and start comes back on the same port too (seen: a new port, a running `serve` stuck on 503)
        assert _cli("down", home=tmp_path).returncode == 0
        refused = _cli("up", "--no-persist", home=tmp_path)
        assert refused.returncode == 2 and "`lakehouse up` brings it back" in " ".join(
            refused.stderr.split())
        assert _cli("up", home=tmp_path).returncode == 0
        assert json.loads((tmp_path / "run" / "aws.json").read_text())["endpoint"] == state["endpoint"]
    finally:
        _cli("down", "--reset", home=tmp_path)
    assert _our_emulators(tmp_path) == []


def test_up_provisions_on_an_existing_endpoint_without_starting_an_emulator(moto_endpoint, tmp_path) -> None:
    result = _cli("up", home=tmp_path, env_extra={"AWS_ENDPOINT_URL": moto_endpoint,
                                                  "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"})
    assert result.returncode == 0, result.stderr
    assert f"using AWS_ENDPOINT_URL={moto_endpoint}" in result.stdout
    assert _our_emulators(tmp_path) == []
    assert not (tmp_path / "run" / "aws.json").exists()


def test_status_in_a_home_without_an_emulator_names_the_home(tmp_path: Path) -> None:
    """The default home is ``.lakehouse`` in the working directory: run from another directory, ``status`` said only
    "endpoint: AWS (no endpoint override)", as if the running demo's emulator were gone (a new user's report; seen
    failing before the home was named)."""
    home = tmp_path / "elsewhere"
    said = " ".join(_cli("status", home=home).stdout.split())
    assert f"no embedded AWS was started in the home {home}" in said and "LAKEHOUSE_HOME" in said
    assert f"home {home}" in said


def test_a_misspelt_setting_is_named_with_the_right_one_and_the_command_goes_on(tmp_path: Path) -> None:
    """Seen failing before ``load_settings`` checked the environment: the misspelt variable was ignored, silently."""
    result = _cli("status", home=tmp_path, env_extra={"LAKEHOUSE_BATCH__WRITE_TASK_ROW": "500000"})
    assert result.returncode == 0, result.stderr
    assert ("LAKEHOUSE_BATCH__WRITE_TASK_ROW is not a lakehouse setting and changes nothing (did you mean "
            "LAKEHOUSE_BATCH__WRITE_TASK_ROWS?)") in " ".join(result.stderr.split())
    assert "not a lakehouse setting" not in _cli("status", home=tmp_path).stderr


def test_env_without_a_running_emulator_is_a_clear_error(tmp_path: Path) -> None:
    result = _cli("env", home=tmp_path)
    assert result.returncode == 2
    assert "lakehouse up" in result.stderr and "Traceback" not in result.stderr


def test_bad_configuration_is_reported_without_traceback(tmp_path: Path) -> None:
    result = _cli("status", home=tmp_path, env_extra={"LAKEHOUSE_STAGE": "Not Valid"})
    assert result.returncode == 2
    assert "stage" in result.stderr and "Traceback" not in result.stderr
