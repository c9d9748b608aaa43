"""``livelens eval``: print the quality tables of every analyser.

A thin click layer over :mod:`livelens.analysis.evaluate`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from livelens.analysis.evaluate import SECTIONS
from livelens.analysis.evaluation.datasets import default_data_dir


@click.command("eval")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=default_data_dir,
    show_default="$LIVELENS_DATA_DIR or ../shared/data",
    help="Folder holding dynasent/, meld/, tweeteval-sentiment/, banking77/, twacs/, dialogsum/, pii-generated/.",
)
@click.option(
    "--only",
    type=click.Choice(SECTIONS),
    multiple=True,
    help="Evaluate only this analyser (repeatable). Default: all.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most N examples per data set (quick run).")
@click.option(
    "--pii-set",
    default="dev",
    show_default=True,
    help="File name (without .jsonl) under pii-generated/ to score redaction on.",
)
@click.option(
    "--cases-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    show_default="./tests/data",
    help="Folder with the purpose-written cases (conversational_pii/, turn_cases/) of a source checkout.",
)
@click.option(
    "--pii-seed",
    "pii_seeds",
    type=int,
    multiple=True,
    help="Seed of a presidio-evaluator set to generate (repeatable). Default: five fresh seeds.",
)
@click.option(
    "--pii-python",
    default=None,
    help="Python interpreter that has presidio-evaluator, if this one has not (livelens[eval]).",
)
def eval_command(
    data_dir: Path,
    only: tuple[str, ...],
    limit: int | None,
    pii_set: str,
    cases_dir: Path | None,
    pii_seeds: tuple[int, ...],
    pii_python: str | None,
) -> None:
    """Measure sentiment, issues, PII redaction and summaries on the public data sets."""
    from livelens.analysis.evaluate import run

    if not data_dir.is_dir():
        raise click.ClickException(f"data directory {data_dir} not found; pass --data-dir or set LIVELENS_DATA_DIR")
    started = time.time()
    sections = only or SECTIONS
    click.echo(f"# livelens eval ({', '.join(sections)}; data {data_dir}{f'; limit {limit}' if limit else ''})\n")
    for section in sections:
        tables = run(
            data_dir, (section,), limit, pii_set, cases_dir=cases_dir, pii_seeds=pii_seeds or None,
            pii_python=pii_python,
        )
        for table in tables:
            click.echo(table.render())
            click.echo("")
            sys.stdout.flush()
    click.echo(f"finished in {time.time() - started:.0f} s")
