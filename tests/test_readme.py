from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_blocks_compile(index: int) -> None:
    """Every Python example in the README is valid Python."""
    compile(BLOCKS[index], f"README block {index}", "exec")


async def test_readme_sandbox_example_runs() -> None:
    """The README's sandbox example runs and its exactly-once assertion holds."""
    [block] = [b for b in BLOCKS if "async def check_no_double_sends" in b]
    namespace: dict[str, Any] = {}
    exec(compile(block, "README sandbox example", "exec"), namespace)  # noqa: S102
    await namespace["check_no_double_sends"]()


def _bash_block(name: str) -> str:
    match = re.search(rf"<!-- {name} -->\n```bash\n(.*?)```", README.read_text(), re.DOTALL)
    assert match is not None, f"README.md lost its <!-- {name} --> command"
    return match.group(1).strip()


def test_readme_commands_install_from_a_checkout() -> None:
    """.ci/run runs these two blocks verbatim; both must work from a fresh clone."""
    first_run = _bash_block("first-run")
    assert first_run.startswith('pip install ".[cli]"')
    assert first_run.endswith("heymarket demo")
    assert "python -m pytest" in _bash_block("test-command")


def test_readme_fixture_example_passes_in_a_fresh_project(tmp_path: Path) -> None:
    """The pytest fixture example, copied into a project with no pytest configuration
    (pytest-asyncio's default strict mode), passes as written."""
    [block] = [b for b in BLOCKS if "async def test_welcome_text" in b]
    (tmp_path / "test_example.py").write_text(block)
    result = subprocess.run(  # noqa: S603 - our own interpreter, a fixed argument list
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


@pytest.mark.parametrize("function", ["text_customer", "recent", "other_resources"])
async def test_readme_sending_examples_run_against_the_sandbox(function: str) -> None:
    """The README's sending examples use the sandbox's ids, so they run against it as is."""
    from heymarket_async import HeymarketClient  # noqa: PLC0415
    from heymarket_async.sandbox import Sandbox  # noqa: PLC0415

    [block] = [b for b in BLOCKS if f"async def {function}(" in b]
    namespace: dict[str, Any] = {}
    exec(compile(block, f"README {function}", "exec"), namespace)  # noqa: S102
    async with Sandbox() as sandbox, HeymarketClient(**sandbox.client_kwargs()) as hm:
        await namespace[function](hm)


async def test_readme_scaling_out_example_runs_against_redis_and_the_sandbox(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The "Scaling out" example, with its Redis URL pointed at a real local server and
    the environment at the sandbox, sends every request exactly once."""
    from heymarket_async import SendMessage  # noqa: PLC0415
    from heymarket_async.sandbox import Sandbox  # noqa: PLC0415

    [block] = [b for b in BLOCKS if "async def send_shard(" in b]
    namespace: dict[str, Any] = {}
    exec(compile(block, "README scaling out", "exec"), namespace)  # noqa: S102
    namespace["REDIS"] = redis_url
    async with Sandbox(dedupe_individual_sends=False) as sandbox:
        monkeypatch.setenv("HEYMARKET_BASE_URL", sandbox.url)
        monkeypatch.setenv("HEYMARKET_SECRET_ID", sandbox.secret_id)
        monkeypatch.setenv("HEYMARKET_SECRET_KEY", sandbox.secret_key)
        monkeypatch.delenv("HEYMARKET_API_KEY", raising=False)
        phones = [f"1510555{i:04d}" for i in range(20)]
        requests = [
            SendMessage(
                inbox_id=sandbox.default_inbox_id,
                creator_id=sandbox.default_creator_id,
                phone_number=phone,
                text="Hi",
            )
            for phone in phones
        ]
        await namespace["send_shard"](requests, 3)
        await namespace["send_shard"](requests, 3)  # a rerun sends nothing
        assert sandbox.ledger_counts_by_recipient() == dict.fromkeys(phones, 1)
