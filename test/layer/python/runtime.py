#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A minimal AWS Lambda runtime loop for Python, a test fixture standing in
for AWS's awslambdaric (only on PyPI): the handler "module.function" from
_HANDLER, imported from LAMBDA_TASK_ROOT; each event from
GET .../invocation/next goes to it, its result to .../response, an exception
to .../error as {errorMessage, errorType, stackTrace}. An import failure goes
to .../init/error. Exits 0 when the Runtime API disappears (the stand-in
server closes after its last event).
"""
import http.client
import importlib
import json
import os
import sys
import time
import traceback

BASE = "/2018-06-01/runtime"


class Context:
    def __init__(self, headers):
        self.aws_request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms") or 0)

    def get_remaining_time_in_millis(self):
        return max(0, self.deadline_ms - int(time.time() * 1000))


def error_body(e):
    return json.dumps({"errorMessage": str(e), "errorType": type(e).__name__,
                       "stackTrace": traceback.format_tb(e.__traceback__)})


def main():
    conn = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"], timeout=None)

    def call(method, path, body=None, error_type=None):
        headers = {"Lambda-Runtime-Function-Error-Type": error_type} if error_type else {}
        conn.request(method, BASE + path, body=body, headers=headers)
        r = conn.getresponse()
        return r, r.read()

    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", os.getcwd()))
    try:
        module, name = os.environ["_HANDLER"].rsplit(".", 1)
        handler = getattr(importlib.import_module(module), name)
    except Exception as e:
        call("POST", "/init/error", error_body(e), "Runtime.ImportModuleError")
        return 1
    while True:
        try:
            r, data = call("GET", "/invocation/next")
        except (OSError, http.client.HTTPException):
            return 0
        rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
        try:
            result = handler(json.loads(data), Context(r.headers))
            call("POST", "/invocation/%s/response" % rid, json.dumps(result))
        except Exception as e:
            call("POST", "/invocation/%s/error" % rid, error_body(e), "Unhandled")


if __name__ == "__main__":
    sys.exit(main())
