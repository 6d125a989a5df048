"""Redaction: planted fake secrets of every kind are masked, ordinary text survives, the CLI lints."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tao_automl.platforms import failures
from tao_automl.redaction import MASK, find_secrets, is_secret_name, redact, redact_obj

PROJECT = Path(__file__).resolve().parents[1]
SCRIPT = PROJECT / "scripts" / "redact_secrets.py"

# (kind, a line with a planted fake secret, the secret part that must disappear). All values are fake.
PLANTED = [
    ("nvidia_api_key", "NGC key nvapi-Fk3jX9qLm2Zp8RtYv5Wd0NbC in use", "nvapi-Fk3jX9qLm2Zp8RtYv5Wd0NbC"),
    ("huggingface_token", "login hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345", "hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345"),
    (
        "github_token",
        "remote uses ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    ),
    ("github_token", "pat github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "github_pat_11ABCDEFG0123456789_abcdef"),
    ("aws_access_key_id", "key id AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_access_key_id", "session ASIAY34FZKBOKMUTVV7A here", "ASIAY34FZKBOKMUTVV7A"),
    ("openai_key", "OPENAI sk-proj-4f8Qz1LmN0pXw9RtYb2KcVdE", "sk-proj-4f8Qz1LmN0pXw9RtYb2KcVdE"),
    ("slack_token", "bot xoxb-123456789012-1234567890123-AbCdEfGhIjKl", "xoxb-123456789012-1234567890123"),
    ("bearer_token", "curl -H 'X: Bearer eyZ9aF3kLm0QpRsTuVwX12' url", "eyZ9aF3kLm0QpRsTuVwX12"),
    ("authorization", "Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
    (
        "jwt",
        "id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV",
        "SflKxwRJSMeKKF2QT4fw",
    ),
    (
        "presigned_url",
        "get https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240101"
        "&X-Amz-Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7&X-Amz-Expires=60",
        "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
    ),
    (
        "presigned_url",
        "sas https://acct.blob.core.windows.net/c/f?sv=2022&sig=Zm9vYmFyYmF6cXV4MTIz%3D",
        "Zm9vYmFyYmF6cXV4",
    ),
    (
        "presigned_url",
        "cf https://d.cloudfront.net/f?Expires=1&Signature=abcDEF123ghiJKL456&Key-Pair-Id=K",
        "abcDEF123ghiJKL456",
    ),
    ("url_password", "postgres://tao:Sup3r-Secret!@db.internal:5432/automl", "Sup3r-Secret!"),
    ("named_secret:api_key", "api_key=q8Zr2LmX0pWn", "q8Zr2LmX0pWn"),
    ("named_secret:token", "token: hunter2", "hunter2"),
    ("named_secret:password", 'password = "correct horse battery"', "correct horse battery"),
    ("named_secret:passwd", "passwd=letmein", "letmein"),
    ("named_secret:client_secret", '{"client_secret": "0aF3kLm9QpRs"}', "0aF3kLm9QpRs"),
    ("named_secret:NGC_KEY", "export NGC_KEY=Zm9vYmFyMTIzNDU2", "Zm9vYmFyMTIzNDU2"),
    ("private_key", "-----BEGIN RSA PRIVATE KEY-----MIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn", "MIIEpAIBAAKCAQEA0Z3VS5JJ"),
]


@pytest.mark.parametrize(("kind", "line", "secret"), PLANTED, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(PLANTED)])
def test_every_planted_secret_is_masked_and_found(kind: str, line: str, secret: str) -> None:
    masked = redact(line)
    assert secret not in masked
    assert MASK in masked
    findings = find_secrets(f"first line\n{line}\n")
    assert findings and all(f.line == 2 for f in findings)
    assert kind in {f.kind for f in findings}
    assert all(secret not in f.excerpt for f in findings)


@pytest.mark.parametrize(
    "text",
    [
        "epochs_key: train.num_epochs",
        "container_image: nvcr.io/nvidia/tao/tao-toolkit:7.1.0-pyt  # versions-key: images.tao_toolkit.pyt",
        "max_tokens: 512",
        "KeyError: 'lrr'",
        "required_credentials: [BREV_API_TOKEN]",
        "BREV_API_TOKEN: SET",
        "api_key_env: AUTOML_LLM_API_KEY",
        "password: ***",
        "token: <your token>",
        "HF_TOKEN=$HF_TOKEN",
        "def check(token: str) -> bool:",
        "self.require_token = require_token",
        "bucket, key = split(location)",
        "Epoch 3/10 loss=0.25 val_accuracy=0.91 lr=0.001",
        "https://example.com/path?page=2&sort=asc",
        "scikit-learn task-sk-learn",
    ],
)
def test_ordinary_text_survives(text: str) -> None:
    assert redact(text) == text
    assert find_secrets(text) == []


def test_known_outputs() -> None:
    assert redact("https://user:pa55@host/x password=abc") == "https://user:***@host/x password=***"
    assert redact("key nvapi-Fk3jX9qLm2Zp8RtYv5Wd0NbC") == "key nvapi-***"
    assert redact('{"password": "x y"}') == '{"password": "***"}'
    assert redact("") == ""
    pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nQyNTUxOQAAACDx\n"
    pem += "-----END OPENSSH PRIVATE KEY-----\nnext"
    assert redact(pem) == "***\nnext"


def test_failure_evidence_uses_the_same_redaction() -> None:
    assert failures.redact is redact


def test_redact_obj_masks_by_key_and_by_value() -> None:
    payload = {
        "settings": {"llm_api_key": "plain-words", "api_key": 12345678, "metric": "val_accuracy"},
        "env": [{"HF_TOKEN": "abc"}, "WANDB_API_KEY=wandb0123456789abcdef"],
        "epochs_key": "train.num_epochs",
        "lr": 0.01,
        "enabled": True,
        "note": ("uses nvapi-Fk3jX9qLm2Zp8RtYv5Wd0NbC",),
    }
    out = redact_obj(payload)
    assert out["settings"] == {"llm_api_key": MASK, "api_key": MASK, "metric": "val_accuracy"}
    assert out["env"] == [{"HF_TOKEN": MASK}, "WANDB_API_KEY=***"]
    assert (out["epochs_key"], out["lr"], out["enabled"]) == ("train.num_epochs", 0.01, True)
    assert out["note"] == ("uses nvapi-***",)
    assert payload["settings"]["llm_api_key"] == "plain-words"  # the input is not modified
    assert is_secret_name("NGC_API_KEY") and is_secret_name("client_secret") and not is_secret_name("epochs_key")


# ---- the script ---------------------------------------------------------------------------------------


def run_script(*args: str, stdin: str | None = None, cwd: Path = PROJECT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], input=stdin, capture_output=True, text=True, cwd=cwd, timeout=60
    )


def test_script_redacts_files_and_stdin(tmp_path: Path) -> None:
    text = "\n".join(line for _, line, _ in PLANTED) + "\n"
    source = tmp_path / "leaky.log"
    source.write_text(text)
    for proc in (run_script("redact", str(source), cwd=tmp_path), run_script("redact", "-", stdin=text)):
        assert proc.returncode == 0
        assert proc.stdout.count("\n") == text.count("\n")
        for _, _, secret in PLANTED:
            assert secret not in proc.stdout


def test_script_lint_lists_file_and_line_with_values_masked(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    (workspace / "recs" / "0001").mkdir(parents=True)
    (workspace / "recs" / "0001" / "train.log").write_text(
        "epoch 1\nuploading with HF_TOKEN=hf_AbCdEfGhIjKlMnOpQrStUvWx\n"
    )
    (workspace / "result.json").write_text(json.dumps({"best": {"metric_value": 0.9}}))
    (workspace / "model.bin").write_bytes(b"\0\1nvapi-Fk3jX9qLm2Zp8RtYv5Wd0NbC")  # binary: skipped
    proc = run_script("lint", str(workspace), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines and all(line.startswith(f"{workspace / 'recs' / '0001' / 'train.log'}:2:") for line in lines)
    assert "hf_AbCdEf" not in proc.stdout and "HF_TOKEN=hf_***" in proc.stdout
    clean = run_script("lint", str(workspace / "result.json"), cwd=tmp_path)
    assert (clean.returncode, clean.stdout) == (0, "")
    assert run_script("lint", str(tmp_path / "missing.log")).returncode == 2


@pytest.mark.parametrize("blob", ["a." * 50000, "a-" * 50000, "a:" * 50000, "key=" * 25000, "x://" + "a" * 100000])
def test_redaction_is_linear_on_long_tokens(blob: str) -> None:
    start = time.monotonic()
    redact(blob)
    find_secrets(blob)
    assert time.monotonic() - start < 5.0  # quadratic backtracking took minutes on these
