"""Validate CycloneDX 1.6 JSON documents with CycloneDX's own library (strict schema).

Usage: cyclonedx-validate FILE...  Prints each file's verdict; exits 1 if any is invalid.
"""
import sys

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

validator = JsonStrictValidator(SchemaVersion.V1_6)
bad = 0
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        error = validator.validate_str(f.read())
    if error is not None:
        bad += 1
        print(f"{path}: {error}")
    else:
        print(f"{path}: valid CycloneDX 1.6")
sys.exit(1 if bad else 0)
