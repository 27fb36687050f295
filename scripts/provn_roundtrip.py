#!/usr/bin/env python3
"""Reads the PROV-N that clowdr writes back into a prov document and checks that it equals the document the prov
package loads from clowdr's PROV-JSON of the same experiment (warnings are errors). The prov package writes PROV-N
but cannot read it, so this parses the subset clowdr emits: prefix, entity/agent/activity with attributes, and
used, wasGeneratedBy, wasDerivedFrom, wasInformedBy, wasAssociatedWith, actedOnBehalfOf with identifiers.
Usage: provn_roundtrip.py FILE.prov.json FILE.provn   (prints "equal N" and exits 0, or the differences and 1)"""
import re, sys, warnings
warnings.simplefilter("error")
from prov.model import ProvDocument, Literal, XSD, PROV, Identifier
import dateutil.parser

def split_top(s, sep=","):
    out, depth, cur, quote = [], 0, "", None
    for ch in s:
        if quote:
            cur += ch
            if ch == quote and not cur.endswith("\\" + quote): quote = None
            continue
        if ch in "\"'": quote = ch; cur += ch; continue
        if ch == "[": depth += 1
        if ch == "]": depth -= 1
        if ch == sep and depth == 0: out.append(cur.strip()); cur = ""; continue
        cur += ch
    if cur.strip(): out.append(cur.strip())
    return out

def value(doc, text):
    if text.startswith("'"): return doc.valid_qualified_name(text[1:-1])
    m = re.fullmatch(r'"(.*)" %% xsd:(\w+)', text)
    if m:
        v, t = m.group(1), m.group(2)
        return Literal(v, XSD[t]) if t != "dateTime" else dateutil.parser.isoparse(v)
    return bytes(text[1:-1], "utf-8").decode("unicode_escape")

def attrs(doc, text):
    text = text.strip()
    if not text.startswith("["): return {}
    return [(doc.valid_qualified_name(k.strip()), value(doc, v.strip())) for k, v in (a.split("=", 1) for a in split_top(text[1:-1]))]

def parse(path):
    doc = ProvDocument()
    with open(path) as f:
        text = f.read()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("prefix "):
            _, p, uri = line.split(None, 2); doc.add_namespace(p, uri.strip("<>")); continue
        m = re.fullmatch(r"(\w+)\((.*)\)", line)
        if not m: continue
        kind, body = m.group(1), m.group(2)
        if ";" in body.split("[")[0]:
            ident, rest = body.split(";", 1)
            args = split_top(rest)
            ident = ident.strip()
        else:
            ident, args = None, split_top(body)
        extra = {}
        if args and args[-1].startswith("["): extra = attrs(doc, args.pop())
        q = lambda a: None if a == "-" else doc.valid_qualified_name(a)
        if kind == "entity": doc.entity(args[0], extra)
        elif kind == "agent": doc.agent(args[0], extra)
        elif kind == "activity":
            t = lambda a: None if a == "-" else dateutil.parser.isoparse(a)
            doc.activity(args[0], t(args[1]), t(args[2]), extra)
        elif kind == "used": doc.used(q(args[0]), q(args[1]), None, identifier=ident)
        elif kind == "wasGeneratedBy": doc.wasGeneratedBy(q(args[0]), q(args[1]), None, identifier=ident)
        elif kind == "wasDerivedFrom": doc.wasDerivedFrom(q(args[0]), q(args[1]), identifier=ident)
        elif kind == "wasInformedBy": doc.wasInformedBy(q(args[0]), q(args[1]), identifier=ident)
        elif kind == "wasAssociatedWith": doc.wasAssociatedWith(q(args[0]), q(args[1]), q(args[2]), identifier=ident)
        elif kind == "actedOnBehalfOf": doc.actedOnBehalfOf(q(args[0]), q(args[1]), identifier=ident)
        else: raise SystemExit("unexpected statement: " + line)
    return doc

from_json = ProvDocument.deserialize(sys.argv[1], format="json")
from_provn = parse(sys.argv[2])
# JSON -> prov -> JSON must also be stable.
again = ProvDocument.deserialize(content=from_json.serialize(format="json"), format="json")
if from_json == from_provn and from_json == again:
    print("equal", len(list(from_json.get_records())))
    sys.exit(0)
a, b = set(map(str, from_json.get_records())), set(map(str, from_provn.get_records()))
print("only in JSON:", sorted(a - b)[:5]); print("only in PROV-N:", sorted(b - a)[:5])
sys.exit(1)
