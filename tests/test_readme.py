from __future__ import annotations

import re
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
