"""The JSON Schema of the JSON report, partly generated: the ``config`` part from the
options table, the per-file records from the record types. The file shipped in the package
(``nanaudit/schema/report.schema.json``) is this module's output; a test keeps them equal.

Regenerate it with ``python -m nanaudit.schemagen --write`` (the hand-written parts are read
from the file itself, so a shell redirection onto it would empty it before it is read;
without ``--write`` the schema goes to stdout).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .options import json_schema as config_schema
from .records import FileRecord, schema_of

SCHEMA_FILE = Path(__file__).parent / "schema" / "report.schema.json"


def report_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    config = config_schema()
    config["properties"]["checks"] = {
        "type": "object",
        "propertyNames": {"pattern": "^NA[0-9]{3}$"},
        "additionalProperties": {
            "type": "object",
            "required": ["enabled", "severity"],
            "properties": {
                "enabled": {"type": "boolean"},
                "severity": {"$ref": "#/$defs/severity"},
            },
        },
    }
    for key in ("class_names", "unused_ids", "config_file"):
        config["properties"].setdefault(key, {})
    config["required"] = sorted(
        {*config["required"], "checks", "class_names", "unused_ids", "config_file"}
    )
    schema["properties"]["config"] = config
    schema["$defs"]["file"] = schema_of(FileRecord)
    return schema


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # pragma: no cover - a maintenance command
    text = dumps(report_schema())
    if sys.argv[1:] == ["--write"]:
        SCHEMA_FILE.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
