"""The analyst's and the audit chain's commands: ``mamori triage``, ``mamori audit verify``,
``mamori eval redaction`` and ``mamori eval injection``.

Heavy modules are imported inside the commands so that ``mamori --help`` stays fast.
"""

from __future__ import annotations

import json
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

import click

__all__ = ["audit_group", "eval_injection", "eval_redaction", "triage"]

#: Without a trust policy file, everyone gets the offline analyst only.
DEFAULT_POLICY = """
default_tier = "C"

[tiers.C]
providers = ["offline"]
"""


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _database(data_dir: Path) -> str:
    from mamori.store.sql import data_dir_url

    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir_url(data_dir)


def _load_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return tomllib.loads(DEFAULT_POLICY)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        _fail(f"cannot read the trust policy {path}: {err}")
        raise


def _directory(path: Path | None) -> dict[str, str]:
    """Known personal values from a customers table (columns `name`, `address`)."""
    if path is None:
        return {}
    import polars as pl

    frame = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path)
    known: dict[str, str] = {}
    for column, label in (("name", "NAME"), ("address", "ADDRESS")):
        if column in frame.columns:
            known.update(dict.fromkeys(frame[column].drop_nulls().unique().to_list(), label))
    return known


@click.command()
@click.argument("incident_id")
@click.option(
    "--data-dir", type=click.Path(path_type=Path), default=Path("data"), show_default=True
)
@click.option(
    "--provider", default="offline", show_default=True, help="A provider the policy names."
)
@click.option("--tenant", default=None, help="The incident's tenant (default: whichever owns it).")
@click.option("--role", default="analyst", show_default=True)
@click.option("--actor", default=None, help="Who asks (default: $USER).")
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Trust policy and providers (TOML; default DATA_DIR/trust.toml, else offline only).",
)
@click.option(
    "--directory",
    "directory_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Customers table (parquet/csv with name, address) whose values are redacted.",
)
@click.option("--json", "as_json", is_flag=True)
def triage(
    incident_id: str,
    data_dir: Path,
    provider: str,
    tenant: str | None,
    role: str,
    actor: str | None,
    policy_path: Path | None,
    directory_path: Path | None,
    as_json: bool,
) -> None:
    """Triage an incident through the governed gateway; every step goes to the audit chain.

    Example: mamori triage 11761f30a70f3335 --data-dir data --provider frontier --json
    """
    from mamori.analyst.archive import TriageArchive
    from mamori.analyst.evidence import gather_evidence
    from mamori.analyst.gateway import Gateway, PolicyRefused
    from mamori.analyst.providers import ProviderError, provider_from_config
    from mamori.govern.audit import AuditLog
    from mamori.govern.policy import TrustPolicy
    from mamori.store.sql import OperationalStore

    if policy_path is None and (data_dir / "trust.toml").is_file():
        policy_path = data_dir / "trust.toml"
    if directory_path is None and (data_dir / "reference" / "customers.parquet").is_file():
        directory_path = data_dir / "reference" / "customers.parquet"
    config = _load_config(policy_path)
    try:
        policy = TrustPolicy.from_dict(config)
        providers = {
            name: provider_from_config(name, spec)
            for name, spec in (config.get("providers") or {}).items()
            if name == provider
        }
    except (ValueError, ProviderError) as err:
        _fail(str(err))
        return
    url = _database(data_dir)
    store = OperationalStore(url)
    try:
        evidence = gather_evidence(store, tenant, incident_id)
    except KeyError as err:
        _fail(str(err.args[0]))
        return
    archive = TriageArchive(url)
    with AuditLog(url) as audit:
        gateway = Gateway(
            policy,
            audit,
            providers,
            source=store,
            directory=_directory(directory_path),
            archive=archive,
        )
        try:
            result = gateway.triage(
                evidence,
                actor=actor or os.environ.get("USER", "unknown"),
                role=role,
                provider=provider,
            )
        except PolicyRefused as err:
            _fail(f"refused by the trust policy: {err}", code=3)
            return
        finally:
            archive.close()
    if as_json:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False, default=str))
        return
    t = result.triage
    click.echo(
        f"incident {result.incident_id} ({result.tenant}) · written by {result.provider}"
        + (f" ({result.model})" if result.model else "")
    )
    if result.fallback:
        click.echo(f"FALLBACK: {result.fallback}")
    click.echo(f"stored as triage {result.triage_id}")
    if result.consistency:
        click.echo(f"CONSISTENCY: {result.consistency}")
    click.echo(f"verdict {t.verdict} · severity {t.severity} · confidence {t.confidence:.2f}")
    click.echo(f"\n{t.summary}\n  cites: {', '.join(t.summary_citations)}")
    for a in t.recommended_actions:
        click.echo(f"  propose {a.action} on {a.target}: {a.reason} [{', '.join(a.citations)}]")
    for q in t.open_questions:
        click.echo(f"  ? {q}")


@click.group(name="audit")
def audit_group() -> None:
    """The tamper-evident audit chain."""


@audit_group.command(name="verify")
@click.option(
    "--data-dir", type=click.Path(path_type=Path), default=Path("data"), show_default=True
)
@click.option("--url", default=None, help="Database URL (default: DATA_DIR/mamori.db).")
@click.option("--json", "as_json", is_flag=True)
def audit_verify(data_dir: Path, url: str | None, as_json: bool) -> None:
    """Walk the audit chain; exit 1 naming the first record changed, removed or reordered.

    Example: mamori audit verify --data-dir data
    """
    from mamori.govern.audit import AuditLog

    with AuditLog(url or _database(data_dir)) as audit:
        report = audit.verify()
    if as_json:
        click.echo(json.dumps(report.as_dict()))
    elif report.ok:
        click.echo(f"audit chain intact: {report.records} records, head {report.head}")
    else:
        click.echo(
            f"audit chain BROKEN at record {report.first_bad}: {report.reason} "
            f"({report.records} records before it check out)",
            err=True,
        )
    if not report.ok:
        sys.exit(1)


@click.command(name="redaction")
@click.option("--records", default=4000, show_default=True)
@click.option("--decoys", default=1000, show_default=True)
@click.option("--seed", default=2026, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def eval_redaction(records: int, decoys: int, seed: int, as_json: bool) -> None:
    """Redaction recall on a generated corpus of bank PII (Japanese and English text, log
    lines), false positives on decoys, and raw values on the wire to an external provider.

    Example: mamori eval redaction --json
    """
    from mamori.analyst.evaluation import evaluate_redaction

    result = evaluate_redaction(records, decoys, seed)
    click.echo(json.dumps(result, indent=None if as_json else 2))


@click.command(name="injection")
@click.option("--base-url", default=None, help="A real OpenAI-compatible endpoint to test.")
@click.option("--model", default=None)
@click.option("--api-key-env", default=None, help="Environment variable holding the key.")
@click.option("--json", "as_json", is_flag=True)
def eval_injection(
    base_url: str | None, model: str | None, api_key_env: str | None, as_json: bool
) -> None:
    """Run the red-team corpus (210 payloads, 5 fields, 7 languages) through the gateway.

    By default the provider is a loopback model that obeys every injected instruction.
    Example: mamori eval injection --json
    """
    from mamori.analyst.evaluation import evaluate_injection
    from mamori.analyst.providers import OpenAICompatibleProvider

    provider = None
    if base_url:
        if not model:
            _fail("--base-url needs --model")
        provider = OpenAICompatibleProvider(
            "frontier",
            base_url,
            model or "",
            api_key=os.environ.get(api_key_env) if api_key_env else None,
        )
    result = evaluate_injection(provider)
    click.echo(json.dumps(result, indent=None if as_json else 2, ensure_ascii=False))
