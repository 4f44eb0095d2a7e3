"""Signature and e-license verification and signing (may import only ``standards``).

- ``signing.report``: the ETSI EN 319 102-1 style ``VerificationReport``;
- ``signing.algorithms``: signature verification by algorithm name, crypto constraints;
- ``signing.keys``: ``SigningKey`` (a private key bound to its algorithm);
- ``signing.trust`` / ``signing.crl``: trust directories, path validation, CRLs;
- ``signing.detached``: the JSON envelope for detached signatures; ``signing.manifest``
  for signed batches of files;
- ``signing.xmldsig``: enveloped XML-DSig licenses (profile, report; signxml signs and is
  the reference verifier), ``signing.xmldsig_lean``: the default verifier of the signature
  value and digest; ``signing.sm2``: SM2 with SM3;
- ``signing.pki``: the development PKI; ``signing.verify``: ``verify_file`` for any file.

Nothing is imported here, so ``import signing.report`` does not load the SM2 backend.
"""
