"""`certhub licences issue --csv` and `certhub licences import`: bulk issue
and licence aggregation (归集) from CSV, XLSX or an SQL query, with a
progress bar, a per-row error report and a resumable run journal.

Composition only: adapters read and map the rows, the registry's importer
issues and changes licences; this module wires them to settings and a terminal.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from adapters.errors import AdapterError
from adapters.imports import (
    ErrorReport,
    ImportMapping,
    ImportSource,
    ImportSummary,
    RowMapper,
    csv_source,
    default_mapping,
    load_mapping,
    run_import,
    sql_source,
    xlsx_source,
)
from adapters.imports.runner import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE
from adapters.imports.runner import Progress as ProgressCallback
from catalog.errors import CatalogError
from catalog.service import licence_types
from certhub.cli import context
from certhub.db import create_db_engine, create_sessionmaker, current_revision
from certhub.settings import Settings
from identity.errors import IdentityError
from registry.errors import RegistryError
from registry.service.authority import DEFAULT_SEAL, Actor, SealChoice
from registry.service.bulk import LicenceImporter
from registry.service.issue import Signer
from signing.errors import SigningError

DEFAULT_SYSTEM = "bulk-issue"
EXIT_ROWS_FAILED = 1
EXIT_UNUSABLE = 2
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class ImportJob:
    """One import as the command line describes it."""

    source: Callable[[], ImportSource]  # opened lazily: reading a large file takes a while
    mapping: ImportMapping | None  # None: the CSV header names the licence fields
    type_code: str
    issuer: str
    system: str
    operator: str
    batch_size: int = DEFAULT_BATCH_SIZE
    seal: SealChoice = DEFAULT_SEAL


def run_job(config: Settings, job: ImportJob, *, report: ErrorReport,
            progress: ProgressCallback | None = None) -> ImportSummary:
    """Run (or resume) an import against the configured database."""
    engine = create_db_engine(config.effective_database_url, run_jobs=True)
    try:
        if current_revision(engine) is None:
            context.fail(context.no_schema_message(config), code=EXIT_UNUSABLE)
        sessions = create_sessionmaker(engine)
        with sessions() as session:
            licence_type = licence_types.get_or_raise(session=session, code=job.type_code)
        system = job.mapping.source.system if job.mapping is not None else job.system

        def mapper_for(columns: tuple[str, ...]) -> RowMapper:
            mapping = job.mapping or default_mapping(columns=columns, licence_type=licence_type, system=system)
            return RowMapper(mapping, licence_type=licence_type, columns=columns)

        sink = LicenceImporter(
            actor=Actor(department_code=job.issuer, operator=job.operator[:100]), type_code=job.type_code,
            source_system=system, signer=Signer(registry_id=config.registry_id, key_secret=config.secret_bytes()),
            seal=job.seal,
        )
        return run_import(sessions=sessions, source=job.source(), mapper_for=mapper_for, sink=sink,
                          type_code=job.type_code, issuer_code=job.issuer, batch_size=job.batch_size, report=report,
                          progress=progress)
    finally:
        engine.dispose()


class _RateColumn(ProgressColumn):
    def render(self, task) -> Text:
        speed = task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "… rows/s", style="progress.data.speed")


def _execute(job: ImportJob, *, errors: Path | None) -> None:
    config = context.settings()
    console = Console(stderr=True)
    echo = None if errors is not None else (lambda line: console.print(line, markup=False, highlight=False))
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
                        TimeElapsedColumn(), console=console)
    try:
        with ErrorReport(errors, echo=echo) as report, progress:
            task = progress.add_task("importing", total=None)
            summary = run_job(config, job, report=report,
                              progress=lambda done, total: progress.update(task, completed=done, total=total))
    except KeyboardInterrupt:
        context.fail("interrupted; run the same command again to resume", code=EXIT_INTERRUPTED)
    except (AdapterError, RegistryError, CatalogError, IdentityError, SigningError) as exc:
        context.fail(f"{getattr(exc, 'code', 'error')}: {exc}", code=EXIT_UNUSABLE)
    _print_summary(summary, errors=errors)
    if summary.failed:
        raise typer.Exit(EXIT_ROWS_FAILED)


def _print_summary(summary: ImportSummary, *, errors: Path | None) -> None:
    # This attempt's rows, time and counts; a resumed run adds the run's
    # totals on a line of their own, never mixed into this attempt's rate.
    attempt = summary.attempt
    rate = attempt.rows / attempt.seconds if attempt.seconds > 0 else 0.0
    resumed = f" (resumed after row {summary.resumed_from:,})" if summary.resumed_from else ""
    typer.echo(f"run {summary.run_key}: {summary.status}{resumed}; {attempt.rows:,} source rows in "
               f"{attempt.seconds:.1f} s ({rate:,.0f} rows/s)")
    typer.echo(f"issued {attempt.issued:,}, changed {attempt.changed:,}, unchanged {attempt.unchanged:,}, "
               f"failed {attempt.failed:,}")
    if summary.resumed_from:
        typer.echo(f"the whole run: {summary.done:,} source rows; issued {summary.issued:,}, changed "
                   f"{summary.changed:,}, unchanged {summary.unchanged:,}, failed {summary.failed:,}")
    if summary.failed:
        where = f"see {errors}" if errors is not None else "pass --errors REPORT.csv for the full list"
        typer.echo(f"{summary.failed:,} row(s) failed; {where}", err=True)


def _operator(value: str | None) -> str:
    if value:
        return value
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _mapping(path: Path | None) -> ImportMapping | None:
    try:
        return load_mapping(path) if path is not None else None
    except AdapterError as exc:
        context.fail(str(exc), code=EXIT_UNUSABLE)
        raise  # unreachable


TypeOption = typer.Option(..., "--type", "-t", help="Licence type code (证照类型代码)")
IssuerOption = typer.Option(..., "--issuer", "-i", help="The issuing department's USCC")
ErrorsOption = typer.Option(None, "--errors", help="Write the per-row error report (CSV) here", dir_okay=False)
BatchOption = typer.Option(DEFAULT_BATCH_SIZE, "--batch-size", min=1, max=MAX_BATCH_SIZE,
                           help="Rows per transaction")
OperatorOption = typer.Option(None, "--operator", help="Who runs the import, for the licence history")
SealOption = typer.Option(None, "--seal", help="esID of the issuer's 电子证照专用章 to seal with (default: its newest)")
AlgorithmOption = typer.Option(None, "--algorithm", help="Seal with the issuer's default seal of this algorithm: "
                               "ES256, EdDSA or SM2")


def _seal_choice(seal: str | None, algorithm: str | None) -> SealChoice:
    try:
        return SealChoice(es_id=seal, algorithm=algorithm)
    except RegistryError as exc:
        context.fail(f"{exc.code}: {exc}", code=EXIT_UNUSABLE)
        raise  # unreachable


def issue_cmd(
    csv_file: Path = typer.Option(..., "--csv", exists=True, dir_okay=False, help="CSV file, UTF-8 or GB18030"),
    type_code: str = TypeOption,
    issuer: str = IssuerOption,
    mapping: Path | None = typer.Option(None, "--mapping", "-m", exists=True, dir_okay=False,
                                        help="Mapping file (YAML); default: the header names the licence fields"),
    errors: Path | None = ErrorsOption,
    system: str = typer.Option(DEFAULT_SYSTEM, "--source-system",
                               help="Names the source of the source keys (without --mapping)"),
    batch_size: int = BatchOption,
    operator: str | None = OperatorOption,
    seal: str | None = SealOption,
    algorithm: str | None = AlgorithmOption,
) -> None:
    """Bulk issue from a CSV: holder_name, holder_code, holder_code_type,
    valid_from, valid_until, source_key and face field columns. Rerunning the
    same file issues nothing twice; a killed run resumes where it stopped."""
    parsed = _mapping(mapping)
    delimiter = parsed.source.delimiter if parsed else ","
    encoding = parsed.source.encoding if parsed else None
    job = ImportJob(source=lambda: csv_source(csv_file, delimiter=delimiter, encoding=encoding), mapping=parsed,
                    type_code=type_code, issuer=issuer, system=system, operator=_operator(operator),
                    batch_size=batch_size, seal=_seal_choice(seal, algorithm))
    _execute(job, errors=errors)


def import_cmd(
    mapping: Path = typer.Option(..., "--mapping", "-m", exists=True, dir_okay=False, help="Mapping file (YAML)"),
    type_code: str = TypeOption,
    issuer: str = IssuerOption,
    csv_file: Path | None = typer.Option(None, "--csv", exists=True, dir_okay=False, help="CSV file"),
    xlsx_file: Path | None = typer.Option(None, "--xlsx", exists=True, dir_okay=False, help="Excel workbook (.xlsx)"),
    sql_url: str | None = typer.Option(None, "--sql-url", help="SQLAlchemy URL of the source database"),
    sql_url_env: str | None = typer.Option(None, "--sql-url-env",
                                           help="Environment variable holding the URL (keeps passwords off the command line)"),
    errors: Path | None = ErrorsOption,
    batch_size: int = BatchOption,
    operator: str | None = OperatorOption,
    seal: str | None = SealOption,
    algorithm: str | None = AlgorithmOption,
) -> None:
    """Aggregate (归集) licences from a legacy system: a CSV, an XLSX sheet or
    an SQL query (in the mapping file), mapped onto the licence type. Records
    are known by the mapping's source key: new ones are issued, changed ones
    get a new version, unchanged ones are left alone."""
    parsed = _mapping(mapping)
    given = [name for name, value in (("--csv", csv_file), ("--xlsx", xlsx_file), ("--sql-url", sql_url),
                                      ("--sql-url-env", sql_url_env)) if value]
    if len(given) != 1:
        context.fail("give exactly one source: --csv, --xlsx, --sql-url or --sql-url-env", code=EXIT_UNUSABLE)
    job = ImportJob(source=_source_factory(parsed, csv_file=csv_file, xlsx_file=xlsx_file, sql_url=sql_url,
                                           sql_url_env=sql_url_env),
                    mapping=parsed, type_code=type_code, issuer=issuer, system=parsed.source.system,
                    operator=_operator(operator), batch_size=batch_size, seal=_seal_choice(seal, algorithm))
    _execute(job, errors=errors)


def _source_factory(mapping: ImportMapping, *, csv_file: Path | None, xlsx_file: Path | None, sql_url: str | None,
                    sql_url_env: str | None) -> Callable[[], ImportSource]:
    spec = mapping.source
    if csv_file is not None:
        return lambda: csv_source(csv_file, delimiter=spec.delimiter, encoding=spec.encoding)
    if xlsx_file is not None:
        return lambda: xlsx_source(xlsx_file, sheet=spec.sheet)
    if spec.query is None:
        context.fail("an SQL source needs source.query in the mapping file", code=EXIT_UNUSABLE)
    url = sql_url or os.environ.get(sql_url_env or "")
    if not url:
        context.fail(f"environment variable {sql_url_env} is not set", code=EXIT_UNUSABLE)
    return lambda: sql_source(url, query=spec.query, params=spec.params)


def register(licences: typer.Typer) -> None:
    """Add the commands to the `certhub licences` group."""
    licences.command("issue")(issue_cmd)
    licences.command("import")(import_cmd)
