"""A black-box conformance suite for UK Open Banking ASPSPs: FAPI 2.0 security checks, OBIE
dynamic client registration and discovery, over HTTP only (it imports nothing from the
platform). Run it with `python -m specs.conformance --help`; README.md says what it covers."""

VERSION = "0.1.0"
