#!/usr/bin/env python3
"""Writes the expected outputs of ReasonSharp's Jinja engine tests with real jinja2.

The environment is set up as transformers' apply_chat_template does it: ImmutableSandboxedEnvironment with
trim_blocks, lstrip_blocks, the loopcontrols extension and a {% generation %} tag, transformers' tojson,
raise_exception and strftime_now (the clock fixed at FIXED_NOW). Run it from this folder with Debian's jinja2
(apt-get install python3-jinja2; jinja2 3.1.2):

    /usr/bin/python3 generate.py

It writes snippets.json (the small templates of snippet_cases.py, covering the language) and expected/<template>.json (every template in
templates/ and the shared tokenizers' templates over the conversations in conversations.json).
"""
import hashlib
import json
import os
import sys
from datetime import datetime

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

FIXED_NOW = datetime(2025, 3, 7, 14, 5, 9)
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", "..", ".."))
SHARED_TOKENIZERS = os.path.join(REPO, "..", "shared", "tokenizers")


class GenerationTracker(jinja2.ext.Extension):
    """transformers' AssistantTracker: {% generation %} bodies are recorded as (start, end) character spans."""

    tags = {"generation"}

    def __init__(self, environment):
        super().__init__(environment)
        self.blocks = None
        self.spans = None

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_generation"), [], [], body).set_lineno(lineno)

    def _generation(self, caller):
        text = caller()
        if self.blocks is not None:
            start = len("".join(self.blocks))
            self.spans.append([start, start + len(text)])
        return text


def make_environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return FIXED_NOW.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = make_environment()
TRACKER = next(e for e in ENV.extensions.values() if isinstance(e, GenerationTracker))


def render(source, variables):
    """{"output": text, "spans": [[start, end], …]} or {"error": {"type": …, "message": …}}."""
    try:
        template = ENV.from_string(source)
    except Exception as e:  # TemplateSyntaxError, or Python's SyntaxError for a break outside a loop
        return {"error": {"type": type(e).__name__, "message": str(e), "line": getattr(e, "lineno", None)}}
    blocks, spans = [], []
    TRACKER.blocks, TRACKER.spans = blocks, spans
    try:
        for block in template.generate(**variables):
            blocks.append(block)
        result = {"output": "".join(blocks)}
        if spans:
            result["spans"] = spans
        return result
    except Exception as e:  # every error a template can raise: TemplateError, TypeError, ValueError …
        return {"error": {"type": type(e).__name__, "message": str(e)}}
    finally:
        TRACKER.blocks, TRACKER.spans = None, None


def write_json(path, value):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(value, f, ensure_ascii=False, indent=1)
        f.write("\n")


def snippets():
    from snippet_cases import CASES as cases
    result = []
    for case in cases:
        entry = {"name": case["name"], "template": case["template"], "variables": case.get("variables", {})}
        entry.update(render(case["template"], entry["variables"]))
        result.append(entry)
    write_json(os.path.join(HERE, "snippets.json"), result)
    print(f"snippets.json: {len(result)} cases")


def chat_templates():
    with open(os.path.join(HERE, "conversations.json"), encoding="utf-8") as f:
        conversations = json.load(f)
    with open(os.path.join(HERE, "templates.json"), encoding="utf-8") as f:
        templates = json.load(f)
    os.makedirs(os.path.join(HERE, "expected"), exist_ok=True)
    for entry in templates:
        if "file" in entry:
            with open(os.path.join(HERE, "templates", entry["file"]), encoding="utf-8", newline="") as f:
                source = f.read()
        else:
            with open(os.path.join(SHARED_TOKENIZERS, entry["shared"], "tokenizer_config.json"), encoding="utf-8") as f:
                source = json.load(f)["chat_template"]
        cases = []
        for case in conversations:
            variables = dict(case["variables"])
            variables.update(entry["tokens"])
            result = {"name": case["name"]}
            result.update(render(source, variables))
            cases.append(result)
        name = entry["name"]
        write_json(os.path.join(HERE, "expected", f"{name}.json"),
                   {"name": name, "sha256": hashlib.sha256(source.encode("utf-8")).hexdigest(), "cases": cases})
        failures = sum(1 for c in cases if "error" in c)
        print(f"expected/{name}.json: {len(cases)} cases, {failures} raise")


if __name__ == "__main__":
    if jinja2.__version__ != "3.1.2":
        print(f"warning: jinja2 {jinja2.__version__}; the fixtures were made with 3.1.2", file=sys.stderr)
    snippets()
    chat_templates()
