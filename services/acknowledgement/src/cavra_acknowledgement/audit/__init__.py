"""Signed acknowledgement audit packages: package (pure), DSSE signing, hash chain, keys."""
