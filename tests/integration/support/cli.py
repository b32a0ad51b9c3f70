"""cli.py - run build/clustershm and judge what it prints: JSON against the
documented schemas (docs/schema/*.schema.json, with the jsonschema package),
monitoring-plugin lines, the Prometheus exposition (prometheus_client's own
parser).

Invariants: every run has a timeout; a JSON document is valid only if it
validates against its schema AND carries no key the schema does not
document (the published schemas allow new keys for forward compatibility;
the tests do not, so an undocumented key fails here first).
"""
import json
import os
import re
import subprocess

import jsonschema

from .worker import CLI, ROOT

SCHEMA_DIR = os.path.join(ROOT, "docs", "schema")


def run(*args, timeout=30, env=None):
    return subprocess.run([CLI] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def schema(name):
    with open(os.path.join(SCHEMA_DIR, "%s.schema.json" % name)) as f:
        return json.load(f)


def _undocumented(doc, sch, root, path):
    """Keys of doc that the schema's properties do not name (recursively)."""
    if "$ref" in sch:
        sch = root["$defs"][sch["$ref"].rsplit("/", 1)[1]]
    if "oneOf" in sch:
        if doc is None:
            return []
        sch = [s for s in sch["oneOf"] if s.get("type") != "null"][0]
        return _undocumented(doc, sch, root, path)
    out = []
    if isinstance(doc, dict) and "properties" in sch:
        for k, v in doc.items():
            if k not in sch["properties"]:
                out.append("%s.%s" % (path, k))
            else:
                out += _undocumented(v, sch["properties"][k], root, "%s.%s" % (path, k))
    elif isinstance(doc, list) and "items" in sch:
        for i, v in enumerate(doc):
            out += _undocumented(v, sch["items"], root, "%s[%d]" % (path, i))
    return out


def validate(doc, name):
    sch = schema(name)
    jsonschema.validate(doc, sch, cls=jsonschema.Draft202012Validator)
    extra = _undocumented(doc, sch, sch, name)
    assert not extra, "keys not in docs/schema/%s.schema.json: %s" % (name, extra)
    return doc


def json_of(result, name):
    """The one JSON document of a run, validated."""
    return validate(json.loads(result.stdout), name)


PLUGIN_LINE = re.compile(r"^CLUSTERSHM (OK|WARNING|CRITICAL|UNKNOWN) - ([^|\n]*?)(?: \| (.*))?$")


def plugin_line(result):
    """(state, summary, {label: value}) of check's one line."""
    lines = result.stdout.splitlines()
    assert len(lines) == 1, "check must print one line: %r" % result.stdout
    m = PLUGIN_LINE.match(lines[0])
    assert m, "not a plugin line: %r" % lines[0]
    perf = {}
    for item in (m.group(3) or "").split():
        label, _, rest = item.partition("=")
        value = re.match(r"^-?[0-9.]+", rest)
        assert value, "bad perfdata %r" % item
        perf[label] = float(value.group(0))
    return m.group(1), m.group(2), perf


def metrics(text):
    """{family name: family} of an exposition, parsed by prometheus_client."""
    from prometheus_client.parser import text_string_to_metric_families
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples_for(families, key):
    """{sample name: value} of the samples labelled with key."""
    want = "0x%08x" % key
    out = {}
    for f in families.values():
        for s in f.samples:
            if s.labels.get("key") == want:
                out[s.name] = s.value
    return out
