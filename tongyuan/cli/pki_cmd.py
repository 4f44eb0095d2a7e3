"""``tongyuan pki``: a development PKI whose directory is also a trust directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tongyuan.cli.common import console, err_console, shown

app = typer.Typer(
    help="Development PKI: roots, intermediates, document-signing certificates and CRLs.",
    no_args_is_help=True,
)


@app.command(
    epilog="Example: [bold]tongyuan pki init var/pki[/bold], then "
    "[bold]tongyuan verify FILE --trust var/pki[/bold].  Exit codes: 0 created, "
    "1 refused (a PKI or other files already there; --force replaces a PKI)."
)
def init(
    directory: Annotated[
        Path | None,
        typer.Argument(help="Directory to create the PKI in (default: <TONGYUAN_HOME>/pki)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing PKI in DIRECTORY (new keys).")
    ] = False,
    algorithms: Annotated[
        str, typer.Option(help="Comma-separated families: rsa, ecdsa, sm2, ed25519.")
    ] = "rsa,ecdsa,sm2,ed25519",
    crl_days: Annotated[int, typer.Option(min=1, help="Days until the CRLs' nextUpdate.")] = 7,
) -> None:
    """Create root, intermediate and document-signing certificates with keys and fresh CRLs."""
    from signing.pki import PkiExistsError, init_pki

    if directory is None:
        from tongyuan.config import load_settings

        directory = load_settings().home / "pki"
    families = tuple(a.strip().lower() for a in algorithms.split(",") if a.strip())
    try:
        pki = init_pki(directory, algorithms=families, crl_days=crl_days, force=force)
    except PkiExistsError as exc:
        err_console.print(f"[red]refused:[/red] {shown(str(exc), newlines=True)}")
        raise typer.Exit(1) from None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    table = Table(title=f"Development PKI in {shown(str(directory))}")
    table.add_column("family")
    table.add_column("issuing certificate")
    table.add_column("chain")
    table.add_column("private key (0600)")
    for family in pki.families:
        table.add_row(
            family,
            shown(str(pki.cert_path(family))),
            shown(str(pki.chain_path(family))),
            shown(str(pki.key_path(family))),
        )
    console.print(table)
    console.print(
        f"trust directory: {shown(str(pki.trust_dir))} (anchors/, intermediates/, crls/); "
        f"CRLs valid {crl_days} days. Never hand out private/."
    )


@app.command(
    "issue-department",
    epilog="Example: [bold]tongyuan pki issue-department var/pki --code 11440305007510000Y "
    "--name 深圳市市场监督管理局[/bold]  Exit codes: 0 issued, 1 refused (no PKI there, or a "
    "signer for that code already issued: --force issues a new one), 2 bad code.",
)
def issue_department(
    directory: Annotated[Path, typer.Argument(help="Directory of a development PKI.")],
    code: Annotated[str, typer.Option(help="The department's USCC (统一社会信用代码).")],
    name: Annotated[str, typer.Option(help="The department's name (the certificate's CN).")],
    family: Annotated[str, typer.Option(help="rsa, ecdsa, sm2 or ed25519.")] = "ecdsa",
    force: Annotated[bool, typer.Option("--force", help="Issue a new one over it.")] = False,
) -> None:
    """Issue a department's document-signing certificate naming its USCC.

    The hub accepts a signed delivery only from a certificate naming the delivering
    department's USCC as its organisation; the PKI's shared signing certificate names
    none. Development only: a department signs with the certificate its CA issued.
    """
    from signing.pki import PkiExistsError, open_pki
    from standards.identifiers import InvalidIdentifier, validate_uscc

    try:
        uscc = validate_uscc(code)
    except InvalidIdentifier as exc:
        raise typer.BadParameter(f"--code: {exc}") from None
    try:
        pki = open_pki(directory)
        if family not in pki.families:
            raise typer.BadParameter(f"--family: the PKI has {', '.join(pki.families)}")
        cert, chain, key = pki.write_department_signer(family, name=name, code=uscc, force=force)
    except (FileNotFoundError, PkiExistsError) as exc:
        err_console.print(f"[red]refused:[/red] {shown(str(exc), newlines=True)}")
        raise typer.Exit(1) from None
    console.print(f"certificate: {shown(str(cert))}")
    console.print(f"chain:       {shown(str(chain))}")
    console.print(f"private key: {shown(str(key))} (0600; give it to the department only)")


@app.command(
    "refresh-crls",
    epilog="Example: [bold]tongyuan pki refresh-crls var/pki[/bold] (run it daily; stale CRLs "
    "make every verification INDETERMINATE).  Exit codes: 0 done, 1 no PKI there.",
)
def refresh_crls(
    directory: Annotated[Path, typer.Argument(help="Directory of a development PKI.")],
    crl_days: Annotated[
        int | None, typer.Option(min=1, help="Days until nextUpdate (default: as created).")
    ] = None,
) -> None:
    """Re-issue every CA's CRL with the same revocations and a new nextUpdate."""
    from signing.pki import refresh_crls as do_refresh

    try:
        written = do_refresh(directory, crl_days=crl_days)
    except FileNotFoundError as exc:
        err_console.print(f"[red]refused:[/red] {shown(str(exc), newlines=True)}")
        raise typer.Exit(1) from None
    for path in written:
        console.print(f"wrote {shown(str(path))}")


@app.command(
    epilog="Example: [bold]tongyuan pki revoke var/pki signer.pem --reason keyCompromise"
    "[/bold]  Exit codes: 0 revoked and CRL published, 1 refused.",
)
def revoke(
    directory: Annotated[Path, typer.Argument(help="Directory of a development PKI.")],
    certificate: Annotated[Path, typer.Argument(help="PEM certificate to revoke.")],
    reason: Annotated[
        str,
        typer.Option(help="RFC 5280 reason: keyCompromise, superseded, cessationOfOperation…"),
    ] = "unspecified",
) -> None:
    """Revoke a certificate issued by this PKI and publish its issuer's new CRL."""
    from cryptography import x509

    from signing.pki import revoke_certificate

    try:
        flag = x509.ReasonFlags(reason)
    except ValueError:
        raise typer.BadParameter(f"unknown reason {reason!r}") from None
    try:
        cert = x509.load_pem_x509_certificate(certificate.read_bytes())
        crl = revoke_certificate(
            directory, cert, reason=None if flag is x509.ReasonFlags.unspecified else flag
        )
    except (OSError, ValueError) as exc:
        err_console.print(f"[red]refused:[/red] {shown(str(exc), newlines=True)}")
        raise typer.Exit(1) from None
    console.print(f"revoked serial {cert.serial_number:x}; published {shown(str(crl))}")
