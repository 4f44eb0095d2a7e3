"""Whose signature a signed delivery carries: the USCC its signer certificate names.

A trusted chain proves only that a CA certified the signer, and one provincial CA usually
certifies every department; so the certificate must name the delivering department's
USCC as its organisation, in the attributes a CA checks against the organisation's
registration (:func:`signer_usccs`), or the department must have a CA of its own
(``signing_ca: dedicated``). :func:`signer_refusal` says why a valid signature is not the
department's (see :mod:`tongyuan.ingest.signed`, which calls it).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from standards.identifiers import InvalidIdentifier, validate_citizen_id, validate_uscc

if TYPE_CHECKING:
    from cryptography import x509

    from signing.trust import TrustStore

DEDICATED_CA = "dedicated"
# An 18-character run of letters and digits standing alone: a candidate USCC (validated
# before it counts). Letters, digits on either side mean it is part of something longer.
_USCC_TOKEN = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]{18}(?![0-9A-Za-z])")

# Where a certificate names its organisation: attributes a CA checks against the
# organisation's registration before it issues an organisation certificate. Never OU (free
# text the applicant chooses), emailAddress, or the subjectAltName's DNS names, email
# addresses and URIs — a CA validates control of a mailbox or a domain, not the
# organisation behind it, so a code there proves nothing.
_ORG_IDENTIFIER_OID = "2.5.4.97"  # organizationIdentifier
_ORG_ATTRIBUTE_OIDS = frozenset({_ORG_IDENTIFIER_OID, "2.5.4.5", "2.5.4.10", "2.5.4.3"})
# otherName types of GM/T 0015 that carry an organisation's registration: 工商注册号,
# 组织机构代码, 税号 (where CAs put the USCC today). Any other otherName (a Windows UPN, an
# SmtpUTF8Mailbox, a personal identity code) is not read.
_ORG_OTHER_NAME_OIDS = frozenset(
    {"1.2.156.10260.4.1.3", "1.2.156.10260.4.1.4", "1.2.156.10260.4.1.5"}
)
# organizationIdentifier as ETSI EN 319 412-1 writes it (NTRCN-<USCC>, VATCN-…, or the
# country-specific "xx:CN-…"), or the bare code.
_ETSI_IDENTIFIER = re.compile(r"(?:[A-Z]{3}[A-Z]{2}|[A-Za-z]{2}:[A-Z]{2})-(?P<code>.+)")


def signer_usccs(cert: x509.Certificate) -> list[str]:
    """Every USCC the certificate names as its organisation, normalised, each once;
    the organizationIdentifier's first.

    Read only from the subject's organizationIdentifier, serialNumber, O and CN, the
    same attributes of the subjectAltName's directory names, and its GM/T 0015
    organisation otherNames. More than one code means the certificate does not say
    which organisation it is (:func:`signer_refusal` refuses it). A candidate counts
    only when it passes the USCC check, so an 18-character serial number that is not a
    code is ignored.
    """
    declared: dict[str, None] = {}
    found: dict[str, None] = {}
    names = [cert.subject, *_alt_directory_names(cert)]
    for name in names:
        for attribute in name:
            oid = attribute.oid.dotted_string
            if oid == _ORG_IDENTIFIER_OID:
                declared.update(dict.fromkeys(_identifier_codes(_text(attribute.value))))
            elif oid in _ORG_ATTRIBUTE_OIDS:
                found.update(dict.fromkeys(_codes_in(_text(attribute.value))))
    for value in _alt_other_name_values(cert):
        found.update(dict.fromkeys(_codes_in(value)))
    return list({**declared, **found})


def _codes_in(text: str) -> list[str]:
    """The valid USCCs standing alone in a free text (a CN such as "… USCC <code>").

    A token that is a valid 公民身份号码 is a person, not an organisation: staff
    certificates carry the holder's ID in serialNumber (or the CN), and about one ID in
    31 also passes the USCC check — counted, it made a department's own staff
    certificate "name two organisations" (review r5).
    """
    out: list[str] = []
    for token in _USCC_TOKEN.findall(text):
        if _is_citizen_id(token):
            continue
        try:
            out.append(validate_uscc(token))
        except InvalidIdentifier:
            continue
    return out


def _is_citizen_id(token: str) -> bool:
    try:
        validate_citizen_id(token)
    except InvalidIdentifier:
        return False
    return True


def _identifier_codes(value: str) -> list[str]:
    """The USCC an organizationIdentifier names: the whole value (ETSI prefix removed)
    must be one — it is a structured identifier, not a text to search."""
    match = _ETSI_IDENTIFIER.fullmatch(value.strip())
    try:
        return [validate_uscc(match["code"] if match else value.strip())]
    except InvalidIdentifier:
        return []


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("latin-1")


def _alt_general_names(cert: x509.Certificate) -> list[Any]:
    """The subjectAltName's entries; none when absent or unreadable — a code found only
    there is then not found, which refuses rather than accepts."""
    from cryptography import x509

    try:
        return list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except (x509.ExtensionNotFound, ValueError):
        return []


def _alt_directory_names(cert: x509.Certificate) -> list[x509.Name]:
    from cryptography import x509

    return [g.value for g in _alt_general_names(cert) if isinstance(g, x509.DirectoryName)]


def _alt_other_name_values(cert: x509.Certificate) -> list[str]:
    """The encoded values of the subjectAltName's organisation otherNames, as text."""
    from cryptography import x509

    return [
        _text(g.value)
        for g in _alt_general_names(cert)
        if isinstance(g, x509.OtherName) and g.type_id.dotted_string in _ORG_OTHER_NAME_OIDS
    ]


def signer_refusal(
    envelope: bytes,
    trust: TrustStore,
    department: str,
    signing_ca: str,
    now: datetime | None,
) -> str | None:
    """Why the (valid) signature is not the delivering department's, or None.

    The chain proves only that a trusted CA certified the signer; a provincial CA
    certifies every department, so the certificate must name ``department``'s USCC as
    its organisation (:func:`signer_usccs`) and no other: a certificate naming two codes
    does not say whose it is, and a code in its organizationIdentifier is not outvoted
    by another one in its CN. A certificate naming no USCC is the department's only when
    it has a CA of its own (``signing_ca: dedicated``) and the chain ends under
    ``anchors/<department>/``. USCCs are organisation codes, shown in full (masked only
    should one read as a citizen ID).
    """
    from signing.detached import ParsedEnvelope
    from standards.privacy import mask_text

    env = ParsedEnvelope(envelope)
    named = signer_usccs(env.signer)
    if len(named) > 1:
        return (
            f"the signer certificate names more than one USCC ({mask_text(', '.join(named))}) "
            "in its organisation attributes (organizationIdentifier, serialNumber, O, CN, "
            f"subjectAltName directory name or otherName): it does not say which organisation "
            f"it is, so it cannot sign the deliveries of department {department}"
        )
    if named == [department]:
        return None
    if named:
        return (
            f"the signer certificate names {mask_text(', '.join(named))}, not the delivering "
            f"department {department}: another organisation's certificate cannot sign this "
            "department's deliveries"
        )
    if signing_ca != DEDICATED_CA:
        return (
            f"the signer certificate names no USCC, so nothing ties it to the delivering "
            f"department {department}: its certificate must name the USCC as its "
            "organisation (organizationIdentifier NTRCN-<USCC>, serialNumber, O or CN; an "
            "email address, domain name, URI or OU does not count), unless the department "
            "has a CA of its own (signing_ca: "
            f"dedicated in the topology, anchors under anchors/{department}/)"
        )
    return _outside_dedicated_ca(env, trust, department, now)


def _outside_dedicated_ca(
    env: Any, trust: TrustStore, department: str, now: datetime | None
) -> str | None:
    """Why the chain does not end under the department's own anchors, or None: the path is
    built again with those anchors only (a general anchor must not stand in for them)."""
    from signing.trust import TrustStore, authority_key

    key = authority_key(department)
    own = trust.anchors.get(key)
    where = f"anchors/{key}/"
    if not own:
        return (
            f"the signer certificate names no USCC and the department's dedicated CA has no "
            f"anchors: put its CA certificate under {where} in the trust directory"
        )
    scoped = TrustStore({key: own}, trust.intermediates, trust.crls, trust.directory)
    chain = scoped.validate(
        env.certificates[0], env.certificates[1:], at=env.signing_time, authority=key, now=now
    )
    if chain.ok:
        return None
    detail = "; ".join(c.detail for c in chain.checks if c.passed is False)
    return (
        f"the signer certificate names no USCC and its chain does not end under {where} "
        f"(the department's dedicated CA): {detail}"
    )
