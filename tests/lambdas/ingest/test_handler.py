"""The Lambda entry point as AWS runs it: the folder as code root, only the layer's packages importable."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import lambdas.ingest

FOLDER = Path(lambdas.ingest.__file__).parent
REPO = FOLDER.parents[1]
HEAVY = ["pandas", "pyarrow", "pyspark", "moto", "typer", "rich", "psutil", "numpy", "lambdas"]

# Runs in a fresh interpreter: block the heavy modules (and the repo's `lambdas` package, which is not in
# the deployment), put the copied function folder first on sys.path as the Lambda runtime does, import
# `handler` and serve GET /health and a 401.
SCRIPT = """
import importlib.abc, json, sys
BLOCKED = set(sys.argv[2].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not available in the Lambda package")
sys.meta_path.insert(0, Block())
sys.path.insert(0, sys.argv[1])
import handler
class Context:
    function_name = "ingest"; memory_limit_in_mb = 512; aws_request_id = "r-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:ingest"
    def get_remaining_time_in_millis(self): return 29000
def event(method, path, headers=None, body=None):
    return {"resource": "/{proxy+}", "path": path, "httpMethod": method, "headers": headers or {},
            "multiValueHeaders": {}, "queryStringParameters": None, "body": body, "isBase64Encoded": False,
            "requestContext": {"requestId": "r-1", "stage": "prod", "identity": {"sourceIp": "1.2.3.4"}}}
health = handler.handler(event("GET", "/health"), Context())
loaded = sorted(m.split(".")[0] for m in sys.modules)
print(json.dumps({"health": health, "heavy_loaded": [m for m in loaded if m in BLOCKED]}))
"""


def test_handler_runs_from_its_folder_without_heavy_dependencies(tmp_path: Path) -> None:
    code_root = tmp_path / "task"
    shutil.copytree(FOLDER, code_root, ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEHOUSE_", "AWS_ENDPOINT"))}
    env.update({"LAKEHOUSE_STAGE": "prod", "LAKEHOUSE_LAKE_ROOT": "s3://some-bucket", "PYTHONPATH": str(REPO),
                "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"})
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(code_root), ",".join(HEAVY)], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["health"]["statusCode"] == 200
    assert json.loads(out["health"]["body"])["status"] == "ok"
    assert out["heavy_loaded"] == []


def test_requirements_pin_every_line() -> None:
    lines = [line for line in (FOLDER / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines and all("==" in line for line in lines)
    assert any(line.startswith("aws-lambda-powertools") for line in lines)
