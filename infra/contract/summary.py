"""The contract fuzz's counts: operations, test cases, failures (from schemathesis' JUnit reports),
and every documented status the run reached or did not (from its HAR recordings), with the
document's reason for those a run does not reach (`x-unreached`: the operation's, else the
document's, by status)."""

import json
import re
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from urllib.parse import urlsplit

import yaml

separator = sys.argv.index("--")
document_path, junits = sys.argv[1], [f"{p}.xml" for p in sys.argv[2:separator]]
hars = [f"{p}.har" for p in sys.argv[separator + 1 :]]
with open(document_path, encoding="utf-8") as file:
    document = yaml.safe_load(file)

operations = failures = errors = 0
for path in junits:
    for case in ET.parse(path).getroot().iter("testcase"):
        operations += 1
        failures += len(case.findall("failure"))
        errors += len(case.findall("error"))

# (METHOD, template) → its path pattern; literal segments first, so /webhooks/gumroad/{token}
# wins over /webhooks/{provider}.
routes = []
for template, item in document["paths"].items():
    pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
    for method in ("get", "put", "post", "delete", "patch"):
        if method in item:
            routes.append((template.count("{"), method.upper(), template, re.compile(pattern)))
routes.sort(key=lambda r: r[0])

seen = defaultdict(set)
requests = 0
for path in hars:
    with open(path, encoding="utf-8") as file:
        entries = json.load(file)["log"]["entries"]
    for entry in entries:
        requests += 1
        method, url = entry["request"]["method"], urlsplit(entry["request"]["url"]).path
        for _, m, template, pattern in routes:
            if m == method and pattern.match(url):
                seen[(method, template)].add(str(entry["response"]["status"]))
                break

explained = document.get("x-unreached", {})
documented = reached = 0
unreached = []
for _, method, template, _ in routes:
    operation = document["paths"][template][method.lower()]
    for status in operation["responses"]:
        documented += 1
        if status in seen[(method, template)]:
            reached += 1
        else:
            reason = operation.get("x-unreached", {}).get(status)
            unreached.append((method, template, status, reason or explained.get(status)))

print(f"contract: {operations} operations tested over {len(junits)} passes, {requests} requests, {failures} failures, {errors} errors")
print(f"contract: {reached} of {documented} documented statuses reached")
unexplained = 0
for method, template, status, reason in unreached:
    print(f"contract:   not reached: {method} {template} {status}: {reason or 'no reason documented'}")
    unexplained += reason is None
print(f"contract: {len(unreached) - unexplained} not reached with a documented reason, {unexplained} without")
# A documented status is reached or explained: one without a reason fails the run.
sys.exit(1 if failures or errors or unexplained else 0)
