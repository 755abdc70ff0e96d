"""Makes tokens with Akamai's EdgeAuth library (PyPI `akamai-edgeauth`),
for server/tests/edgeauth_interop.rs: a JSON list of cases on stdin, a JSON
list of tokens on stdout. Each case names EdgeAuth's own options (key,
start_time, end_time, window_seconds, ip, session_id, payload,
escape_early, algorithm) and either "acl" (a string or a list) or "url"."""

import json
import sys

from akamai.edgeauth import EdgeAuth

tokens = []
for case in json.load(sys.stdin):
    acl = case.pop("acl", None)
    url = case.pop("url", None)
    auth = EdgeAuth(**case)
    tokens.append(auth.generate_url_token(url) if url is not None else auth.generate_acl_token(acl))
json.dump(tokens, sys.stdout)
