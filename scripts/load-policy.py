#!/usr/bin/env python3
"""Creates the objects of a JSON-lines file ({"path", "body"} per line) on an API server over
HTTPS with one keep-alive connection and a bearer token. AlreadyExists (409) is skipped: the
server's own default roles. Usage: load-policy.py URL CA_FILE TOKEN FILE"""
import http.client
import json
import ssl
import sys
import urllib.parse

url, ca, token, path = sys.argv[1:5]
u = urllib.parse.urlparse(url)
ctx = ssl.create_default_context(cafile=ca)
conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx)
headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
created = skipped = 0
with open(path) as f:
    for line in f:
        obj = json.loads(line)
        conn.request("POST", obj["path"], body=json.dumps(obj["body"]), headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status == 409:
            skipped += 1
        elif resp.status >= 300:
            sys.exit(f"{obj['path']}: HTTP {resp.status}: {body[:300]!r}")
        else:
            created += 1
print(f"created {created}, already there {skipped}", file=sys.stderr)
