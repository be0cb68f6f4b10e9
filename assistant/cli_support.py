"""What every command shares: the application context, JSON output and progress reporting."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from assistant.container import Container
from assistant.settings import Settings


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


_STAGES = {
    "download": "下載 downloading",
    "analyse": "斷詞 analysing",
    "embed": "向量 embedding",
    "index": "索引 indexing",
}


@contextmanager
def progress() -> Iterator[Any]:
    """Progress of long work on stderr: a bar on a terminal, a line per tenth in a log."""
    if not sys.stderr.isatty():
        shown: dict[str, int] = {}

        def log(stage: str, done: int, total: int) -> None:
            tenth = done * 10 // max(total, 1)
            if shown.get(stage, -1) < tenth:
                shown[stage] = tenth
                click.echo(f"{_STAGES.get(stage, stage)} {done}/{total}", err=True)

        yield log
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    tasks: dict[str, Any] = {}
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(_STAGES.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


class AppContext:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._container: Container | None = None

    @property
    def container(self) -> Container:
        if self._container is None:
            self._container = Container(self.settings)
        return self._container

    def close(self) -> None:
        if self._container is not None:
            self._container.close()


pass_app = click.make_pass_decorator(AppContext)
